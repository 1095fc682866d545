"""Example: load CSV files from COS into Snova exactly once, then export a query back to COS.

This is the seed article's "COS upload -> external table -> INSERT" pipeline, without its flaws:
each object version is loaded once (a retry or a second run skips it instead of importing the
whole prefix again), a bad row fails the task naming the file and line with nothing of that file
committed, and the SecretKey never appears in SQL text that is logged.

Connections: ``snova_default`` (type ``snova``: host, port, login, password, database) and
``tencentcloud_default`` (SecretId/SecretKey, ``region``, ``appid``; add the ``endpoint`` extra
to run against the bundled emulator).

Params: ``bucket`` (``name`` or ``name-appid``; created when missing), ``prefix`` (where the CSV
files land) and ``export_key`` (where the export goes).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_scf_snova.operators.cos import COSCreateObjectOperator
from airflow_scf_snova.operators.snova import SnovaSQLOperator
from airflow_scf_snova.sensors.cos import COSObjectSensor
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator
from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

BUCKET = "{{ params.bucket }}"
PREFIX = "{{ params.prefix }}"

with DAG(
    dag_id="example_snova",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "snova"],
    params={
        "bucket": Param("airflow-example", type="string"),
        "prefix": Param("example-snova/incoming/", type="string"),
        "export_key": Param("example-snova/exports/orders.csv.gz", type="string"),
    },
) as dag:

    @task
    def create_bucket(params=None) -> None:
        from airflow_scf_snova.hooks.cos import COSHook

        COSHook().create_bucket(params["bucket"])

    land = COSCreateObjectOperator(
        task_id="land_orders",
        bucket=BUCKET,
        key=PREFIX + "orders.csv",
        data='order_id,customer,amount\n1,张三,9.50\n2,"Lee, Ann",12.00\n3,,0.99\n',
        content_type="text/csv",
    )

    # [START howto_operator_snova_sql]
    create_table = SnovaSQLOperator(
        task_id="create_table",
        sql="""
            CREATE TABLE IF NOT EXISTS example_orders (
                order_id bigint,
                customer text,
                amount numeric(12, 2)
            )
        """,
    )
    # [END howto_operator_snova_sql]

    wait_for_orders = COSObjectSensor(
        task_id="wait_for_orders",
        bucket=BUCKET,
        prefix=PREFIX,
        suffix=".csv",
        poke_interval=5,
        timeout=60 * 60,
    )

    # [START howto_transfer_cos_to_snova]
    load = COSToSnovaOperator(
        task_id="load_orders",
        table="example_orders",
        keys=wait_for_orders.output,  # the sensor's objects: bucket, key, etag, size
        header=True,
        mode="append",  # each object version once; "replace" or "upsert" also available
        method="auto",  # cos_ext external tables on Snova, streamed COPY elsewhere
    )
    # [END howto_transfer_cos_to_snova]

    # [START howto_transfer_snova_to_cos]
    export = SnovaToCOSOperator(
        task_id="export_orders",
        sql="SELECT order_id, customer, amount FROM example_orders ORDER BY order_id",
        bucket=BUCKET,
        key="{{ params.export_key }}",
        compression="gzip",
    )
    # [END howto_transfer_snova_to_cos]

    count = SnovaSQLOperator(task_id="count_orders", sql="SELECT count(*) FROM example_orders")

    create_bucket() >> land >> wait_for_orders
    [wait_for_orders, create_table] >> load >> export >> count
