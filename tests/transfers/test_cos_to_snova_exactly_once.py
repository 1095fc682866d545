"""Exactly-once under failure and concurrency: the rows and their ledger row commit together (a
commit refused by a deferred trigger leaves neither), a second load waits on the table's advisory
lock while the first is mid-COPY, a backend killed mid-COPY then a retry, and two worker processes
loading the same objects into one table at the same time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE, LEDGER_COLUMNS, table_lock_key

from airflow_scf_snova.exceptions import SnovaLoadError

BIG_ROWS = 60_000
LEDGER = DEFAULT_LEDGER_TABLE


REFUSE_AT_COMMIT = """
CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused at commit by a deferred trigger on %', TG_TABLE_NAME;
END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();
"""


@pytest.mark.parametrize("mode", ["append", "upsert", "replace"])
@pytest.mark.parametrize("refusing", ["t1", LEDGER])
def test_rows_and_ledger_row_commit_in_one_transaction(db, bucket, put, run_load, mode, refusing):
    """A deferred constraint trigger on the target (or on the ledger) refuses the COMMIT, after
    every statement of the load succeeded: if the ledger row were committed apart from the rows
    (before them, after them, or on another connection), one of the two would remain."""
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    db.execute(f"CREATE TABLE {LEDGER} ({LEDGER_COLUMNS})")
    put("old.csv", "100,old\n")
    run_load(table="t1", bucket=bucket, keys=["old.csv"])
    before = (db.rows("SELECT a1, b FROM t1"), db.ledger())
    db.execute(REFUSE_AT_COMMIT.format(table=refusing))
    put("new.csv", "1,new\n2,new\n")
    kwargs = {"upsert_keys": ["a1"]} if mode == "upsert" else {}

    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t1", bucket=bucket, keys=["new.csv"], mode=mode, **kwargs)

    after = (db.rows("SELECT a1, b FROM t1"), db.ledger())
    assert after == before, (
        f"after a refused COMMIT t1 holds {after[0]} and the ledger {after[1]} (before: "
        f"{before}): the rows and their ledger row were not committed in one transaction"
    )
    assert caught.value.key == "new.csv"
    assert "commit failed" in caught.value.reason and "refused at commit" in caught.value.reason

    db.execute(f"DROP TRIGGER refuse_at_commit ON {refusing}")
    [retry] = run_load(table="t1", bucket=bucket, keys=["new.csv"], mode=mode, **kwargs)
    assert (retry["status"], retry["rows"]) == ("loaded", 2)
    assert db.scalar("SELECT count(*) FROM t1 WHERE b = 'new'") == 2
    assert [row[1] for row in db.ledger()].count("new.csv") == 1


def _lock_waiters(db, key: int) -> list[int]:
    """Backends of this database waiting for the advisory lock ``key`` (a bigint lock shows in
    ``pg_locks`` as classid = high 32 bits, objid = low 32 bits, objsubid = 1)."""
    return [
        pid
        for (pid,) in db.rows(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = %s AND objid = %s AND objsubid = 1",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        )
    ]


def test_a_second_load_waits_on_the_table_lock_while_the_first_is_mid_copy(
    db, bucket, put, run_load, block_stream, wait_for
):
    """Two ``replace`` runs at once: the second must wait on the table's advisory lock until the
    first commits. Without the lock both would delete and insert in overlapping transactions and
    the table would keep both runs' rows. Shown in seconds: the first run is held mid-COPY."""
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("r/1.csv", "".join(f"{i},first\n" for i in range(20_000)))
    put("r/2.csv", "".join(f"{i},second\n" for i in range(100)))
    reached, gate = block_stream("r/1.csv", after_bytes=64 * 1024)
    outcomes: dict[str, object] = {}

    def replace(name: str, key: str) -> threading.Thread:
        def run():
            try:
                outcomes[name] = run_load(table="t1", bucket=bucket, keys=[key], mode="replace")
            except BaseException as err:
                outcomes[name] = err

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    key = table_lock_key("public.t1")
    first = replace("first", "r/1.csv")
    second = None
    try:
        assert reached.wait(60), "the first load never reached the middle of r/1.csv"
        second = replace("second", "r/2.csv")

        def second_state():
            if _lock_waiters(db, key):
                return "waiting on the table lock"
            if not second.is_alive():
                return "finished while the first load held the table"
            return None

        state = wait_for(second_state, timeout=30, what="the second load to wait or finish")
    finally:
        gate.set()
        first.join(60)
        if second is not None:
            second.join(60)
    assert not first.is_alive() and not second.is_alive()
    rows = db.rows("SELECT b, count(*) FROM t1 GROUP BY b ORDER BY b")
    assert rows == [("second", 100)], (
        f"t1 holds {rows}: both replace runs' rows stayed (duplicates), so the second run did not "
        "wait for the first one's advisory lock"
    )
    assert state == "waiting on the table lock", state
    assert [r["status"] for r in outcomes["first"]] == ["loaded"]
    assert [r["status"] for r in outcomes["second"]] == ["loaded"]
    assert [row[1] for row in db.ledger()] == ["r/2.csv"]


@pytest.mark.parametrize("batch_size", [1, 50])
def test_backend_killed_mid_copy_then_retried_loads_every_row_once(
    db, bucket, put, run_load, block_stream, wait_for, batch_size
):
    """With one object per transaction, k/1 stays committed when the backend dies in k/2; with
    a batch, the batch dies with its connection (k/1 too) and the retry loads it."""
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("k/1.csv", "1,first\n")
    put("k/2.csv", "".join(f"{i},row {i}\n" for i in range(10, 10 + BIG_ROWS)))
    put("k/3.csv", "3,third\n")
    reached, gate = block_stream("k/2.csv", after_bytes=128 * 1024)
    outcome: dict = {}

    def first_try():
        try:
            run_load(table="t1", bucket=bucket, prefix="k/", batch_size=batch_size)
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
    # one per transaction: k/1 committed before the kill; nothing of k/2 did
    batched = batch_size > 1
    assert db.rows("SELECT a1 FROM t1") == ([] if batched else [(1,)])
    assert [row[1] for row in db.ledger()] == ([] if batched else ["k/1.csv"])

    retry = run_load(table="t1", bucket=bucket, prefix="k/")  # the task's retry

    assert [(r["key"], r["status"], r["rows"]) for r in retry] == [
        ("k/1.csv", "loaded" if batched else "skipped", 1),
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

    def both_waiting() -> bool:
        # A worker that finishes while the table lock is held here never asked for it: fail now,
        # not at the deadline (which only covers two Python processes starting on a busy box).
        done = [n for n, worker in enumerate(workers) if worker.poll() is not None]
        assert not done, f"worker(s) {done} finished without waiting on the table lock"
        return db.scalar(WAITING_ADVISORY) == 2

    try:
        wait_for(
            both_waiting,
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
