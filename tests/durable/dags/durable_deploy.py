"""One deploy that publishes a version, for ``test_reattach.py``'s ``airflow tasks test``
scenario. The function comes from ``DURABLE_FUNCTION``, its code from ``DURABLE_CODE_DIR``."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator

with DAG(
    dag_id="durable_deploy",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):
    SCFDeployFunctionOperator(
        task_id="deploy",
        function_name=os.environ.get("DURABLE_FUNCTION", "unset"),
        code_dir=os.environ.get("DURABLE_CODE_DIR", "."),
        handler="index.main_handler",
        runtime="Python3.9",
        publish=True,
        poll_interval=0.2,
        wait_timeout=300,
    )
