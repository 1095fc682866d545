"""Tasks that handle the canary secrets of ``test_secrets.py``, run by Airflow's supervisor so that
their log files are exactly what a worker writes and a user reads.

``canary`` and ``canary_failure`` put the secrets into the log on purpose (print, logging, an
exception), to show the log file masks them; the provider's tasks pass them around the way real
DAGs do (a function environment rendered from connections, a token-bearing COS client, a database
login) and must not emit them at all. Not an example: it lives outside ``dags/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_scf_snova.operators.cos import COSCreateObjectOperator
from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator, SCFInvokeFunctionOperator
from airflow_scf_snova.operators.snova import SnovaSQLOperator
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

ECHO_CODE_DIR = str(Path(__file__).resolve().parents[3] / "functions" / "examples" / "echo")

with DAG(
    dag_id="secrets_canary",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params={"function_name": Param("canary-echo", type="string"), "bucket": Param("x")},
) as dag:

    @task
    def canary() -> str:
        from airflow.sdk import BaseHook

        from airflow_scf_snova.hooks.cos import COSHook

        # a provider hook reads the connection (and registers its secrets with the masker)
        assert COSHook().conn_config.credentials.token
        tencentcloud = BaseHook.get_connection("tencentcloud_default")
        snova = BaseHook.get_connection("snova_default")
        values = (tencentcloud.password, tencentcloud.extra_dejson["token"], snova.password)
        logging.getLogger("airflow.task").info("canary via logging: %s %s %s", *values)
        print("canary via print:", *values)
        return "the canary logged the secrets on purpose"

    @task
    def canary_failure() -> None:
        from airflow.sdk import BaseHook

        password = BaseHook.get_connection("snova_default").password
        raise ValueError(f"canary exception carrying {password}")

    put = COSCreateObjectOperator(
        task_id="put_object",
        bucket="{{ params.bucket }}",
        key="canary/in.csv",
        data="1,one\n2,two\n",
    )
    create = SnovaSQLOperator(task_id="create_table", sql="CREATE TABLE canary_t (a int, b text)")
    load = COSToSnovaOperator(
        task_id="load", table="canary_t", bucket="{{ params.bucket }}", keys=["canary/in.csv"]
    )
    deploy = SCFDeployFunctionOperator(
        task_id="deploy",
        function_name="{{ params.function_name }}",
        code_dir=ECHO_CODE_DIR,
        handler="index.main_handler",
        runtime="Python3.9",
        environment={
            "DB_PASSWORD": "{{ conn.snova_default.password }}",
            "COS_SECRET_KEY": "{{ conn.tencentcloud_default.password }}",
        },
        deferrable=False,
        poll_interval=0.05,
    )
    invoke = SCFInvokeFunctionOperator(
        task_id="invoke", function_name="{{ params.function_name }}", payload={"n": 1}
    )
    canary() >> canary_failure()
    put >> create >> load
    deploy >> invoke
