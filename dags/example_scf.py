"""Example: deploy an SCF function from this repository, invoke it, wire triggers, clean up.

Connections: ``tencentcloud_default`` (SecretId/SecretKey, ``region``, ``appid``; add the
``endpoint`` extra to run against the bundled emulator) and ``snova_default``, whose password the
function receives as ``DB_PASSWORD`` (masked in every log).

Params: ``function_name``; ``bucket``, an existing COS bucket in the function's region for the
COS trigger, and ``prefix``, the folder whose ``.csv`` uploads fire it; ``cleanup``: set it to
false to keep the function and its triggers.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_scf_snova.operators.scf import (
    SCFDeleteFunctionOperator,
    SCFDeployFunctionOperator,
    SCFInvokeFunctionOperator,
)
from airflow_scf_snova.operators.scf_triggers import (
    SCFCreateCOSTriggerOperator,
    SCFCreateTimerTriggerOperator,
    SCFDeleteTriggerOperator,
)
from airflow_scf_snova.sensors.scf import SCFFunctionStateSensor

#: The function's code, next to this repository's ``dags`` folder.
ECHO_CODE_DIR = str(Path(__file__).resolve().parents[1] / "functions" / "examples" / "echo")
FUNCTION = "{{ params.function_name }}"

with DAG(
    dag_id="example_scf",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "scf"],
    params={
        "function_name": Param("airflow-example-echo", type="string"),
        "bucket": Param("airflow-example", type="string"),
        "prefix": Param("incoming/", type="string"),
        "cleanup": Param(True, type="boolean"),
    },
) as dag:
    # [START howto_operator_scf_deploy]
    deploy = SCFDeployFunctionOperator(
        task_id="deploy_function",
        function_name=FUNCTION,
        code_dir=ECHO_CODE_DIR,
        handler="index.main_handler",
        runtime="Python3.9",
        memory_size=128,
        timeout=10,
        environment={
            "GREETING": "hello from Airflow",
            "DB_PASSWORD": "{{ conn.snova_default.password }}",
        },
        description="Deployed by example_scf",
        publish=True,
    )
    # [END howto_operator_scf_deploy]

    # [START howto_sensor_scf_function_state]
    wait_active = SCFFunctionStateSensor(
        task_id="wait_until_active",
        function_name=FUNCTION,
        target_states=("Active",),
        poke_interval=2,
        timeout=600,
    )
    # [END howto_sensor_scf_function_state]

    # [START howto_operator_scf_invoke]
    invoke = SCFInvokeFunctionOperator(
        task_id="invoke_function",
        function_name=FUNCTION,
        payload={"run_id": "{{ run_id }}", "rows": [1, 2, 3]},
    )
    # [END howto_operator_scf_invoke]

    # [START howto_operator_scf_invoke_async]
    invoke_async = SCFInvokeFunctionOperator(
        task_id="invoke_function_async",
        function_name=FUNCTION,
        payload={"run_id": "{{ run_id }}", "mode": "async"},
        invocation_type="Event",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=2,
    )
    # [END howto_operator_scf_invoke_async]

    # [START howto_operator_scf_timer_trigger]
    timer_trigger = SCFCreateTimerTriggerOperator(
        task_id="create_timer_trigger",
        function_name=FUNCTION,
        trigger_name="nightly",
        cron="30 1 * * *",  # 01:30 every day in the DAG's zone (UTC): SCF gets 0 30 9 * * * *
        custom_argument={"source": "nightly timer"},
    )
    # [END howto_operator_scf_timer_trigger]

    # [START howto_operator_scf_cos_trigger]
    cos_trigger = SCFCreateCOSTriggerOperator(
        task_id="create_cos_trigger",
        function_name=FUNCTION,
        bucket="{{ params.bucket }}",
        events=("cos:ObjectCreated:*",),
        prefix="{{ params.prefix }}",
        suffix=".csv",
    )
    # [END howto_operator_scf_cos_trigger]

    @task.short_circuit
    def cleanup_requested(params=None) -> bool:
        return bool(params["cleanup"])

    # [START howto_operator_scf_delete_trigger]
    delete_timer_trigger = SCFDeleteTriggerOperator(
        task_id="delete_timer_trigger",
        function_name=FUNCTION,
        trigger_name="nightly",
        trigger_type="timer",
    )
    delete_cos_trigger = SCFDeleteTriggerOperator(
        task_id="delete_cos_trigger",
        function_name=FUNCTION,
        trigger_type="cos",
        bucket="{{ params.bucket }}",
    )
    # [END howto_operator_scf_delete_trigger]

    # [START howto_operator_scf_delete_function]
    delete_function = SCFDeleteFunctionOperator(
        task_id="delete_function",
        function_name=FUNCTION,
    )
    # [END howto_operator_scf_delete_function]

    cleanup = cleanup_requested()
    deploy >> wait_active >> [invoke, invoke_async] >> timer_trigger >> cos_trigger >> cleanup
    cleanup >> [delete_timer_trigger, delete_cos_trigger] >> delete_function
