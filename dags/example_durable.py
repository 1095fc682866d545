"""Example: durable tasks. A waited-for SCF ``Event`` invoke that a retry reattaches to, and a
COS-to-Snova load whose ``on_kill`` cancels its COPY on the server.

Connections: ``tencentcloud_default`` (add the ``endpoint`` extra to run against the bundled
emulator) and ``snova_default``. Params: ``function_name``, an existing function; ``bucket`` and
``prefix``, the CSV objects to load; ``table``, an existing table whose columns they hold.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_scf_snova.operators.scf import SCFInvokeFunctionOperator
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

with DAG(
    dag_id="example_durable",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "durable"],
    params={
        "function_name": Param("airflow-example-echo", type="string"),
        "bucket": Param("airflow-example", type="string"),
        "prefix": Param("incoming/", type="string"),
        "table": Param("public.events", type="string"),
    },
) as dag:
    # [START howto_durable_scf_invoke]
    invoke = SCFInvokeFunctionOperator(
        task_id="long_running_job",
        function_name="{{ params.function_name }}",
        payload={"run_id": "{{ run_id }}"},
        invocation_type="Event",
        wait_for_completion=True,
        durable=True,  # the default: a retry reattaches to the recorded invocation
        poll_interval=2,
        retries=3,
        retry_delay=timedelta(seconds=30),
        execution_timeout=timedelta(hours=2),  # on_kill terminates an async-execution event
    )
    # [END howto_durable_scf_invoke]

    # [START howto_durable_load_on_kill]
    load = COSToSnovaOperator(
        task_id="load_csv",
        bucket="{{ params.bucket }}",
        prefix="{{ params.prefix }}",
        suffix=".csv",
        table="{{ params.table }}",
        retries=2,
        execution_timeout=timedelta(minutes=30),  # on_kill cancels the COPY on the server
    )
    # [END howto_durable_load_on_kill]

    invoke >> load
