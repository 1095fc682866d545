"""The loading process and its database backend die mid-COPY. The load runs in a child process
(``load_runner.py``, the operator exactly as a task process runs it) held at a gate in the middle
of an object's stream, so the test acts while the COPY is provably in progress."""

from __future__ import annotations

import os
import signal
import threading
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
            # One object per transaction, so that k/1 commits before k/2 is cut off (a batch
            # dies with its connection whole: tests/transfers/test_cos_to_snova_exactly_once.py)
            "operator": {
                "table": "t1",
                "bucket": bucket,
                "prefix": "k/",
                "method": "copy",
                "batch_size": 1,
            },
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


@pytest.mark.soak
def test_airflow_task_process_killed_mid_copy_then_rerun(
    airflow_db, db, bucket, three_objects, tmp_path
):
    """The same kill, of the real ``airflow tasks test`` process (Airflow's CLI runs the task in
    that process, as a worker's task process would)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    dags = Path(__file__).resolve().parent / "dags"
    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(
        dag_folder=str(dags / "gated_load.py"), bundle_path=dags, bundle_name="dags-folder"
    )
    sync_bag_to_db(bag, "dags-folder", None)
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    env = dict(os.environ, AIRFLOW__CORE__DAGS_FOLDER=str(dags), GATED_BUCKET=bucket)
    airflow = str(Path(sys.executable).with_name("airflow"))
    gated = dict(
        env, RELIABILITY_GATE=json.dumps({"key": "k/2.csv", "after": 131072, "fifo": str(fifo)})
    )
    proc = subprocess.Popen(
        [airflow, "tasks", "test", "gated_load", "load"],
        env=gated,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reached = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("REACHED"):
                reached.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert reached.wait(300), "".join(lines)[-3000:]
    [pid] = wait_for(db.copy_backends, 60, what="the task's COPY in pg_stat_activity")
    killed = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    wait_for(lambda: not db.backend_alive(pid), 30, what="the server to drop the dead client")
    gone = time.monotonic() - killed
    assert db.scalar(ADVISORY_LOCKS) == 0
    assert db.rows("SELECT a1 FROM t1") == [(1,)] and db.ledger_keys() == ["k/1.csv"]
    rerun = subprocess.run(
        [airflow, "tasks", "test", "gated_load", "load"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [
        (three_objects, three_objects)
    ]
    assert db.ledger_keys() == ["k/1.csv", "k/2.csv", "k/3.csv"]
    assert "1 skipped as already loaded" in rerun.stdout + rerun.stderr
    record(
        "faults.task-sigkill-airflow",
        f"`airflow tasks test` killed with SIGKILL mid-COPY of k/2; backend and lock gone "
        f"within {gone:.2f} s; nothing of k/2 committed; the rerun (`airflow tasks test` again) "
        f"skipped k/1 and loaded k/2, k/3: {three_objects} rows, {three_objects} distinct",
    )
