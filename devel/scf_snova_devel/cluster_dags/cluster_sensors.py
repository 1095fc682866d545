"""The cluster's deferred COS sensors (``make demo-cluster`` scenarios 2 and 4): one
``COSObjectSensor`` per key, mapped, each deferring to the triggerer until its object exists.

Conf: ``prefix`` and ``count`` (the keys are ``<prefix>NNNN.log``). The bucket is the one the
cluster gives every parsing process in ``SNOVA_IMPORT_BUCKET``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, task

from airflow_scf_snova.sensors.cos import COSObjectSensor

with DAG(
    dag_id="cluster_sensors",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=1000,  # a deferred sensor holds no worker slot; all of them may wait
    params={"prefix": "cluster-sensors/", "count": 10},
) as dag:

    @task
    def keys(params=None) -> list[str]:
        return [f"{params['prefix']}{n:04d}.log" for n in range(int(params["count"]))]

    COSObjectSensor.partial(
        task_id="wait",
        bucket=os.environ.get("SNOVA_IMPORT_BUCKET", "unset-1250000000"),
        deferrable=True,
        poke_interval=5,
        timeout=3600,
    ).expand(key=keys())
