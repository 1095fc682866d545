"""Example: the OpenLineage the provider's operators report, in one pipeline.

A CSV lands in COS, is archived by a copy, replaces the contents of a Snova table (one malformed
row rejected), a query on the table is exported back to COS, an SCF function (the repository's
echo example, deployed for the run) is told about it, and the folder and the function are
deleted. With ``apache-airflow-providers-openlineage`` installed and a
transport configured (``[openlineage] transport``), each task's events name what it read and
wrote: ``cos://{bucket}`` objects, the ``postgres://{host}:{port}`` table with its schema and
column lineage, the rows loaded and rejected, and the SCF function and its request id
(``docs/lineage.md``).

Connections: ``tencentcloud_default`` and ``snova_default``. Params: ``bucket`` (an existing
bucket, ``name`` or ``name-appid``), ``folder`` (a key prefix ending with ``/``), ``table`` and
``function`` (the name the echo function is deployed under).
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param

from airflow_scf_snova.operators.cos import (
    COSCopyObjectOperator,
    COSCreateObjectOperator,
    COSDeleteObjectsOperator,
)
from airflow_scf_snova.operators.scf import (
    SCFDeleteFunctionOperator,
    SCFDeployFunctionOperator,
    SCFInvokeFunctionOperator,
)
from airflow_scf_snova.operators.snova import SnovaSQLOperator
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator
from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

ECHO_CODE_DIR = str(Path(__file__).resolve().parents[1] / "functions" / "examples" / "echo")
BUCKET = "{{ params.bucket }}"
FOLDER = "{{ params.folder }}"
FUNCTION = "{{ params.function }}"

with DAG(
    dag_id="example_lineage",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "openlineage"],
    params={
        "bucket": Param("airflow-example", type="string"),
        "folder": Param("example-lineage/", type="string"),
        "table": Param("lineage_orders", type="string"),
        "function": Param("airflow-example-lineage", type="string"),
    },
) as dag:
    land = COSCreateObjectOperator(
        task_id="land_orders",
        bucket=BUCKET,
        key=FOLDER + "incoming/orders.csv",
        data="order_id,customer,amount\n1,Ann,9.50\n2,Bo,not-a-number\n3,Cy,0.99\n",
        content_type="text/csv",
    )
    archive = COSCopyObjectOperator(
        task_id="archive_orders",
        source_bucket=BUCKET,
        source_key=FOLDER + "incoming/orders.csv",
        dest_key=FOLDER + "archive/orders.csv",
    )
    create_table = SnovaSQLOperator(
        task_id="create_table",
        sql="CREATE TABLE IF NOT EXISTS {{ params.table }} "
        "(order_id bigint, customer text, amount numeric(12, 2))",
    )

    # [START howto_lineage_cos_to_snova]
    load = COSToSnovaOperator(
        task_id="load_orders",
        table="{{ params.table }}",
        bucket=BUCKET,
        prefix=FOLDER + "incoming/",  # the input dataset: cos://{bucket} / {folder}incoming
        suffix=".csv",
        header=True,
        mode="replace",  # the table's lifecycle: OVERWRITE
        reject_limit=10,  # rejected rows: the tencentCloudSnovaLoad run facet
    )
    # [END howto_lineage_cos_to_snova]

    # [START howto_lineage_snova_to_cos]
    export = SnovaToCOSOperator(
        task_id="export_totals",
        sql="SELECT customer, amount FROM {{ params.table }} WHERE amount > 1",
        bucket=BUCKET,
        key=FOLDER + "exports/totals.csv",
    )
    # [END howto_lineage_snova_to_cos]

    deploy = SCFDeployFunctionOperator(
        task_id="deploy_function",
        function_name=FUNCTION,
        code_dir=ECHO_CODE_DIR,
        handler="index.main_handler",
        runtime="Python3.9",
        timeout=10,
    )

    # [START howto_lineage_scf_invoke]
    notify = SCFInvokeFunctionOperator(
        task_id="notify",
        function_name=FUNCTION,  # the tencentCloudScfFunction job facet
        payload={"exported": FOLDER + "exports/totals.csv"},
    )  # its FunctionRequestId: the externalQuery run facet
    # [END howto_lineage_scf_invoke]

    cleanup = COSDeleteObjectsOperator(task_id="cleanup", bucket=BUCKET, prefix=FOLDER)
    delete_function = SCFDeleteFunctionOperator(task_id="delete_function", function_name=FUNCTION)

    land >> archive >> load >> export >> notify >> [cleanup, delete_function]
    create_table >> load
    deploy >> notify
