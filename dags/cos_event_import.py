"""The seed's COS import, event-driven: one DAG run per new ``.log`` file under ``snova/``.

An ``AssetWatcher`` runs ``COSObjectEventTrigger`` in the triggerer. It lists ``snova/*.log``
(the seed's COS trigger filter) every ``poll_interval`` seconds and emits one asset event per new
or changed object; each event schedules this DAG. The run loads exactly the objects of its
triggering events (several, when files land faster than the scheduler creates runs) into ``t1``
with ``COSToSnovaOperator``, which shares its ledger with ``cos_to_snova_import`` and the SCF
import function: an object version loaded by any of them is skipped by the others, and an event
delivered twice (delivery is at-least-once) loads nothing twice.

Needs ``t1`` and the ledger: run ``cos_to_snova_import`` once first (its ``create_t1`` and
``create_scf_visit``).

Connections: ``snova_default`` and ``tencentcloud_default``. The bucket comes from the
``SNOVA_IMPORT_BUCKET`` environment variable and the prefix from ``SNOVA_IMPORT_PREFIX``
(``snova/`` when unset): assets are fixed when the DAG file is parsed.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator
from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

BUCKET = os.environ.get("SNOVA_IMPORT_BUCKET", "snova-demo-1250000000")
PREFIX = os.environ.get("SNOVA_IMPORT_PREFIX", "snova/")
SUFFIX = ".log"

snova_logs = Asset(
    f"cos://{BUCKET}/{PREFIX}",
    watchers=[
        AssetWatcher(
            name="snova_log_files",
            trigger=COSObjectEventTrigger(
                bucket=BUCKET, prefix=PREFIX, suffix=SUFFIX, poll_interval=60
            ),
        )
    ],
)

with DAG(
    dag_id="cos_event_import",
    schedule=[snova_logs],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed", "tencentcloud", "cos", "snova", "event-driven"],
) as dag:

    @task
    def new_objects(triggering_asset_events=None) -> list[dict]:
        """The objects named by this run's asset events (bucket, key and the ETag announced)."""
        objects = []
        for event in triggering_asset_events[snova_logs]:
            payload = event.extra["payload"]
            print(f"new object {payload['url']} etag={payload['etag']} size={payload['size']}")
            objects.append({k: payload[k] for k in ("bucket", "key", "etag")})
        return objects

    COSToSnovaOperator(
        task_id="load_new_objects",
        table="t1",
        keys=new_objects(),  # exactly these objects, each version once (ledger)
        format="csv",
        header=False,
        mode="append",
        method="auto",
    )
