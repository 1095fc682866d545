"""Batched ``append`` loads (``batch_size``), against a real PostgreSQL and the emulator through
the real COS SDK: several objects commit in one transaction, each is recorded once in the ledger,
a bad object still fails alone and names itself with the objects before it committed, racing
loaders load each object once, an object overwritten after it was listed is refused (``If-Match``)
and the copy method sends no HEAD per object."""

from __future__ import annotations

import threading

import pytest
from scf_snova_core.ledger import table_lock_key

from airflow_scf_snova.exceptions import SnovaLoadError

COUNT = 120
BATCH = 50
ROWS_EACH = 3


def _csv(n: int) -> str:
    return "".join(f"{n * 10 + i},obj{n:03d}\n" for i in range(ROWS_EACH))


@pytest.fixture
def objects(db, put):
    """``COUNT`` small objects ``b/000.csv`` ... ``b/119.csv`` and the table ``t1``."""
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    for n in range(COUNT):
        put(f"b/{n:03d}.csv", _csv(n))
    return [f"b/{n:03d}.csv" for n in range(COUNT)]


def _xact_commit(db) -> int:
    """Committed transactions of this database so far, as the statistics collector has them
    (a backend reports its counts when it exits: callers wait for the loader's to be gone)."""
    return db.scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")


def _no_other_backend(db) -> bool:
    return not db.rows(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )


@pytest.mark.parametrize(("batch_size", "transactions"), [(BATCH, 3), (1, COUNT)])
def test_a_batch_of_objects_commits_in_one_transaction_each_recorded_once(
    db, bucket, objects, run_load, wait_for, task_logs, batch_size, transactions
):
    """120 objects with batch 50 are three transactions (the ledger rows' ``xmin`` and the
    database's ``xact_commit``); with batch 1, 120. Either way 120 ledger rows and every row
    once."""
    wait_for(lambda: _no_other_backend(db), what="the set-up's backends to exit")
    before = _xact_commit(db)

    results = run_load(table="t1", bucket=bucket, prefix="b/", method="copy", batch_size=batch_size)

    assert [(r["key"], r["status"], r["rows"]) for r in results] == [
        (key, "loaded", ROWS_EACH) for key in objects
    ]
    total = COUNT * ROWS_EACH
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(total, total)]
    assert sorted(row[1] for row in db.ledger()) == objects
    writers = db.scalar("SELECT count(DISTINCT xmin::text) FROM airflow_scf_snova_load_ledger")
    assert writers == transactions, (
        f"the 120 ledger rows were written by {writers} transaction(s), expected {transactions}"
    )
    wait_for(lambda: _no_other_backend(db), what="the loader's backend to exit")
    commits = _xact_commit(db) - before
    # Besides the loads: reading the table, creating the ledger, and this test's own queries.
    assert transactions <= commits <= transactions + 12, commits
    # With a batch, each batch's objects went in with one COPY.
    joined = task_logs().count("One COPY loaded")
    assert joined == (transactions if batch_size > 1 else 0), joined


def test_a_bad_object_fails_naming_itself_the_objects_before_it_stay_committed(
    db, bucket, objects, put, run_load
):
    """Object 73 (in the second batch) has a bad row: the load fails naming it, objects 0-72
    are committed exactly once (the second batch is loaded again one object per transaction),
    73-119 are not; a rerun after fixing it loads 73-119 once and skips the rest."""
    put("b/073.csv", "730,ok\nnot-a-number,bad\n")

    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t1", bucket=bucket, prefix="b/", method="copy", batch_size=BATCH)

    assert caught.value.key == "b/073.csv"
    assert caught.value.line == 2
    assert sorted(row[1] for row in db.ledger()) == objects[:73]
    done = 73 * ROWS_EACH
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(done, done)]

    put("b/073.csv", _csv(73))
    rerun = run_load(table="t1", bucket=bucket, prefix="b/", method="copy", batch_size=BATCH)

    assert [r["status"] for r in rerun] == ["skipped"] * 73 + ["loaded"] * (COUNT - 73)
    total = COUNT * ROWS_EACH
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(total, total)]
    assert sorted(row[1] for row in db.ledger()) == objects


