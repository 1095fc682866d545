"""SCF extra ``scheduler``: a background thread that fires each enabled timer trigger on its cron,
read in SCF's zone (:data:`scf_snova_core.cron.SCF_CRON_TZ`, UTC+8); the event's ``Time`` is UTC.

It sleeps on a condition until the earliest next firing, and is woken early when triggers
change (:meth:`TimerScheduler.poke`). Firings missed while the emulator was down, or while a
firing ran late, are skipped rather than replayed, as SCF does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from scf_snova_core.cron import SCF_CRON_TZ, ScfCron, parse_scf_cron

from .models import Trigger

log = logging.getLogger(__name__)

#: Re-read the triggers at least this often (seconds), even without a poke.
MAX_SLEEP = 30.0

TimerList = Callable[[], list[tuple[str, str, Trigger]]]
Fire = Callable[[str, str, Trigger, datetime], None]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TimerScheduler:
    """Fires timers.

    :param timers: returns ``(namespace, function, trigger)`` for every enabled timer trigger.
    :param fire: called with ``(namespace, function, trigger, scheduled_time)`` when one is due;
        it must return quickly (start an asynchronous invocation).
    :param now: the current aware datetime, replaceable in tests.
    """

    def __init__(self, timers: TimerList, fire: Fire, now: Callable[[], datetime] = _utcnow):
        self._timers = timers
        self._fire = fire
        self._now = now
        self._cond = threading.Condition()
        self._stopped = False
        self._dirty = False
        self._thread: threading.Thread | None = None
        self._crons: dict[str, ScfCron] = {}

    def start(self) -> None:
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="scf-timers", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Triggers changed: recompute the schedule now."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _cron(self, expression: str) -> ScfCron:
        if expression not in self._crons:
            self._crons[expression] = parse_scf_cron(expression, tz=SCF_CRON_TZ)
        return self._crons[expression]

    def _run(self) -> None:
        due: dict[tuple, tuple[tuple[str, str, Trigger], datetime | None]] = {}
        while True:
            with self._cond:
                if self._stopped:
                    return
                self._dirty = False
            try:
                due = self._tick(due)
            except Exception:
                log.exception("timer scheduler failed; retrying")
            upcoming = [when for _, when in due.values() if when is not None]
            wait = MAX_SLEEP
            if upcoming:
                wait = min(wait, max(0.0, (min(upcoming) - self._now()).total_seconds()))
            with self._cond:
                if not self._stopped and not self._dirty:
                    self._cond.wait(wait)

    def _tick(self, due: dict) -> dict:
        now = self._now()
        current = {}
        for namespace, function, trigger in self._timers():
            key = (namespace, function, trigger.name, trigger.desc, trigger.qualifier)
            entry = due.get(key)
            when = entry[1] if entry else self._cron(trigger.desc).next_after(now)
            current[key] = ((namespace, function, trigger), when)
        for key, ((namespace, function, trigger), when) in current.items():
            if when is not None and when <= now:
                try:
                    self._fire(namespace, function, trigger, when)
                except Exception:
                    log.exception("timer %s of %s failed to fire", trigger.name, function)
                current[key] = (
                    (namespace, function, trigger),
                    self._cron(trigger.desc).next_after(now),
                )
        return current
