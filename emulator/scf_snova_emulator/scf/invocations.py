"""SCF extra ``invocations``: the invocation history, what GetRequestStatus, GetFunctionLogs and
the control API read.

Records are saved one file each (:class:`~.storage.ScfStorage`), so they survive a restart; an
invocation still running when the emulator stopped is loaded as failed. Waiting for invocations
blocks on a condition variable, never on a sleep loop.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable

from .models import Invocation
from .runtime import error_json
from .storage import ScfStorage

#: Oldest finished records are forgotten beyond this many.
MAX_RECORDS = 20_000


class InvocationHistory:
    """All invocations, oldest first.

    :param storage: where records are saved.
    :param max_records: how many records to keep.
    """

    def __init__(self, storage: ScfStorage, max_records: int = MAX_RECORDS) -> None:
        self._storage = storage
        self._max = max_records
        self._cond = threading.Condition()
        self._records: dict[str, Invocation] = {}
        loaded = [Invocation.from_dict(d) for d in storage.load_invocations()]
        for record in sorted(loaded, key=lambda r: r.start_time):
            if not record.finished:
                self._interrupt(record, "the emulator stopped while the function was running")
                storage.save_invocation(record.to_dict())
            self._records[record.request_id] = record

    @staticmethod
    def _interrupt(record: Invocation, message: str) -> None:
        record.status = "failed"
        record.status_code = 405
        record.err_msg = record.ret_msg = error_json(record.request_id, 405, message)
        record.log = record.log or f"START RequestId: {record.request_id}\n{message}\n"

    def add(self, record: Invocation) -> None:
        """Record a new (usually running) invocation."""
        with self._cond:
            self._records[record.request_id] = record
            self._storage.save_invocation(record.to_dict())
            self._trim()
            self._cond.notify_all()

    def update(self, record: Invocation) -> None:
        """Save a changed record (e.g. finished) and wake the waiters."""
        with self._cond:
            if record.request_id not in self._records:
                return  # forgotten by a reset while it ran
            self._records[record.request_id] = record
            self._storage.save_invocation(record.to_dict())
            self._cond.notify_all()

    def _trim(self) -> None:
        excess = len(self._records) - self._max
        for request_id, record in list(self._records.items()):
            if excess <= 0:
                break
            if record.finished:
                del self._records[request_id]
                self._storage.delete_invocation(request_id)
                excess -= 1

    def get(self, request_id: str) -> Invocation | None:
        with self._cond:
            record = self._records.get(request_id)
            return copy.deepcopy(record) if record else None

    def select(self, predicate: Callable[[Invocation], bool]) -> list[Invocation]:
        """Copies of the records matching ``predicate``, oldest first."""
        with self._cond:
            return [copy.deepcopy(r) for r in self._records.values() if predicate(r)]

    def wait_finished(
        self, count: int, predicate: Callable[[Invocation], bool], timeout: float
    ) -> list[Invocation]:
        """Block until at least ``count`` matching invocations have finished.

        :returns: all matching finished invocations, oldest first.
        :raises TimeoutError: after ``timeout`` seconds, saying how many had finished.
        """
        deadline = time.monotonic() + timeout

        def done() -> list[Invocation]:
            return [r for r in self._records.values() if r.finished and predicate(r)]

        with self._cond:
            while len(done()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(done())} of {count} invocations finished within {timeout} s"
                    )
                self._cond.wait(remaining)
            return [copy.deepcopy(r) for r in done()]

    def interrupt_running(self, message: str) -> None:
        """Mark every running invocation failed (the emulator is stopping)."""
        with self._cond:
            for record in self._records.values():
                if not record.finished:
                    self._interrupt(record, message)
                    self._storage.save_invocation(record.to_dict())
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            for request_id in list(self._records):
                self._storage.delete_invocation(request_id)
            self._records.clear()
            self._cond.notify_all()
