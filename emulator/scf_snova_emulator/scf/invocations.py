"""SCF extra ``invocations``: the invocation history, what GetRequestStatus, GetFunctionLogs and
the control API read.

One record per attempt: an invocation SCF retries (:mod:`.retries`) has one record per attempt,
all with its request id, told apart by ``retry_num`` (their :attr:`~.models.Invocation.key`).
Records are saved one file each (:class:`~.storage.ScfStorage`), so they survive a restart; an
invocation still running when the emulator stopped is loaded as failed, and a retry that was
still to come is dropped. Waiting for invocations blocks on a condition variable, never on a
sleep loop.

The history holds the record objects the invoker runs with (``add`` and ``update`` store the
object given, readers get copies), so a change made here under :attr:`InvocationHistory.lock`
(a retry scheduled, a termination asked for) is seen by the thread running the attempt.
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
        self._records: dict[str, Invocation] = {}  # by attempt key
        self._latest: dict[str, str] = {}  # request id -> key of its latest attempt
        loaded = [Invocation.from_dict(d) for d in storage.load_invocations()]
        for record in sorted(loaded, key=lambda r: (r.start_time, r.retry_num)):
            if not record.finished or record.retry_at:
                if not record.finished:
                    self._interrupt(record, "the emulator stopped while the function was running")
                record.retry_at = 0.0  # retries are not replayed after a restart
                storage.save_invocation(record.to_dict())
            self._store(record)

    @property
    def lock(self) -> threading.Condition:
        """The (re-entrant) lock every change and read takes; hold it to change a record and
        save it as one step."""
        return self._cond

    def _store(self, record: Invocation) -> None:
        self._records[record.key] = record
        latest = self._records.get(self._latest.get(record.request_id, ""))
        if latest is None or latest.retry_num <= record.retry_num:
            self._latest[record.request_id] = record.key

    @staticmethod
    def _interrupt(record: Invocation, message: str) -> None:
        record.status = "failed"
        record.status_code = 405
        record.err_msg = record.ret_msg = error_json(record.request_id, 405, message)
        record.log = record.log or f"START RequestId: {record.request_id}\n{message}\n"

    def add(self, record: Invocation) -> None:
        """Record a new (usually running) attempt."""
        with self._cond:
            self._store(record)
            self._storage.save_invocation(record.to_dict())
            self._trim()
            self._cond.notify_all()

    def update(self, record: Invocation) -> None:
        """Save a changed record (e.g. finished) and wake the waiters."""
        with self._cond:
            if record.key not in self._records:
                return  # forgotten by a reset while it ran
            self._records[record.key] = record
            self._storage.save_invocation(record.to_dict())
            self._cond.notify_all()

    def _trim(self) -> None:
        excess = len(self._records) - self._max
        for key, record in list(self._records.items()):
            if excess <= 0:
                break
            if record.finished and not record.retry_at:
                del self._records[key]
                if self._latest.get(record.request_id) == key:
                    del self._latest[record.request_id]
                self._storage.delete_invocation(key)
                excess -= 1

    def get(self, request_id: str) -> Invocation | None:
        """A copy of the latest attempt of an invocation."""
        with self._cond:
            record = self._records.get(self._latest.get(request_id, ""))
            return copy.deepcopy(record) if record else None

    def get_attempt(self, key: str) -> Invocation | None:
        """A copy of one attempt (:attr:`~.models.Invocation.key`)."""
        with self._cond:
            record = self._records.get(key)
            return copy.deepcopy(record) if record else None

    def replace_retry(self, key: str, retry: Invocation | None) -> bool:
        """End the wait of the failed attempt ``key`` for its retry, as one step: clear its
        ``retry_at`` and add ``retry`` (the next attempt; ``None`` when the retry is dropped).

        :returns: ``False`` when the attempt is gone (a reset) or has no retry to come.
        """
        with self._cond:
            previous = self._records.get(key)
            if previous is None or not previous.retry_at:
                return False
            previous.retry_at = 0.0
            self._storage.save_invocation(previous.to_dict())
            if retry is not None:
                self._store(retry)
                self._storage.save_invocation(retry.to_dict())
            self._cond.notify_all()
            return True

    def mark_terminated(self, request_id: str) -> Invocation | None:
        """Mark the running latest attempt of ``request_id`` terminated; returns a copy, or
        ``None`` when there is no such attempt or it is no longer running."""
        with self._cond:
            record = self._records.get(self._latest.get(request_id, ""))
            if record is None or record.finished:
                return None
            record.terminated = True
            self._storage.save_invocation(record.to_dict())
            self._cond.notify_all()
            return copy.deepcopy(record)

    def select(self, predicate: Callable[[Invocation], bool]) -> list[Invocation]:
        """Copies of the records matching ``predicate``, oldest first."""
        with self._cond:
            return [copy.deepcopy(r) for r in self._records.values() if predicate(r)]

    def wait_finished(
        self,
        count: int,
        predicate: Callable[[Invocation], bool],
        timeout: float,
        final: bool = False,
    ) -> list[Invocation]:
        """Block until at least ``count`` matching attempts have finished.

        :param final: count only the attempt that ends each invocation: its latest attempt, with
            no retry to come.
        :returns: all matching finished attempts, oldest first.
        :raises TimeoutError: after ``timeout`` seconds, saying how many had finished.
        """
        deadline = time.monotonic() + timeout

        def done() -> list[Invocation]:
            return [
                r
                for r in self._records.values()
                if r.finished
                and predicate(r)
                and not (final and (r.retry_at or self._latest.get(r.request_id) != r.key))
            ]

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
            for key in list(self._records):
                self._storage.delete_invocation(key)
            self._records.clear()
            self._latest.clear()
            self._cond.notify_all()