def test_two_racing_loaders_load_each_object_once(db, bucket, objects, run_load, wait_for):
    """Both loaders are held on the table's load lock, then released together: they take the
    lock batch by batch, and each object is loaded by exactly one of them."""
    lock = table_lock_key("public.t1")
    db.execute("SELECT pg_advisory_lock(%s)", (lock,))
    outcomes: dict[int, object] = {}

    def load(n: int) -> None:
        try:
            outcomes[n] = run_load(
                table="t1", bucket=bucket, prefix="b/", method="copy", batch_size=BATCH
            )
        except BaseException as err:
            outcomes[n] = err

    threads = [threading.Thread(target=load, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for(
            lambda: (
                db.scalar(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                )
                == 2
            ),
            timeout=120,
            what="both loaders to wait on the table lock",
        )
    finally:
        db.execute("SELECT pg_advisory_unlock(%s)", (lock,))
        for thread in threads:
            thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    statuses: dict[str, list[str]] = {}
    for n in range(2):
        assert isinstance(outcomes[n], list), outcomes[n]
        for result in outcomes[n]:
            statuses.setdefault(result["key"], []).append(result["status"])
    assert {key: sorted(s) for key, s in statuses.items()} == {
        key: ["loaded", "skipped"] for key in objects
    }, statuses
    total = COUNT * ROWS_EACH
    assert db.rows("SELECT count(*), count(DISTINCT a1) FROM t1") == [(total, total)]
    assert sorted(row[1] for row in db.ledger()) == objects


def test_an_object_overwritten_after_listing_fails_naming_it_nothing_of_it_committed(
    db, bucket, put, snova_db, emulator
):
    """The objects are listed, then ``o/2.csv`` is overwritten before the load reads it: the
    GET carries the listed ETag (``If-Match``), so COS answers 412 and the load fails naming
    it. Without it the new bytes would be loaded and recorded under the old ETag."""
    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.hooks.snova import SnovaHook
    from airflow_scf_snova.snova.spec import LoadSpec

    db.execute("CREATE TABLE t1 (a1 int, b text)")
    for n in range(5):
        put(f"o/{n}.csv", f"{n},listed\n")
    cos = COSHook()
    listed = list(cos.iter_objects(bucket, prefix="o/"))
    put("o/2.csv", "2,overwritten\n")

    with pytest.raises(SnovaLoadError) as caught:
        SnovaHook().load_objects(listed, LoadSpec(table="t1", method="copy"), cos)

    assert caught.value.key == "o/2.csv"
    assert "no longer the version listed" in caught.value.reason
    assert db.rows("SELECT a1, b FROM t1 ORDER BY a1") == [(0, "listed"), (1, "listed")]
    assert sorted(row[1] for row in db.ledger()) == ["o/0.csv", "o/1.csv"]


@pytest.mark.parametrize("batch_size", [1, BATCH])
def test_the_copy_method_sends_no_head_per_object(
    db, bucket, objects, run_load, emulator, batch_size
):
    """A prefix load in copy mode, one transaction per object or batched: one GET per object
    and no HEAD (the GET's ``If-Match`` pins the version the listing gave)."""
    emulator.control.reset_stats()

    run_load(table="t1", bucket=bucket, prefix="b/", method="copy", batch_size=batch_size)

    cos = emulator.control.stats().get("cos", {})
    assert cos.get("HEAD", 0) == 0, cos
    assert cos.get("GET", 0) == COUNT, cos


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        # headers: each object's own header line is skipped, never counted
        (["a1,b\n1,x\n2,y\n", "a1,b\n3,z\n", "a1,b\n4,w"], [2, 1, 1]),
        # a quoted field holding a newline: rows are not lines, so each object is copied alone
        (["a1,b\n1,x\n", 'a1,b\n2,"two\nlines"\n3,y\n', "a1,b\n4,w\n"], [1, 2, 1]),
        # CRLF line ends, and a last line without one
        (["a1,b\r\n1,x\r\n2,y", "a1,b\r\n3,z\r\n"], [2, 1]),
    ],
    ids=["headers", "quoted-newline", "crlf"],
)
def test_every_object_of_a_batch_is_recorded_with_its_own_row_count(
    db, bucket, put, run_load, task_logs, request, bodies, expected
):
    """One COPY for a batch counts each object's rows from its lines; where lines are not rows
    (a quoted newline), the batch copies object by object. Either way the result and the
    ledger hold each object's own count, and the table every row once."""
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    for n, body in enumerate(bodies):
        put(f"h/{n}.csv", body)

    results = run_load(table="t1", bucket=bucket, prefix="h/", header=True, batch_size=BATCH)

    assert [r["rows"] for r in results] == expected
    joined = "One COPY loaded" in task_logs()
    assert joined == (request.node.callspec.id != "quoted-newline")
    assert [row[3] for row in db.ledger()] == expected
    assert db.scalar("SELECT count(*) FROM t1") == sum(expected)
    assert db.scalar("SELECT count(DISTINCT a1) FROM t1") == sum(expected)
