"""``on_kill`` of the transfers cancels their statement on the server (``pg_cancel_backend``).
The load runs in a thread of this process, its COS stream held mid-COPY (``block_stream``), so
the COPY is provably in progress when ``on_kill`` is called."""

from __future__ import annotations

import threading

import pytest

from airflow_scf_snova.exceptions import SnovaLoadError
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

BIG_ROWS = 60_000


class LoadThread(threading.Thread):
    """``op.execute`` in a thread; ``result`` or ``error`` once joined."""

    def __init__(self, op: COSToSnovaOperator) -> None:
        super().__init__(daemon=True)
        self.op, self.result, self.error = op, None, None

    def run(self) -> None:
        try:
            self.result = self.op.execute({"run_id": "on_kill"})
        except BaseException as err:  # the test inspects it
            self.error = err


@pytest.fixture
def held_load(db, bucket, put, block_stream, wait_for):
    """``(op, thread, pid, gate)``: a load of k/1 then k/2 (one batch, one transaction), held
    mid-COPY of k/2."""
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("k/1.csv", "1,first\n")
    put("k/2.csv", "".join(f"{i},row {i}\n" for i in range(10, 10 + BIG_ROWS)))
    reached, gate = block_stream("k/2.csv", 128 * 1024)
    op = COSToSnovaOperator(task_id="load", table="t1", bucket=bucket, prefix="k/", method="copy")
    thread = LoadThread(op)
    thread.start()
    try:
        assert reached.wait(60), "the COPY of k/2 never started"
        [pid] = wait_for(db.copy_backends, 60, what="the COPY in pg_stat_activity")
        yield op, thread, pid, gate
    finally:
        gate.set()
        thread.join(60)


def test_on_kill_cancels_the_copy_on_the_server(db, held_load):
    """PostgreSQL acts on a cancel request during ``COPY FROM STDIN`` when the next data
    arrives: released after ``on_kill``, the load fails with the server's cancel, where it would
    otherwise have completed. The batch's transaction (k/1 with k/2) is rolled back and not
    loaded again one object per transaction: a cancel is not an object's fault."""
    op, thread, pid, gate = held_load
    assert op.snova_hook.working_backend_pid == pid
    op.on_kill()
    assert thread.is_alive() and db.backend_alive(pid)  # a cancel, not a termination
    gate.set()
    thread.join(60)
    assert isinstance(thread.error, SnovaLoadError), thread.error or thread.result
    assert thread.error.key == "k/2.csv"
    assert "canceling statement due to user request" in str(thread.error)
    assert db.rows("SELECT a1 FROM t1") == []  # nothing of the batch
    assert db.ledger_keys() == []
    assert op.snova_hook.working_backend_pid is None


def test_on_kill_with_nothing_running_does_nothing(db, bucket):
    op = COSToSnovaOperator(task_id="load", table="t1", bucket=bucket, prefix="k/")
    op.on_kill()  # no hook built: nothing to cancel, no connection opened
    assert "snova_hook" not in op.__dict__
    assert op.snova_hook.cancel_work() is None
