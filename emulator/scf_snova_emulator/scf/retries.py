"""SCF extra ``retries``: SCF's retries of failed asynchronous invocations.

An ``Event`` invoke, a COS trigger or a timer trigger of an ordinary function whose attempt
fails (a user exception 430, a timeout 433, memory 434, a crashed process) runs again, as
:mod:`.async_config` describes: up to ``RetryNum`` more attempts (default 2), each
:attr:`AsyncRetries.interval` seconds after the previous one ended (60 s on SCF; an emulator
setting), with the **same request id** and ``retry_num`` counting 1, 2..., the event, trigger and
qualifier of the first attempt, and the function's code and configuration as they are when the
retry starts. A retry that would start more than ``MsgTTL`` seconds after the event was accepted
is dropped, as is one whose function is gone or cannot be invoked then.

Every attempt is its own :class:`~.models.Invocation` record. A failed attempt with a retry to
come carries ``retry_at`` (epoch seconds) until the retry starts; the attempt that ends the event
carries none. Async-execution functions, synchronous invocations and terminated events are never
retried. Retries waiting when the emulator stops are lost (not replayed after a restart).

Due retries are started by one thread sleeping on a condition until the earliest is due: no
polling, and a reset or a shorter interval takes effect at once.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from scf_snova_core.states import ASYNC

from .async_config import RETRY_INTERVAL, msg_ttl, retry_num
from .backend import ScfBackend
from .exceptions import ScfError
from .invocations import InvocationHistory
from .invoker import Invoker
from .models import Invocation

log = logging.getLogger(__name__)


class AsyncRetries:
    """Schedules and starts the retries of failed asynchronous attempts.

    :param backend: where each function's retry settings are read (when an attempt fails) and
        its code resolved (when the retry starts).
    :param history: the invocation records.
    :param invoker: runs the retries; its ``on_async_attempt`` is set to :meth:`attempt_ended`.
    :param interval: seconds from a failed attempt to its retry (changeable at run time).
    :param clock: epoch seconds, replaceable in tests.
    """

    def __init__(
        self,
        backend: ScfBackend,
        history: InvocationHistory,
        invoker: Invoker,
        interval: float = RETRY_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend
        self._history = history
        self._invoker = invoker
        self._interval = max(0.0, float(interval))
        self._clock = clock
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, str]] = []  # (retry at, sequence, attempt key)
        self._sequence = itertools.count()
        self._stopped = False
        self._thread: threading.Thread | None = None
        invoker.on_async_attempt = self.attempt_ended

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        with self._cond:
            self._interval = max(0.0, float(seconds))
            self._cond.notify_all()

    def start(self) -> None:
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="scf-retries", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._due.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def clear(self) -> None:
        """Forget every scheduled retry (a reset)."""
        with self._cond:
            self._due.clear()
            self._cond.notify_all()

    def pending(self) -> int:
        """How many retries are scheduled."""
        with self._cond:
            return len(self._due)

    def release(self) -> int:
        """Make every scheduled retry due now (a test hook); returns how many there are."""
        with self._cond:
            now = self._clock()
            self._due = [(now, sequence, key) for _, sequence, key in self._due]
            heapq.heapify(self._due)
            self._cond.notify_all()
            return len(self._due)

    # -- deciding -------------------------------------------------------------------------------
    def attempt_ended(self, record: Invocation) -> None:
        """Called by the invoker, under the history's lock, when an asynchronous attempt ended:
        schedule its retry when SCF would retry it. Sets ``record.retry_at``; the caller saves
        the record before releasing the lock, so nobody sees the attempt ended without it."""
        if (
            record.status == "success"
            or record.invocation_type != ASYNC
            or record.async_run
            or record.terminated
        ):
            return
        try:
            function = self._backend.get(record.namespace, record.function_name)
        except ScfError:
            log.info("no retry of %s: its function is gone", record.request_id)
            return
        allowed = retry_num(function.async_trigger_config)
        if record.retry_num >= allowed:
            log.info(
                "%s of %s failed on attempt %d; no retries left (RetryNum %d)",
                record.request_id,
                record.function_name,
                record.retry_num + 1,
                allowed,
            )
            return
        with self._cond:
            if self._stopped:
                return
            due = self._clock() + self._interval
            accepted = record.queued_at or record.start_time
            if due > accepted + msg_ttl(function.async_trigger_config):
                log.info(
                    "no retry of %s: it would start after the event's MsgTTL", record.request_id
                )
                return
            record.retry_at = due
            heapq.heappush(self._due, (due, next(self._sequence), record.key))
            self._cond.notify_all()

    # -- starting -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._due or self._due[0][0] > self._clock()):
                    wait = self._due[0][0] - self._clock() if self._due else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _, _, key = heapq.heappop(self._due)
            try:
                self._retry(key)
            except Exception:
                log.exception("the retry of %s failed to start", key)

    def _retry(self, key: str) -> None:
        previous = self._history.get_attempt(key)
        if previous is None or not previous.retry_at:
            return  # forgotten by a reset
        try:
            function, config = self._backend.resolve(
                previous.namespace, previous.function_name, previous.qualifier
            )
        except ScfError as error:
            log.info("retry of %s dropped: %s", previous.request_id, error.message)
            self._history.replace_retry(key, None)
            return
        self._invoker.retry(previous, function, config)
