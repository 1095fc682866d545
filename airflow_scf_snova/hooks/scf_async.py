"""SCF's asynchronous side: the async retry settings of a function, and the events of
async-execution functions. Part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`.

Two kinds of asynchronous runs exist on SCF, tracked differently:

- an **ordinary function** invoked with ``InvocationType=Event`` (or by a COS or timer trigger)
  runs, and **a failed run is retried** with the same request id: by default twice, one minute
  apart, while the event is younger than its message TTL (``MsgTTL``, default 6 hours), as set
  with ``UpdateFunctionEventInvokeConfig``. Such a run is followed with ``GetRequestStatus``
  (one record per attempt, ``RetryNum`` 0, 1, 2...) and **cannot be stopped**;
- an **async-execution function** (created with ``AsyncRunEnable="TRUE"``; the mode cannot be
  changed later) answers every invocation at once with the event's request id, runs up to
  24 hours and is **never retried**. Its events are followed with ``GetAsyncEventStatus``
  (``RUNNING``, ``FINISHED``, ``ABORTED``, ``FAILED``), listed with ``ListAsyncEvents`` (with
  status tracing, ``TraceEnable="TRUE"``) and stopped with ``TerminateAsyncEvent``; these
  actions serve no other function.

Sources: https://cloud.tencent.com/document/product/583/41138 (errors and retries),
https://cloud.tencent.com/document/product/583/51519 (async execution),
https://cloud.tencent.com/document/product/583/65704 (async event management) and the models of
``tencentcloud-sdk-python-scf``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from scf_snova_core.apitime import status_window
from scf_snova_core.states import RET_CODE_RUNNING, RET_CODE_SUCCESS

from airflow_scf_snova.hooks.scf_client import SCFClientHook

#: SCF's async retry count when none was configured.
DEFAULT_ASYNC_RETRIES = 2
#: The statuses of an async-execution function's event.
EVENT_RUNNING, EVENT_FINISHED, EVENT_ABORTED, EVENT_FAILED = (
    "RUNNING",
    "FINISHED",
    "ABORTED",
    "FAILED",
)


def latest_attempt(records: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The ``GetRequestStatus`` record of the last attempt (highest ``RetryNum``), or ``None``."""
    found = [dict(r) for r in records]
    if not found:
        return None
    return max(found, key=lambda r: r.get("RetryNum") or 0)


def is_settled(status: Mapping[str, Any] | None, retries: int | None) -> bool:
    """Whether an asynchronous invocation of an ordinary function is over, given the
    ``GetRequestStatus`` record of its last attempt: it succeeded, or it failed and SCF will not
    retry it (``RetryNum`` reached ``retries``; ``None``: unknown, so any failure counts as
    final). A run still going, or a failed attempt with retries left, is not settled."""
    if status is None or status.get("RetCode") == RET_CODE_RUNNING:
        return False
    if status.get("RetCode") == RET_CODE_SUCCESS or retries is None:
        return True
    return (status.get("RetryNum") or 0) >= retries


class RetryFollower:
    """Follows one asynchronous invocation of an ordinary function through SCF's retries.

    :meth:`settled` says whether the ``GetRequestStatus`` record of its last attempt ends it; the
    function's retry count is read (``GetFunctionEventInvokeConfig``) the first time an attempt
    has failed, and each failed attempt with a retry to come is logged once.

    :param hook: the hook to read the retry count with.
    :param retries: the retry count, when the caller knows it already.
    """

    def __init__(
        self,
        hook: SCFAsyncMixin,
        function_name: str,
        namespace: str | None = None,
        retries: int | None = None,
    ) -> None:
        self.hook = hook
        self.function_name = function_name
        self.namespace = namespace
        self.retries = retries
        self._reported: set[int] = set()

    def settled(self, status: Mapping[str, Any] | None) -> bool:
        if status is None or status.get("RetCode") == RET_CODE_RUNNING:
            return False
        if status.get("RetCode") == RET_CODE_SUCCESS:
            return True
        if self.retries is None:
            self.retries = self.hook.async_retries(self.function_name, self.namespace)
        if is_settled(status, self.retries):
            return True
        attempt = int(status.get("RetryNum") or 0)
        if attempt not in self._reported:
            self._reported.add(attempt)
            self.hook.log.warning(
                "Attempt %d of SCF invocation %s of %s failed; SCF retries it (%d of %d "
                "retries used): %s",
                attempt + 1,
                status.get("RequestId"),
                self.function_name,
                attempt,
                self.retries,
                status.get("RetMsg"),
            )
        return False


