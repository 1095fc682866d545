"""Example: durable tasks. A deploy and a waited-for SCF ``Event`` invoke that a retry
reattaches to, and a COS-to-Snova load whose ``on_kill`` cancels its COPY on the server.

Connections: ``tencentcloud_default`` (add the ``endpoint`` extra to run against the bundled
emulator) and ``snova_default``. Params: ``function_name``, the function deployed from this
repository's echo example (and deleted at the end); ``bucket`` and ``prefix``, the CSV objects
to load (none: nothing is loaded); ``table``, an existing table whose columns they hold.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param

from airflow_scf_snova.operators.scf import (
    SCFDeleteFunctionOperator,
    SCFDeployFunctionOperator,
    SCFInvokeFunctionOperator,
)
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

#: The function's code, next to this repository's ``dags`` folder.
ECHO_CODE_DIR = str(Path(__file__).resolve().parents[1] / "functions" / "examples" / "echo")

with DAG(
    dag_id="example_durable",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "durable"],
    params={
        "function_name": Param("airflow-example-durable", type="string"),
        "bucket": Param("airflow-example", type="string"),
        "prefix": Param("incoming/", type="string"),
        "table": Param("public.events", type="string"),
    },
) as dag:
    # [START howto_durable_scf_deploy]
    deploy = SCFDeployFunctionOperator(
        task_id="deploy_function",
        function_name="{{ params.function_name }}",
        code_dir=ECHO_CODE_DIR,
        handler="index.main_handler",
        runtime="Python3.9",
        publish=True,  # a retry publishes the version an earlier try did not get to
        retries=2,
    )
    # [END howto_durable_scf_deploy]

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

    delete = SCFDeleteFunctionOperator(
        task_id="delete_function",
        function_name="{{ params.function_name }}",
        trigger_rule="all_done",
    )

    deploy >> invoke >> load >> delete
