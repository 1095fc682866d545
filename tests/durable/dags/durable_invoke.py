"""One waited-for ``Event`` invoke for ``test_reattach.py``'s ``airflow tasks test`` scenario.

The function comes from ``DURABLE_FUNCTION``; the event from ``DURABLE_EVENT`` (JSON).
"""

from __future__ import annotations

import json
import os

import pendulum
from airflow.sdk import DAG

from airflow_scf_snova.operators.scf import SCFInvokeFunctionOperator

with DAG(
    dag_id="durable_invoke",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    SCFInvokeFunctionOperator(
        task_id="invoke",
        function_name=os.environ.get("DURABLE_FUNCTION", "unset"),
        payload=json.loads(os.environ.get("DURABLE_EVENT", "{}")),
        invocation_type="Event",
        poll_interval=0.2,
        wait_timeout=300,
        durable=os.environ.get("DURABLE", "1") == "1",
    )
