"""The seed's COS import, pushed: SCF announces each new ``.log`` file under ``snova-push/`` as
an asset event, and this DAG runs about a second after the upload without listing the bucket.

Two DAGs:

- ``cos_push_bridge_deploy`` (manual) deploys the provider's COS-to-asset bridge, an SCF function
  bound to the bucket's COS trigger for ``snova-push/*.log``, which posts each new object to
  Airflow's REST API as an event of the asset ``cos://<bucket>/snova-push/``. It authenticates
  as the ``airflow_api`` connection's user (``host``: the api-server's URL, ``login`` and
  ``password``: a user allowed to create asset events).
- ``cos_push_import`` is scheduled on that asset and loads exactly the objects of its triggering
  events into ``t1``, as ``cos_event_import`` does (the payload has the same keys). The asset has
  **no watcher**: the function is its only source of events.

Connections: ``snova_default``, ``tencentcloud_default`` and ``airflow_api``. The bucket comes from
``SNOVA_IMPORT_BUCKET`` and the prefix from ``SNOVA_PUSH_PREFIX`` (``snova-push/`` when unset).
Needs ``t1`` and the ledger: run ``cos_to_snova_import`` once first.

.. seealso:: ``docs/push.md``
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_scf_snova.operators.scf_bridge import SCFDeployCOSAssetBridgeOperator
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

BUCKET = os.environ.get("SNOVA_IMPORT_BUCKET", "snova-demo-1250000000")
PREFIX = os.environ.get("SNOVA_PUSH_PREFIX", "snova-push/")
SUFFIX = ".log"

pushed_logs = Asset(f"cos://{BUCKET}/{PREFIX}")

with DAG(
    dag_id="cos_push_bridge_deploy",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed", "tencentcloud", "scf", "cos", "push"],
) as bridge_dag:
    # [START howto_operator_scf_cos_asset_bridge]
    SCFDeployCOSAssetBridgeOperator(
        task_id="deploy_bridge",
        bucket=BUCKET,
        prefix=PREFIX,
        suffix=SUFFIX,
        asset_uri=pushed_logs.uri,
        airflow_conn_id="airflow_api",
        function_name="airflow-cos-asset-bridge",
        async_retries=2,
    )
    # [END howto_operator_scf_cos_asset_bridge]

with DAG(
    dag_id="cos_push_import",
    schedule=[pushed_logs],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed", "tencentcloud", "cos", "snova", "event-driven", "push"],
) as dag:

    @task
    def pushed_objects(triggering_asset_events=None) -> list[dict]:
        """The objects named by this run's asset events (bucket, key and the ETag announced)."""
        objects = []
        for event in triggering_asset_events[pushed_logs]:
            payload = event.extra["payload"]
            print(f"new object {payload['url']} etag={payload['etag']} size={payload['size']}")
            objects.append({k: payload[k] for k in ("bucket", "key", "etag")})
        return objects

    COSToSnovaOperator(
        task_id="load_pushed_objects",
        table="t1",
        keys=pushed_objects(),  # exactly these objects, each version once (ledger)
        format="csv",
        header=False,
        mode="append",
        method="auto",
    )
