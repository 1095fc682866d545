"""The COS-to-asset bridge end to end: a real ``airflow standalone`` (simple auth manager, users
``admin`` and ``scf_bridge`` with role ``op``), the emulator running the function on CPython 3.9,
the bridge deployed by ``SCFDeployCOSAssetBridgeOperator`` (a run of ``cos_push_bridge_deploy``
in the standalone), and ``cos_push_import`` loading what the events name into PostgreSQL.

Checked: three uploads give three asset events posted through the REST API and runs that loaded
exactly those keys; the emulator counts no LIST request meanwhile (push, not poll); an attempt
that fails after posting is retried by SCF and adds no event. The upload -> ``queued_at``
latencies are printed (``-s``); ``bench/push_latency.py`` measures them properly.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from scf_snova_devel.scf_api import call, wait_status

pytestmark = [pytest.mark.slow, pytest.mark.emulator_only("runs the bridge on the emulator")]

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "airflow-cos-asset-bridge"
PREFIX = "snova-push/"
DAGS = ("cos_push_bridge_deploy", "cos_push_import")
#: The function's test hook (``index.FAIL_AFTER_POST``): fail after posting.
FAIL_AFTER_POST = "AIRFLOW_BRIDGE_TEST_FAIL_AFTER_POST"


@pytest.fixture
def stack(emulator, bucket, new_database, tmp_path):
    """The standalone with only ``dags/cos_push_import.py``, its metadata and ``t1`` on fresh
    PostgreSQL databases."""
    import psycopg2
    from system.push_stack import push_stack

    meta_name, meta_dsn = new_database("airflow_meta")
    data_name, data_dsn = new_database("push")
    conn = psycopg2.connect(data_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t1 (a1 int)")
    conn.close()
    env = {
        "AIRFLOW_CONN_TENCENTCLOUD_DEFAULT": os.environ["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"],
        "AIRFLOW_CONN_SNOVA_DEFAULT": data_dsn.replace("postgresql://", "snova://", 1),
        "SNOVA_IMPORT_BUCKET": bucket,
        "SNOVA_PUSH_PREFIX": PREFIX,
    }
    try:
        with push_stack(
            tmp_path,
            meta_dsn.replace("postgresql://", "postgresql+psycopg2://", 1),
            [ROOT / "dags" / "cos_push_import.py"],
            env,
            DAGS,
        ) as (airflow, passwords):
            yield airflow, data_dsn, passwords
    finally:
        new_database.drop(data_name)
        new_database.drop(meta_name)


def _loaded(data_dsn: str) -> tuple[list[str], int]:
    import psycopg2

    conn = psycopg2.connect(data_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT key FROM airflow_scf_snova_load_ledger ORDER BY key")
            keys = [k for (k,) in cur.fetchall()]
            cur.execute("SELECT count(*) FROM t1")
            return keys, cur.fetchone()[0]
    finally:
        conn.close()


def test_uploads_reach_dags_through_the_bridge_without_listing(
    stack, emulator, bucket, cos_client, scf_client
):
    from system.push_stack import (
        asset_events,
        asset_id,
        epoch,
        polled,
        run_to_completion,
        runs,
        unpause,
    )
    from system.push_stack import wait as wait_for

    airflow, data_dsn, passwords = stack
    token = airflow.api_token()
    deploy = run_to_completion(airflow, token, "cos_push_bridge_deploy")
    assert deploy["state"] == "success", airflow.log_tail()
    unpause(airflow, token, "cos_push_import")
    from airflow.sdk import Asset

    asset = asset_id(airflow, token, Asset(f"cos://{bucket}/{PREFIX}").uri)
    function = call(scf_client, "GetFunction", {"FunctionName": FUNCTION})
    variables = {v["Key"]: v["Value"] for v in function["Environment"]["Variables"]}
    assert variables["AIRFLOW_API_PASSWORD"] == passwords["scf_bridge"]
    assert passwords["scf_bridge"] not in airflow.log_path.read_text(errors="replace")

    emulator.control.reset_stats()
    keys, latencies = [], []
    for n in range(3):
        key = f"{PREFIX}2024-06-04/push-{n}.log"
        before = len(runs(airflow, token, "cos_push_import"))
        uploaded = time.time()
        cos_client.put_object(Bucket=bucket, Key=key, Body=f"{n}\n{n + 10}\n".encode())
        queued = wait_for(
            polled(
                lambda b=before: (lambda rs: rs if len(rs) > b else None)(
                    runs(airflow, token, "cos_push_import")
                )
            ),
            60,
            f"a run for {key}",
        )
        newest = max(queued, key=lambda r: r["queued_at"] or "")
        latencies.append(epoch(newest["queued_at"]) - uploaded)
        keys.append(key)
    done = wait_for(
        polled(
            lambda: (
                lambda rs: rs if all(r["state"] in ("success", "failed") for r in rs) else None
            )(runs(airflow, token, "cos_push_import"))
        ),
        180,
        "the import runs",
        interval=1,
    )
    print(f"upload -> queued_at: {', '.join(f'{s:.2f} s' for s in latencies)}")
    assert emulator.control.stats().get("cos", {}).get("LIST", 0) == 0

    events = asset_events(airflow, token, asset)
    assert sorted(e["extra"]["payload"]["key"] for e in events) == keys
    assert all(e["extra"]["from_rest_api"] for e in events)
    assert {e["extra"]["source"] for e in events} == {"scf-cos-asset-bridge"}
    assert {r["state"] for r in done} == {"success"}
    assert _loaded(data_dsn) == (keys, 6)

    # An attempt that fails after its POST: SCF retries it, and the retry finds the event.
    variables[FAIL_AFTER_POST] = "1"
    call(
        scf_client,
        "UpdateFunctionConfiguration",
        {
            "FunctionName": FUNCTION,
            "Environment": {"Variables": [{"Key": k, "Value": v} for k, v in variables.items()]},
        },
    )
    wait_status(scf_client, FUNCTION)
    finished = len(emulator.control.invocations(FUNCTION))
    key = f"{PREFIX}2024-06-04/push-retried.log"
    cos_client.put_object(Bucket=bucket, Key=key, Body=b"7\n")
    attempts = emulator.control.wait_for_invocations(finished + 2, FUNCTION, timeout=60)
    first, retry = attempts[finished], attempts[finished + 1]
    said = " ".join(str(first[k] or "") for k in ("err_msg", "ret_msg", "log"))
    assert first["status"] == "failed" and FAIL_AFTER_POST in said, first
    assert (retry["retry_num"], retry["status"]) == (1, "success"), retry
    assert json.loads(retry["ret_msg"])["duplicates"] == 1
    events = asset_events(airflow, token, asset)
    assert sorted(e["extra"]["payload"]["key"] for e in events) == sorted([*keys, key])
