"""The loading process and its database backend die mid-COPY. The load runs in a child process
(``load_runner.py``, the operator exactly as a task process runs it) held at a gate in the middle
of an object's stream, so the test acts while the COPY is provably in progress."""

from __future__ import annotations

import os
import signal
import time

import pytest
from reliability.observations import record
from reliability.support import LoadProcess, wait_for

BIG_ROWS = 60_000
ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
)


@pytest.fixture
def three_objects(db, put):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("k/1.csv", "1,first\n")
    put("k/2.csv", "".join(f"{i},row {i}\n" for i in range(10, 10 + BIG_ROWS)))
    put("k/3.csv", "3,third\n")
    return BIG_ROWS + 2


def _start_gated(bucket, tmp_path) -> LoadProcess:
    child = LoadProcess(
        {
            "operator": {"table": "t1", "bucket": bucket, "prefix": "k/", "method": "copy"},
            "run_id": "first_try",
        },
        env=dict(os.environ),
        gate_key="k/2.csv",
        gate_after=128 * 1024,
        gate_fifo=tmp_path / "gate",
    )
    child.wait_reached()
    return child


def _check_after_retry(db, retry, total):
    assert [(r["key"], r["status"]) for r in retry] == [
        ("k/1.csv", "skipped"),
        ("k/2.csv", "loaded"),
        ("k/3.csv", "loaded"),
    ]
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(total, total)]
    assert db.ledger_keys() == ["k/1.csv", "k/2.csv", "k/3.csv"]


def test_backend_terminated_mid_copy(db, bucket, three_objects, run_load, tmp_path):
    child = _start_gated(bucket, tmp_path)
    try:
        [pid] = wait_for(db.copy_backends, 60, what="the child's COPY in pg_stat_activity")
        assert db.scalar("SELECT pg_terminate_backend(%s)", (pid,)) is True
        wait_for(lambda: not db.backend_alive(pid), 30, what="the backend to exit")
    finally:
        child.release()
    code, error, stderr = child.finish()
    assert code == 1, stderr[-2000:]
    assert (error["type"], error["key"]) == ("SnovaLoadError", "k/2.csv"), error
    assert db.rows("SELECT a1 FROM t1") == [(1,)]
    assert db.ledger_keys() == ["k/1.csv"]
    started = time.monotonic()
    retry = run_load(table="t1", bucket=bucket, prefix="k/", method="copy")
    seconds = time.monotonic() - started
    _check_after_retry(db, retry, three_objects)
    record(
        "faults.pg-backend-terminated",
        f"the child failed: `{error['type']}: {error['message'][:140]}`; k/1 committed, nothing "
        f"of k/2; the rerun skipped k/1, loaded k/2 and k/3 in {seconds:.1f} s: "
        f"{three_objects} rows, {three_objects} distinct",
    )


def test_task_process_killed_mid_copy_then_retried(db, bucket, three_objects, run_load, tmp_path):
    child = _start_gated(bucket, tmp_path)
    [pid] = wait_for(db.copy_backends, 60, what="the child's COPY in pg_stat_activity")
    assert db.scalar(ADVISORY_LOCKS) == 1  # the child holds the table's load lock
    killed = time.monotonic()
    os.kill(child.proc.pid, signal.SIGKILL)
    code, _, _ = child.finish()
    assert code == -signal.SIGKILL
    wait_for(lambda: not db.backend_alive(pid), 30, what="the server to drop the dead client")
    backend_gone = time.monotonic() - killed
    assert db.scalar(ADVISORY_LOCKS) == 0  # released with the transaction: no stale lock
    assert db.rows("SELECT a1 FROM t1") == [(1,)]
    assert db.ledger_keys() == ["k/1.csv"]
    started = time.monotonic()
    retry = run_load(table="t1", bucket=bucket, prefix="k/", method="copy")  # the task retry
    seconds = time.monotonic() - started
    _check_after_retry(db, retry, three_objects)
    record(
        "faults.task-sigkill",
        f"killed with SIGKILL mid-COPY of k/2; the server dropped the backend and its lock "
        f"within {backend_gone:.2f} s of the kill, nothing of k/2 committed; the retry skipped "
        f"k/1 and loaded k/2, k/3 in {seconds:.1f} s: {three_objects} rows, "
        f"{three_objects} distinct",
    )
