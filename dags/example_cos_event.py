"""Example: an event-driven DAG that runs when CSV files land in COS.

``COSObjectEventTrigger`` polls the bucket in the triggerer and emits one asset event per new or
changed object (its payload: ``bucket``, ``key``, ``etag``, ``size``, ``last_modified``, ``url``,
``previous_etag``). It keeps its watermark in the asset's state store, so a
triggerer restart neither replays old files nor loses the ones that arrived meanwhile.

Connection: ``tencentcloud_default``. The bucket comes from the ``COS_EXAMPLE_BUCKET``
environment variable (assets are fixed when the DAG file is parsed).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

BUCKET = os.environ.get("COS_EXAMPLE_BUCKET", "examplebucket-1250000000")

# [START howto_trigger_cos_asset_watcher]
incoming_csv = Asset(
    f"cos://{BUCKET}/incoming/",
    watchers=[
        AssetWatcher(
            name="cos_incoming_csv",
            trigger=COSObjectEventTrigger(
                bucket=BUCKET,
                prefix="incoming/",
                suffix=".csv",
                poll_interval=30,
            ),
        )
    ],
)
# [END howto_trigger_cos_asset_watcher]

with DAG(
    dag_id="example_cos_event",
    schedule=[incoming_csv],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "tencentcloud", "cos", "event-driven"],
) as dag:
    # [START howto_trigger_cos_asset_events]
    @task
    def process_new_files(triggering_asset_events=None) -> list[str]:
        """Files that land faster than the scheduler creates runs share one run: handle every
        event, and use the ETag to stay idempotent (delivery is at-least-once)."""
        processed = []
        for event in triggering_asset_events[incoming_csv]:
            payload = event.extra["payload"]
            print(f"new object {payload['url']} etag={payload['etag']} size={payload['size']}")
            processed.append(payload["key"])
        return processed

    # [END howto_trigger_cos_asset_events]

    process_new_files()
