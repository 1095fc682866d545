"""Example: land CSV files in COS, wait for them like a COS trigger would, archive, clean up.

Connection: ``tencentcloud_default`` (SecretId/SecretKey, ``region``, ``appid``; add the
``endpoint`` extra to run against the bundled emulator).

Params: ``bucket`` (``name`` or ``name-appid``; created when missing) and ``folder``, under which
everything the example writes goes (the files land in its ``incoming/``, the copy in its
``archive/``) and which the clean-up empties.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_scf_snova.operators.cos import (
    COSCopyObjectOperator,
    COSCreateObjectOperator,
    COSDeleteObjectsOperator,
    COSListObjectsOperator,
)
from airflow_scf_snova.sensors.cos import COSObjectSensor, COSObjectsUnchangedSensor

BUCKET = "{{ params.bucket }}"
FOLDER = "{{ params.folder }}"
PREFIX = FOLDER + "incoming/"

with DAG(
    dag_id="example_cos",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "cos"],
    params={
        "bucket": Param("airflow-example", type="string"),
        "folder": Param("example-cos/", type="string", pattern=r"^[^/].*/$"),
    },
) as dag:

    @task
    def create_bucket(params=None) -> None:
        from airflow_scf_snova.hooks.cos import COSHook

        COSHook().create_bucket(params["bucket"])

    # [START howto_operator_cos_create_object]
    upload = COSCreateObjectOperator(
        task_id="upload_csv",
        bucket=BUCKET,
        key=PREFIX + "orders-{{ ds_nodash }}.csv",
        data="id,amount\n1,9.50\n2,12.00\n",
        content_type="text/csv",
    )
    # [END howto_operator_cos_create_object]

    upload_log = COSCreateObjectOperator(
        task_id="upload_log",
        bucket=BUCKET,
        key=PREFIX + "loader.log",
        data="not a csv: the sensor ignores it",
    )

    # [START howto_sensor_cos_object]
    wait_for_csv = COSObjectSensor(
        task_id="wait_for_csv",
        bucket=BUCKET,
        prefix=PREFIX,  # a COS trigger's Prefix ...
        suffix=".csv",  # ... and Suffix filter
        modified_after="{{ data_interval_start }}",
        deferrable=True,
        poke_interval=30,
        timeout=60 * 60,
    )
    # [END howto_sensor_cos_object]

    # [START howto_sensor_cos_objects_unchanged]
    wait_until_complete = COSObjectsUnchangedSensor(
        task_id="wait_until_upload_complete",
        bucket=BUCKET,
        prefix=PREFIX,
        inactivity_period=1,  # seconds without changes; minutes or hours in real pipelines
        min_objects=2,
        poke_interval=0.5,
        timeout=600,
    )
    # [END howto_sensor_cos_objects_unchanged]

    # [START howto_operator_cos_list_objects]
    list_csv = COSListObjectsOperator(
        task_id="list_csv",
        bucket=BUCKET,
        glob=PREFIX + "*.csv",  # '*' stays within one folder; '**' crosses folders
    )
    # [END howto_operator_cos_list_objects]

    # [START howto_operator_cos_copy_object]
    archive = COSCopyObjectOperator(
        task_id="archive_first_csv",
        source_bucket=BUCKET,
        source_key="{{ ti.xcom_pull(task_ids='wait_for_csv')[0]['key'] }}",
        dest_key=FOLDER + "archive/{{ ds_nodash }}.csv",
    )
    # [END howto_operator_cos_copy_object]

    # [START howto_sensor_cos_events]
    @task
    def summarise(ti=None) -> dict:
        """The sensor's ``cos_events`` XCom holds one COS-trigger event per object: exactly what
        an SCF function behind a COS trigger receives, so it can be passed on unchanged."""
        events = ti.xcom_pull(task_ids="wait_for_csv", key="cos_events")
        records = [record for event in events for record in event["Records"]]
        return {
            "objects": [r["cos"]["cosObject"]["key"] for r in records],
            "bytes": sum(r["cos"]["cosObject"]["size"] for r in records),
        }

    # [END howto_sensor_cos_events]

    # [START howto_operator_cos_delete_objects]
    cleanup = COSDeleteObjectsOperator(
        task_id="cleanup",
        bucket=BUCKET,
        prefix=FOLDER,
        trigger_rule="all_done",
    )
    # [END howto_operator_cos_delete_objects]

    bucket_ready = create_bucket()
    bucket_ready >> [upload, upload_log]
    upload >> wait_for_csv
    [wait_for_csv, upload_log] >> wait_until_complete >> list_csv >> archive
    summary = summarise()
    wait_for_csv >> summary
    [archive, summary] >> cleanup