class SCFAsyncMixin(SCFClientHook):
    """The asynchronous part of :class:`~airflow_scf_snova.hooks.scf.SCFHook`."""

    # -- async retry settings (ordinary functions) -------------------------------------------------
    def get_event_invoke_config(
        self, function_name: str, namespace: str | None = None, qualifier: str | None = None
    ) -> dict[str, Any]:
        """``GetFunctionEventInvokeConfig``: ``{"RetryConfig": [{"RetryNum": n}], "MsgTTL": s}``."""
        response = self.call(
            "GetFunctionEventInvokeConfig",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "Qualifier": qualifier,
            },
        )
        return response.get("AsyncTriggerConfig") or {}

    def async_retries(self, function_name: str, namespace: str | None = None) -> int:
        """How often SCF retries a failed asynchronous run of the function (the first
        ``RetryConfig`` element)."""
        config = self.get_event_invoke_config(function_name, namespace)
        retry = config.get("RetryConfig") or [{"RetryNum": DEFAULT_ASYNC_RETRIES}]
        return int(retry[0].get("RetryNum") or 0)

    def update_event_invoke_config(
        self,
        function_name: str,
        retries: int | None = None,
        message_ttl: int | None = None,
        namespace: str | None = None,
    ) -> None:
        """``UpdateFunctionEventInvokeConfig``: the retry count and/or the message TTL
        (seconds); what is ``None`` is not sent, so SCF keeps it."""
        config: dict[str, Any] = {}
        if retries is not None:
            config["RetryConfig"] = [{"RetryNum": retries}]
        if message_ttl is not None:
            config["MsgTTL"] = message_ttl
        self.call(
            "UpdateFunctionEventInvokeConfig",
            {
                "FunctionName": function_name,
                "Namespace": self._ns(namespace),
                "AsyncTriggerConfig": config,
            },
        )

    def ensure_event_invoke_config(
        self,
        function_name: str,
        retries: int | None = None,
        message_ttl: int | None = None,
        namespace: str | None = None,
    ) -> bool:
        """Set the async retry count and message TTL when they differ from these (``None``
        leaves one as it is); returns whether anything was sent."""
        if retries is None and message_ttl is None:
            return False
        current = self.get_event_invoke_config(function_name, namespace)
        retry = current.get("RetryConfig") or [{"RetryNum": DEFAULT_ASYNC_RETRIES}]
        if (retries is None or retry[0].get("RetryNum") == retries) and (
            message_ttl is None or current.get("MsgTTL") == message_ttl
        ):
            return False
        self.update_event_invoke_config(function_name, retries, message_ttl, namespace)
        self.log.info(
            "Set the async retries of SCF function %s: RetryNum %s, MsgTTL %s s",
            function_name,
            retries if retries is not None else "unchanged",
            message_ttl if message_ttl is not None else "unchanged",
        )
        return True

    # -- invocations of ordinary functions --------------------------------------------------------
    def get_request_attempts(
        self,
        function_name: str,
        function_request_id: str,
        namespace: str | None = None,
        invoked_at: float | None = None,
    ) -> list[dict[str, Any]]:
        """``GetRequestStatus``: one record per attempt of the execution (``RetryNum`` 0, 1...),
        searched from a minute before ``invoked_at`` (epoch seconds; unknown: the last day) until
        a minute after now (:func:`scf_snova_core.apitime.status_window`)."""
        start, end = status_window(invoked_at, time.time())
        response = self.call(
            "GetRequestStatus",
            {
                "FunctionName": function_name,
                "FunctionRequestId": function_request_id,
                "Namespace": self._ns(namespace),
                "StartTime": start,
                "EndTime": end,
            },
        )
        return list(response.get("Data") or [])

    # -- async-execution functions ----------------------------------------------------------------
    def is_async_run(self, function_name: str, namespace: str | None = None) -> bool:
        """Whether the function runs in async-execution mode (``AsyncRunEnable``)."""
        function = self.call(
            "GetFunction", {"FunctionName": function_name, "Namespace": self._ns(namespace)}
        )
        return function.get("AsyncRunEnable") == "TRUE"

    def get_async_event_status(self, invoke_request_id: str) -> dict[str, Any]:
        """``GetAsyncEventStatus`` of an async-execution function's event: ``Status``
        (``RUNNING``, ``FINISHED``, ``ABORTED``, ``FAILED``), ``StatusCode``,
        ``InvokeRequestId``."""
        response = self.call("GetAsyncEventStatus", {"InvokeRequestId": invoke_request_id})
        return response.get("Result") or {}

    def list_async_events(
        self,
        function_name: str,
        namespace: str | None = None,
        qualifier: str | None = None,
        statuses: Iterable[str] | None = None,
        invoke_request_id: str | None = None,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        """``ListAsyncEvents``, every page, newest first (the function needs status tracing)."""
        params = {
            "FunctionName": function_name,
            "Namespace": self._ns(namespace),
            "Qualifier": qualifier,
            "Status": list(statuses) if statuses else None,
            "InvokeRequestId": invoke_request_id,
        }
        return self.list_all("ListAsyncEvents", params, "EventList", page_size)

    def terminate_async_event(
        self,
        function_name: str,
        invoke_request_id: str,
        grace_shutdown: bool = False,
        namespace: str | None = None,
    ) -> None:
        """``TerminateAsyncEvent``: stop a running event of an async-execution function, at once
        or (``grace_shutdown``) by sending its process SIGTERM."""
        self.call(
            "TerminateAsyncEvent",
            {
                "FunctionName": function_name,
                "InvokeRequestId": invoke_request_id,
                "Namespace": self._ns(namespace),
                "GraceShutdown": grace_shutdown,
            },
        )
