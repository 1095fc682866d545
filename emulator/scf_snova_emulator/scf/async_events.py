"""SCF layer ``responses`` (async part): the actions of a function's asynchronous side.

- ``UpdateFunctionEventInvokeConfig`` / ``GetFunctionEventInvokeConfig``: the async retry
  settings (:mod:`.async_config`) that :mod:`.retries` applies;
- ``GetAsyncEventStatus``, ``ListAsyncEvents``, ``TerminateAsyncEvent``: the events of
  **async-execution functions** (``AsyncRunEnable="TRUE"``) only, as SCF documents ("本文涉及功能
  仅支持异步执行函数", https://cloud.tencent.com/document/product/583/65704); ``ListAsyncEvents``
  also needs status tracing (``TraceEnable="TRUE"``). For any other function they answer
  ``UnsupportedOperation``: SCF names no error code for that case, the emulator picks the
  SDK's generic "操作不支持". An event's status is ``RUNNING``, ``FINISHED``, ``ABORTED``
  (terminated) or ``FAILED``, readable for 3 x 24 hours after it ended.

:class:`~.responses.ScfResponses` inherits these methods; they use its backend, history and
invoker.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from scf_snova_core.apitime import API_TIME_FORMAT, API_TIMEZONE
from scf_snova_core.states import LATEST

from . import validation as v
from .async_config import (
    ABORTED,
    EVENT_STATUS_KEPT,
    EVENT_STATUSES,
    FAILED,
    FINISHED,
    RUNNING,
    default_trigger_config,
    trigger_config,
)
from .exceptions import (
    FailedOperation,
    InvalidParameterValue,
    MissingParameter,
    ResourceNotFound,
    UnsupportedOperation,
)
from .models import Invocation

if TYPE_CHECKING:
    from .backend import ScfBackend
    from .invocations import InvocationHistory
    from .invoker import Invoker

#: ``AsyncEvent`` times: "%Y-%m-%d %H:%M:%S.%f" (the SDK's ``AsyncEvent`` model), in UTC+8.
EVENT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def event_status(record: Invocation) -> str:
    """The async-event status of an execution record."""
    if not record.finished:
        return RUNNING
    if record.terminated:
        return ABORTED
    return FINISHED if record.status == "success" else FAILED


def _event_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, API_TIMEZONE).strftime(EVENT_TIME_FORMAT)


def _parse_interval(p: dict, name: str) -> tuple[float, float] | None:
    value = p.get(name)
    if value is None:
        return None
    try:
        bounds = [
            datetime.strptime(value[k], API_TIME_FORMAT).replace(tzinfo=API_TIMEZONE).timestamp()
            for k in ("Start", "End")
        ]
    except (TypeError, KeyError, ValueError) as exc:
        raise InvalidParameterValue(
            name, f'{name} must be {{"Start", "End"}} as "YYYY-MM-DD HH:MM:SS"'
        ) from exc
    return bounds[0], bounds[1]


def _in(interval: tuple[float, float] | None, epoch: float | None) -> bool:
    if interval is None:
        return True
    return epoch is not None and interval[0] <= epoch < interval[1]  # [Start, End)


class AsyncEventActions:
    """The asynchronous actions of :class:`~.responses.ScfResponses`."""

    _backend: ScfBackend
    _history: InvocationHistory
    _invoker: Invoker

    # -- async retry settings -------------------------------------------------------------------
    def update_function_event_invoke_config(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        if p.get("AsyncTriggerConfig") is None:
            raise MissingParameter(None, "the parameter AsyncTriggerConfig is required")
        function = self._backend.get(namespace, name)
        if function.async_run:
            raise UnsupportedOperation(
                "UpdateFunctionEventInvokeConfig",
                f"function {name!r} runs in async-execution mode, which has no error retries",
            )
        config = trigger_config(p["AsyncTriggerConfig"], function.async_trigger_config)
        self._backend.set_async_settings(namespace, name, async_trigger_config=config)
        return {}

    def get_function_event_invoke_config(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        qualifier = v.string(p, "Qualifier", LATEST) or LATEST
        function = self._backend.get(namespace, name)
        if function.config_for(qualifier) is None:
            raise ResourceNotFound(
                "Version", f"version {qualifier!r} of function {name!r} does not exist"
            )
        config = dict(function.async_trigger_config or default_trigger_config())
        if function.async_run:  # never retried, whatever is stored
            config["RetryConfig"] = [{"RetryNum": 0}]
        return {"AsyncTriggerConfig": config}

    # -- async events ---------------------------------------------------------------------------
    def _async_event(self, request_id: str) -> Invocation:
        record = self._history.get(request_id)
        if record is None:
            raise ResourceNotFound("AsyncEvent", f"async event {request_id!r} does not exist")
        if not record.async_run:
            raise UnsupportedOperation(
                None,
                f"{request_id!r} is an invocation of {record.function_name!r}, which is not an "
                "async-execution function (AsyncRunEnable): the async-event actions serve only "
                "those; use GetRequestStatus",
            )
        expired = record.end_time and time.time() - record.end_time > EVENT_STATUS_KEPT
        if record.finished and expired:
            raise ResourceNotFound("AsyncEvent", f"async event {request_id!r} has expired")
        return record

    def get_async_event_status(self, p: dict) -> dict:
        record = self._async_event(v.string(p, "InvokeRequestId", required=True))
        return {
            "Result": {
                "Status": event_status(record),
                "StatusCode": record.status_code,
                "InvokeRequestId": record.request_id,
            }
        }

    def list_async_events(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        function = self._backend.get(namespace, name)
        if not (function.async_run and function.trace):
            raise UnsupportedOperation(
                None,
                f"ListAsyncEvents needs an async-execution function with status tracing "
                f"(AsyncRunEnable and TraceEnable); {name!r} has "
                f"AsyncRunEnable={'TRUE' if function.async_run else 'FALSE'}, "
                f"TraceEnable={'TRUE' if function.trace else 'FALSE'}",
            )
        offset, limit = v.paging(p, default_limit=20, max_limit=100)
        descending = v.order(p, "Order", "DESC")
        order_by = v.string(p, "Orderby", "StartTime") or "StartTime"
        if order_by not in ("StartTime", "EndTime"):
            raise InvalidParameterValue("Orderby", "Orderby must be StartTime or EndTime")
        statuses = p.get("Status") or []
        if not isinstance(statuses, list) or not set(statuses) <= set(EVENT_STATUSES):
            raise InvalidParameterValue("Status", f"Status must be a list of {EVENT_STATUSES}")
        invoke_types = p.get("InvokeType") or []
        qualifier = v.string(p, "Qualifier")
        request_id = v.string(p, "InvokeRequestId")
        started = _parse_interval(p, "StartTimeInterval")
        ended = _parse_interval(p, "EndTimeInterval")
        oldest = time.time() - EVENT_STATUS_KEPT
        records = self._history.select(
            lambda r: (
                r.async_run
                and r.namespace == namespace
                and r.function_name == name
                and r.start_time >= oldest
                and (not qualifier or r.qualifier == qualifier)
                and (not request_id or r.request_id == request_id)
                and (not invoke_types or r.trigger in invoke_types)
                and (not statuses or event_status(r) in statuses)
                and _in(started, r.start_time)
                and _in(ended, r.end_time if r.finished else None)
            )
        )
        key = (lambda r: r.start_time) if order_by == "StartTime" else (lambda r: r.end_time)
        records.sort(key=key, reverse=descending)
        return {
            "TotalCount": len(records),
            "EventList": [
                {
                    "InvokeRequestId": r.request_id,
                    "InvokeType": r.trigger,
                    "Qualifier": r.qualifier,
                    "Status": event_status(r),
                    "StartTime": _event_time(r.start_time),
                    "EndTime": _event_time(r.end_time) if r.finished else "",
                }
                for r in records[offset : offset + limit]
            ],
        }

    def terminate_async_event(self, p: dict) -> dict:
        namespace, name = v.namespace(p), v.function_name(p)
        request_id = v.string(p, "InvokeRequestId", required=True)
        graceful = p.get("GraceShutdown", False)
        if not isinstance(graceful, bool):
            raise InvalidParameterValue("GraceShutdown", "GraceShutdown must be a boolean")
        self._backend.get(namespace, name)
        record = self._async_event(request_id)
        if (record.namespace, record.function_name) != (namespace, name):
            raise ResourceNotFound(
                "AsyncEvent", f"async event {request_id!r} is not an event of function {name!r}"
            )
        if record.finished or not self._invoker.terminate(request_id, graceful):
            current = self._history.get(request_id) or record
            raise FailedOperation(
                "AsyncEventStatus",
                f"async event {request_id!r} is {event_status(current)}: only a RUNNING event "
                "can be terminated",
            )
        return {}
