"""Exactly-once under SCF's retries: the COS import function (``functions/cos_import``, deployed
as ``dags/scf_native_triggers.py`` deploys it) fails once before its commit and once after it;
SCF's retries run it again, and every row ends up in the table exactly once.

The failures come from a test-only wrapper handler added to a copy of the function's code
directory (``scf_snova_devel.faults``); nothing in ``functions/`` knows about it. It fails the
first attempt of an event inside the first object's transaction, after its rows and ledger row
were written (the loader rolls them back), and the second attempt right after the first object's
load committed; the third attempt runs normally. Everything else is real: the target (the
emulator, or SCF under ``make test-cloud``) runs the function on its COS and timer triggers and
retries it as SCF does (same request id, RetryNum counted), the function loads through the COS
API into a real PostgreSQL (or Snova). The attempts are read as any client reads them: CLS and
GetRequestStatus. On the cloud the timer's event is sent by an async invoke (a timer cannot be
fired by hand there), which SCF retries like the timer's own run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import psycopg2
import pytest
from scf_snova_devel.cleanup import delete_function
from scf_snova_devel.faults import HANDLER, code_dir_with_faults
from scf_snova_devel.postgres import query

from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator
from airflow_scf_snova.operators.scf_triggers import (
    SCFCreateCOSTriggerOperator,
    SCFCreateTimerTriggerOperator,
)

ROOT = Path(__file__).resolve().parents[2]
COS_IMPORT = ROOT / "functions" / "cos_import"
PLAN = "before_commit,after_commit"  # attempt 0, attempt 1; attempt 2 runs normally


def lines(first: int, count: int) -> bytes:
    return "".join(f"{n}\n" for n in range(first, first + count)).encode()


@pytest.fixture
def site(target, scratch, snova_db, unique_name, tmp_path):
    """A table, the test's folder of the scratch bucket (data under ``snova/``, the wrapper's
    attempt counts under ``attempts/``), and the function deployed with the wrapper (SCF's
    default of 2 retries, set explicitly)."""
    conn = psycopg2.connect(snova_db)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t1 (a1 integer)")
    conn.close()
    bucket, root = scratch.bucket, scratch.root
    function = unique_name("import")
    code_dir = code_dir_with_faults(COS_IMPORT, tmp_path / "cos_import")
    db = urlsplit(snova_db)

    def deploy(retries: int) -> dict:
        return SCFDeployFunctionOperator(
            task_id="deploy_import_function",
            function_name=function,
            code_dir=str(code_dir),
            include_packages=("scf_snova_core",),  # as the seed DAG deploys it
            requirements_file="requirements.txt",  # psycopg2 and the COS SDK, built for SCF
            code_bucket=bucket,  # the package is too large to send inline
            handler=HANDLER,
            runtime="Python3.9",
            memory_size=256,
            timeout=60,
            environment={
                "DB_HOST": db.hostname,
                "DB_PORT": str(db.port),
                "DB_NAME": db.path.lstrip("/"),
                "DB_USER": db.username,
                "DB_PASSWORD": db.password or "",
                "TARGET_TABLE": "t1",
                "KEY_PREFIX": root + "snova/",
                "KEY_SUFFIX": ".log",
                "COS_REGION": target.region,
                "COS_SECRET_ID": target.secret_id,
                "COS_SECRET_KEY": target.secret_key,
                "COS_ENDPOINT": target.endpoint,
                "FAULT_PLAN": PLAN,
                "FAULT_STATE_BUCKET": bucket,
                "FAULT_STATE_PREFIX": root + "attempts/",
            },
            async_retries=retries,
            poll_interval=0.05,
            do_xcom_push=False,
        ).execute({})

    deploy(2)
    yield SimpleNamespace(dsn=snova_db, bucket=bucket, root=root, function=function, deploy=deploy)
    delete_function(target.scf, function, target.namespace)


def event_attempts(target, function: str, request_id: str) -> list[dict]:
    return [a for a in target.invocations(function) if a["request_id"] == request_id]


def assert_failed_then_succeeded(attempts: list[dict]) -> dict:
    """The three attempts of one event: the injected failures, then the run that completes."""
    assert [a["retry_num"] for a in attempts] == [0, 1, 2]
    assert [a["status"] for a in attempts] == ["failed", "failed", "success"]
    first, second, third = (json.loads(a["ret_msg"]) for a in attempts)
    assert "injected failure before the commit" in first["errorMessage"] + first["stackTrace"]
    assert "injected failure after the commit" in second["errorMessage"] + second["stackTrace"]
    return third


def test_a_timer_sweep_failing_before_and_after_a_commit_loads_every_row_once(target, site):
    backlog = site.root + "snova/backlog/"
    target.put_object(site.bucket, backlog + "a.log", lines(1, 30))
    target.put_object(site.bucket, backlog + "b.log", lines(101, 20))
    SCFCreateTimerTriggerOperator(
        task_id="create_sweep_timer",
        function_name=site.function,
        trigger_name="nightly-sweep",
        cron="0 2 * * *",
        custom_argument={"bucket": site.bucket, "prefix": backlog, "suffix": ".log"},
        do_xcom_push=False,
    ).execute({})
    invoked_at = time.time()
    request_id = target.fire_timer(site.function, "nightly-sweep")
    target.wait_for_invocations(1, site.function, final=True, timeout=120)

    third = assert_failed_then_succeeded(event_attempts(target, site.function, request_id))
    assert third["trigger"] == "timer"
    # Attempt 1 committed a.log before it failed; the last attempt skips it and loads b.log.
    statuses = {o["key"]: o["status"] for o in third["objects"]}
    assert statuses == {backlog + "a.log": "skipped", backlog + "b.log": "loaded"}
    [(rows, distinct, total)] = query(
        site.dsn, "SELECT count(*), count(DISTINCT a1), sum(a1) FROM t1"
    )
    assert (rows, distinct, total) == (50, 50, sum(range(1, 31)) + sum(range(101, 121)))
    ledger = query(
        site.dsn,
        "SELECT key, rows, run_id FROM airflow_scf_snova_load_ledger ORDER BY key",
    )
    assert ledger == [
        (backlog + "a.log", 30, request_id),
        (backlog + "b.log", 20, request_id),
    ]
    # GetRequestStatus, as the provider reads it: one record per attempt, the same request id.
    attempts = target.scf.get_request_attempts(site.function, request_id, invoked_at=invoked_at)
    assert [(a["RetryNum"], a["RetCode"]) for a in attempts] == [(0, -1), (1, -1), (2, 0)]


def test_a_cos_event_failing_before_and_after_its_commit_loads_its_rows_once(target, site):
    live = site.root + "snova/live/"
    SCFCreateCOSTriggerOperator(
        task_id="create_cos_trigger",
        function_name=site.function,
        bucket=site.bucket,
        events=("cos:ObjectCreated:*",),
        prefix=site.root + "snova/",
        suffix=".log",
        do_xcom_push=False,
    ).execute({})
    target.put_object(site.bucket, live + "new.log", lines(1001, 40))
    [final] = target.wait_for_invocations(1, site.function, final=True, timeout=120)

    third = assert_failed_then_succeeded(event_attempts(target, site.function, final["request_id"]))
    assert third["trigger"] == "cos"
    # Attempt 1 committed the object before it failed: the last attempt finds it in the ledger.
    [loaded] = third["objects"]
    assert (loaded["key"], loaded["status"], loaded["rows"]) == (live + "new.log", "skipped", 40)
    [(rows, distinct)] = query(site.dsn, "SELECT count(*), count(DISTINCT a1) FROM t1")
    assert (rows, distinct) == (40, 40)
    assert query(site.dsn, "SELECT count(*) FROM airflow_scf_snova_load_ledger") == [(1,)]

    # Without retries (RetryNum 0) the same failure before the commit is final: nothing loaded.
    assert site.deploy(0)["async_config_updated"] is True
    target.put_object(site.bucket, live + "later.log", lines(2001, 10))
    finals = target.wait_for_invocations(2, site.function, final=True, timeout=120)
    [last] = [a for a in finals if a["request_id"] != final["request_id"]]
    assert (last["retry_num"], last["status"]) == (0, "failed")
    error = json.loads(last["ret_msg"])
    assert f"before the commit of {live}later.log" in error["errorMessage"] + error["stackTrace"]
    assert [a["request_id"] for a in target.invocations(site.function)].count(
        last["request_id"]
    ) == 1  # not retried
    assert query(site.dsn, "SELECT count(*) FROM t1") == [(40,)]
