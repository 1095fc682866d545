"""A function's invocations as any client sees them on SCF: through CLS and ``GetRequestStatus``.

The emulator's control API lists invocations directly; Tencent Cloud has no such call. What it
offers, and what :class:`InvocationWatcher` uses on both targets:

1. CLS ``SearchLog`` on the function's topic (``ClsTopicId``), query
   ``SCF_FunctionName:"<name>" AND SCF_Namespace:"<ns>"``: every log line of every run, with
   ``SCF_RequestId``, ``SCF_RetryNum`` and ``SCF_StartTime``
   (https://cloud.tencent.com/document/product/583/60336); so the request ids of runs no client
   started (COS and timer triggers);
2. ``GetRequestStatus`` per request id (window from a minute before its start): one record per
   attempt with ``RetCode`` (0 success, -1 failed, 1 running) and ``RetMsg`` (what the function
   returned, or its error).

An attempt is *finished* once ``GetRequestStatus`` settled it and its ``Report`` line reached CLS
(lines arrive in real time; after ``log_grace`` seconds a settled attempt counts as finished
without it). It is *final* when no retry follows: it succeeded, or it failed, is the last attempt
of its run so far, and its ``RetryNum`` has reached the function's async retry count (read when
the wait sees a failure: an earlier failure followed by a retry is not final, whatever the
count is now).

:func:`fire_timer` runs a function as its timer trigger would, for Tencent Cloud, where a timer
cannot be fired by hand: an async invoke of the trigger's qualifier with the event SCF sends
(:func:`scf_snova_core.events.timer_event` with the trigger's ``CustomArgument``). SCF retries it
like a timer's run; only the schedule is not SCF's.
"""

from __future__ import annotations

import json
import time
from typing import Any

from scf_snova_core.apitime import CLOCK_MARGIN, epoch_ms
from scf_snova_core.events import timer_event
from scf_snova_core.limits import CLS_SEARCH_MAX_LIMIT

from airflow_scf_snova.hooks.scf_logs import assemble_log

#: ``RetCode`` of ``GetRequestStatus``.
STATUSES = {0: "success", -1: "failed"}
RUNNING = "running"


