"""For teams that keep SCF's own triggers: deploy the seed's import function and bind them.

Deploys ``functions/cos_import`` (the seed's section-5 function, rewritten: it loads only the
objects named in each COS event, exactly once, through the same ledger as the Airflow operators;
the deploy copies the provider's pure core, ``scf_snova_core``, into its code package, with
psycopg2 and the COS SDK from its ``requirements.txt`` built for SCF's Python 3.9 on Linux
x86_64; the package is larger than one API request carries, so it travels through the bucket,
under ``scf-code/``) and binds two SCF triggers to it:

- a **COS trigger** on the bucket for ``cos:ObjectCreated:*`` with the seed's filter (prefix
  ``snova/``, suffix ``.log``): SCF invokes the function for every upload;
- a **timer trigger** (crontab ``0 2 * * *`` UTC, converted to SCF's 7-field cron at UTC+8): a
  nightly sweep that loads any ``snova/*.log`` object the ledger does not know yet (an upload no
  COS event delivered), so nothing is missed and nothing is loaded twice.

From then on SCF runs the imports; Airflow only keeps the deployment declarative (re-running
this DAG changes nothing unless the code or the settings changed).

The function logs into Snova as the least-privilege user (``snova_scf_visit``, created by
``cos_to_snova_import``) at ``snova_default``'s address, and reads COS with
``tencentcloud_default``'s key. All of them reach it as environment variables rendered at deploy
time: nothing secret is in this file, and the deploy masks them in the task log. (On Tencent Cloud
you may leave ``COS_SECRET_ID``/``COS_SECRET_KEY`` out and bind an execution role instead.)

Params: ``bucket`` (``name-appid``; default from ``SNOVA_IMPORT_BUCKET``), ``prefix``,
``suffix``, ``function_name``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param

from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator
from airflow_scf_snova.operators.scf_triggers import (
    SCFCreateCOSTriggerOperator,
    SCFCreateTimerTriggerOperator,
)

COS_IMPORT_CODE_DIR = str(Path(__file__).resolve().parents[1] / "functions" / "cos_import")
DEFAULT_BUCKET = os.environ.get("SNOVA_IMPORT_BUCKET", "snova-demo-1250000000")
FUNCTION = "{{ params.function_name }}"
BUCKET = "{{ params.bucket }}"
PREFIX = "{{ params.prefix }}"
SUFFIX = "{{ params.suffix }}"
SWEEP_CRON = "0 2 * * *"  # crontab in the DAG's zone (UTC); SCF (UTC+8) gets "0 0 10 * * * *"

with DAG(
    dag_id="scf_native_triggers",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed", "tencentcloud", "scf", "snova"],
    params={
        "bucket": Param(DEFAULT_BUCKET, type="string"),
        "prefix": Param("snova/", type="string"),
        "suffix": Param(".log", type="string"),
        "function_name": Param("snova-cos-import", type="string"),
    },
) as dag:
    deploy = SCFDeployFunctionOperator(
        task_id="deploy_import_function",
        function_name=FUNCTION,
        code_dir=COS_IMPORT_CODE_DIR,
        # The function imports the provider's pure core (the ledger protocol, names, events):
        # the deploy copies it from this environment into the code package.
        include_packages=("scf_snova_core",),
        # psycopg2 and the COS SDK, installed for SCF's platform (SCF provides neither).
        requirements_file="requirements.txt",
        code_bucket=BUCKET,  # staging for a package above SCF's inline limit
        handler="index.main_handler",
        runtime="Python3.9",
        memory_size=256,
        timeout=300,
        environment={
            "DB_HOST": "{{ conn.snova_default.host }}",
            "DB_PORT": "{{ conn.snova_default.port or 5432 }}",
            "DB_NAME": "{{ conn.snova_default.schema }}",
            "DB_USER": "{{ conn.snova_scf_visit.login }}",
            "DB_PASSWORD": "{{ conn.snova_scf_visit.password }}",
            "TARGET_TABLE": "t1",
            "KEY_PREFIX": PREFIX,
            "KEY_SUFFIX": SUFFIX,
            "COS_REGION": "{{ conn.tencentcloud_default.extra_dejson.region }}",
            "COS_SECRET_ID": "{{ conn.tencentcloud_default.login }}",
            "COS_SECRET_KEY": "{{ conn.tencentcloud_default.password }}",
            # Only set when the connection points at the bundled emulator.
            "COS_ENDPOINT": "{{ conn.tencentcloud_default.extra_dejson.get('endpoint', '') }}",
        },
        description="Seed section 5: COS snova/*.log into t1, exactly once",
        # SCF runs a failed COS or timer invocation again (same request id); the ledger makes
        # each retry load only what no earlier attempt committed. SCF's default, made explicit.
        async_retries=2,
    )

    cos_trigger = SCFCreateCOSTriggerOperator(
        task_id="create_cos_trigger",
        function_name=FUNCTION,
        bucket=BUCKET,
        events=("cos:ObjectCreated:*",),
        prefix=PREFIX,
        suffix=SUFFIX,
    )

    sweep_timer = SCFCreateTimerTriggerOperator(
        task_id="create_sweep_timer",
        function_name=FUNCTION,
        trigger_name="nightly-sweep",
        cron=SWEEP_CRON,
        custom_argument={"bucket": BUCKET, "prefix": PREFIX, "suffix": SUFFIX},
    )

    deploy >> [cos_trigger, sweep_timer]
