"""Exactly-once under failure and concurrency: a backend killed mid-COPY, then a retry; two
worker processes loading the same objects into one table at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from scf_snova_core.ledger import table_lock_key

from airflow_scf_snova.exceptions import SnovaLoadError

BIG_ROWS = 60_000


def test_backend_killed_mid_copy_then_retried_loads_every_row_once(
    db, bucket, put, run_load, block_stream, wait_for
):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("k/1.csv", "1,first\n")
    put("k/2.csv", "".join(f"{i},row {i}\n" for i in range(10, 10 + BIG_ROWS)))
    put("k/3.csv", "3,third\n")
    reached, gate = block_stream("k/2.csv", after_bytes=128 * 1024)
    outcome: dict = {}

    def first_try():
        try:
            run_load(table="t1", bucket=bucket, prefix="k/")
        except BaseException as err:
            outcome["error"] = err

    worker = threading.Thread(target=first_try)
    worker.start()
    try:
        assert reached.wait(60), "the load never reached the middle of k/2.csv"
        # 128 KiB of k/2.csv have gone into COPY; the backend is waiting for more.
        pid = wait_for(
            lambda: db.rows(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'COPY %%' AND pid <> pg_backend_pid()"
            ),
            what="the COPY backend",
        )[0][0]
        assert db.scalar("SELECT pg_terminate_backend(%s)", (pid,)) is True
        wait_for(
            lambda: not db.rows("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)),
            what="the backend to exit",
        )
    finally:
        gate.set()
        worker.join(60)
    assert not worker.is_alive()

    error = outcome.get("error")
    assert isinstance(error, SnovaLoadError), error
    assert error.key == "k/2.csv"
    # k/1 committed before the kill; nothing of k/2 did
    assert db.rows("SELECT a1 FROM t1") == [(1,)]
    assert [row[1] for row in db.ledger()] == ["k/1.csv"]

    retry = run_load(table="t1", bucket=bucket, prefix="k/")  # the task's retry

    assert [(r["key"], r["status"], r["rows"]) for r in retry] == [
        ("k/1.csv", "skipped", 1),
        ("k/2.csv", "loaded", BIG_ROWS),
        ("k/3.csv", "loaded", 1),
    ]
    total = BIG_ROWS + 2
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(total, total)]
    assert [row[1] for row in db.ledger()] == ["k/1.csv", "k/2.csv", "k/3.csv"]


WORKER = """
import json, sys
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

op = COSToSnovaOperator(task_id="load", table="t1", bucket=sys.argv[1], prefix="c/", method="copy")
print("RESULT " + json.dumps(op.execute({"run_id": sys.argv[2]})), flush=True)
"""

WAITING_ADVISORY = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
)


@pytest.mark.slow
def test_two_worker_processes_loading_the_same_objects_load_each_once(
    db, bucket, put, snova_db, emulator, wait_for
):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    expected = 0
    for n in range(4):
        put(f"c/{n}.csv", "".join(f"{n * 1000 + i},v\n" for i in range(250)))
        expected += 250
    # Hold the table's load lock so that both workers are provably inside the same critical
    # section at once (both blocked on it) before either can load anything.
    lock = table_lock_key("public.t1")
    db.execute("SELECT pg_advisory_lock(%s)", (lock,))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, bucket, f"run_{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for n in range(2)
    ]
    try:
        wait_for(
            lambda: db.scalar(WAITING_ADVISORY) == 2,
            timeout=180,
            interval=0.2,
            what="both workers to wait on the table lock",
        )
    finally:
        db.execute("SELECT pg_advisory_unlock(%s)", (lock,))
    outputs = []
    for worker in workers:
        try:
            out, err = worker.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
        assert worker.returncode == 0, err[-3000:]
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        outputs.append(json.loads(line[len("RESULT ") :]))

    by_key: dict[str, list[str]] = {}
    for results in outputs:
        for result in results:
            by_key.setdefault(result["key"], []).append(result["status"])
    assert {key: sorted(statuses) for key, statuses in by_key.items()} == {
        f"c/{n}.csv": ["loaded", "skipped"] for n in range(4)
    }
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(expected, expected)]
    assert len(db.ledger()) == 4