class InvocationWatcher:
    """Invocations of functions, read through the public API.

    :param hook: an :class:`~airflow_scf_snova.hooks.scf.SCFHook`.
    :param since: epoch seconds: runs that started earlier are not searched for.
    :param poll_interval: seconds between two looks while waiting.
    :param log_grace: seconds a settled attempt may wait for its ``Report`` line.
    """

    def __init__(
        self, hook: Any, since: float, poll_interval: float = 1.0, log_grace: float = 30.0
    ) -> None:
        self.hook = hook
        self.since = since
        self.poll_interval = poll_interval
        self.log_grace = log_grace
        self._topics: dict[tuple[str, str], str | None] = {}
        self._settled_at: dict[tuple[str, int], float] = {}

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self.hook.namespace

    def _topic(self, function: str, namespace: str) -> str | None:
        if (namespace, function) not in self._topics:
            self._topics[(namespace, function)] = self.hook.function_log_topic(function, namespace)
        return self._topics[(namespace, function)]

    def _records(self, topic: str, function: str, namespace: str) -> list[dict[str, Any]]:
        """Every CLS record of the function since :attr:`since`, page by page."""
        query = f'SCF_FunctionName:"{function}" AND SCF_Namespace:"{namespace}"'
        start, end = epoch_ms(self.since - CLOCK_MARGIN), epoch_ms(time.time() + CLOCK_MARGIN)
        records: list[dict[str, Any]] = []
        while True:
            page = self.hook.search_log(
                topic, query, start, end, CLS_SEARCH_MAX_LIMIT, len(records)
            )
            results = page.get("Results") or []
            for result in results:
                fields = json.loads(result["LogJson"])
                if fields.get("SCF_FunctionName") == function:  # a phrase matches longer names
                    records.append({**fields, "Time": result["Time"]})
            if page.get("ListOver") or len(results) < CLS_SEARCH_MAX_LIMIT:
                return records

    def invocations(self, function: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every attempt of every run of ``function`` CLS has lines of, oldest first: dicts with
        ``request_id``, ``retry_num``, ``status`` (``success``, ``failed``, ``running``),
        ``ret_msg``, ``log``, ``start_time`` (epoch seconds), ``duration_ms`` and ``finished``.

        :param function: the function.
        :param namespace: its namespace (the hook's when omitted).
        :raises LookupError: the function ships its logs to no CLS topic.
        """
        namespace = self._namespace(namespace)
        topic = self._topic(function, namespace)
        if topic is None:
            raise LookupError(f"SCF function {function} ships its logs to no CLS topic")
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {}
        for record in self._records(topic, function, namespace):
            retry = int(record.get("SCF_RetryNum") or 0)
            runs.setdefault(record["SCF_RequestId"], {}).setdefault(retry, []).append(record)
        attempts = []
        for request_id, by_retry in runs.items():
            started = min(int(r["SCF_StartTime"]) for rs in by_retry.values() for r in rs) / 1000
            statuses = {
                int(a.get("RetryNum") or 0): a
                for a in self.hook.get_request_attempts(
                    function, request_id, namespace, invoked_at=started
                )
            }
            for retry in sorted(set(by_retry) | set(statuses)):
                attempts.append(
                    self._attempt(function, request_id, retry, by_retry.get(retry, []), statuses)
                )
        return sorted(attempts, key=lambda a: (a["start_time"], a["retry_num"]))

    def _attempt(
        self,
        function: str,
        request_id: str,
        retry: int,
        records: list[dict[str, Any]],
        statuses: dict[int, dict[str, Any]],
    ) -> dict[str, Any]:
        status_record = statuses.get(retry) or {}
        status = STATUSES.get(status_record.get("RetCode"), RUNNING)
        complete = bool(records) and assemble_log(records).complete  # its Report line is in
        lines = sorted(records, key=lambda r: int(r["Time"]))  # stable: CLS's order within a ms
        starts = [int(r["SCF_StartTime"]) for r in records]
        finished = False
        if status != RUNNING:
            settled = self._settled_at.setdefault((request_id, retry), time.monotonic())
            finished = complete or time.monotonic() - settled > self.log_grace
        return {
            "function_name": function,
            "request_id": request_id,
            "retry_num": retry,
            "status": status,
            "ret_msg": status_record.get("RetMsg") or "",
            "log": "\n".join(str(r.get("SCF_Message", "")) for r in lines),
            "start_time": min(starts) / 1000 if starts else self.since,
            "duration_ms": status_record.get("Duration"),
            "finished": finished,
        }

    def wait_for(
        self,
        count: int,
        function: str,
        final: bool = False,
        timeout: float = 60,
        namespace: str | None = None,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` attempts of ``function`` have finished.

        :param count: how many.
        :param function: the function.
        :param final: count only attempts no retry follows (one per settled run).
        :returns: the finished (or final) attempts, oldest first (at least ``count``).
        :param timeout: seconds.
        :param namespace: its namespace (the hook's when omitted).
        :raises TimeoutError: fewer within ``timeout`` seconds.
        """
        namespace = self._namespace(namespace)
        deadline = time.monotonic() + timeout
        retries: int | None = None
        while True:
            attempts = self.invocations(function, namespace)
            done = [a for a in attempts if a["finished"]]
            if final:
                last = {a["request_id"]: a["retry_num"] for a in attempts}  # oldest first
                failed = [a for a in done if a["status"] == "failed"]
                if retries is None and failed:
                    retries = self.hook.async_retries(function, namespace)
                done = [
                    a
                    for a in done
                    if a["status"] == "success"
                    or (a["retry_num"] == last[a["request_id"]] and a["retry_num"] >= retries)
                ]
            if len(done) >= count:
                return done
            if time.monotonic() + self.poll_interval > deadline:
                raise TimeoutError(
                    f"{len(done)} of {count} {'final ' if final else ''}attempts of {function} "
                    f"finished within {timeout:.0f} s"
                )
            time.sleep(self.poll_interval)


def fire_timer(hook: Any, function: str, trigger_name: str, namespace: str | None = None) -> str:
    """Run ``function`` as its timer trigger ``trigger_name`` would, now: an async invoke with
    the trigger's event, on the trigger's qualifier. Returns the FunctionRequestId.

    :param hook: an SCFHook.
    :param function: the function.
    :param trigger_name: its timer trigger.
    :param namespace: its namespace (the hook's when omitted).
    :raises LookupError: the function has no such timer trigger.
    """
    for trigger in hook.list_triggers(function, namespace):
        if trigger.get("Type") == "timer" and trigger.get("TriggerName") == trigger_name:
            event = timer_event(trigger_name, trigger.get("CustomArgument") or "")
            result = hook.invoke(
                function,
                event,
                invocation_type="Event",
                qualifier=trigger.get("Qualifier") or "$LATEST",
                namespace=namespace,
            )
            return result["FunctionRequestId"]
    raise LookupError(f"SCF function {function} has no timer trigger {trigger_name!r}")
