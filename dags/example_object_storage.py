"""Example: COS as Airflow object storage (``cos://`` paths).

Writes a CSV through ``ObjectStoragePath``, archives it with common-io's
``FileTransferOperator`` (a server-side copy), summarises the archive with a glob, and cleans up.
With Airflow's object-storage XCom backend pointed at COS
(``xcom_objectstorage_path = cos://tencentcloud_default@<bucket>/xcom``), the summary travels
between the tasks as a COS object.

Connection: ``tencentcloud_default`` (SecretId/SecretKey, ``region``, ``appid``; add the
``endpoint`` extra to run against the bundled emulator).

Params: ``bucket`` (``name`` or ``name-appid``; created when missing) and ``folder``, under which
everything the example writes goes and which the clean-up empties.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.io.operators.file_transfer import FileTransferOperator
from airflow.sdk import DAG, ObjectStoragePath, Param, task

with DAG(
    dag_id="example_object_storage",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "cos"],
    params={
        "bucket": Param("airflow-example", type="string"),
        "folder": Param("example-object-storage/", type="string", pattern=r"^[^/].*/$"),
    },
) as dag:
    # [START howto_object_storage_path]
    @task
    def write_orders(params=None) -> str:
        bucket = ObjectStoragePath(f"cos://{params['bucket']}/", conn_id="tencentcloud_default")
        bucket.mkdir(exist_ok=True)  # creates the bucket when missing
        base = bucket / params["folder"]
        orders = base / "incoming" / "orders.csv"
        with orders.open("w") as out:
            out.write("id,amount\n1,9.50\n2,12.00\n3,0.25\n")
        return orders.key

    # [END howto_object_storage_path]

    # [START howto_object_storage_file_transfer]
    archive = FileTransferOperator(
        task_id="archive_orders",
        src="cos://{{ params.bucket }}/{{ params.folder }}incoming/orders.csv",
        dst="cos://{{ params.bucket }}/{{ params.folder }}archive/orders-{{ ds_nodash }}.csv",
        source_conn_id="tencentcloud_default",
        dest_conn_id="tencentcloud_default",
    )
    # [END howto_object_storage_file_transfer]

    # [START howto_object_storage_glob]
    @task
    def summarise(params=None) -> dict:
        archive = ObjectStoragePath(
            f"cos://{params['bucket']}/{params['folder']}archive/",
            conn_id="tencentcloud_default",
        )
        files = sorted(archive.glob("*.csv"))
        amounts = [
            float(line.split(",")[1])
            for path in files
            for line in path.read_text().splitlines()[1:]
        ]
        return {"files": [path.name for path in files], "rows": len(amounts), "total": sum(amounts)}

    # [END howto_object_storage_glob]

    @task
    def report(summary: dict) -> str:
        return (
            f"{summary['rows']} orders in {len(summary['files'])} file(s): {summary['total']:.2f}"
        )

    @task
    def cleanup(params=None) -> int:
        base = ObjectStoragePath(
            f"cos://{params['bucket']}/{params['folder']}", conn_id="tencentcloud_default"
        )
        found = [path for path in base.rglob("*") if path.is_file()]
        for path in found:
            path.unlink()
        return len(found)

    written = write_orders()
    summary = summarise()
    written >> archive >> summary
    report(summary) >> cleanup()
