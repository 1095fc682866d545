"""SCF layer ``wire``: the Tencent Cloud API 3.0 envelope, and models rendered as the objects of
the API's responses.

:func:`send` answers HTTP 200 with ``{"Response": {..., "RequestId"}}`` or, for an
:class:`~.exceptions.ScfError`, ``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``. The
``*_view`` functions turn :mod:`.models` objects into response fields, with the field names and
types of the SDK's models (``tencentcloud.scf.v20180416.models``); :mod:`.responses` calls them.
Timestamps are ``YYYY-MM-DD HH:MM:SS`` in UTC+8, as the API writes them
(:mod:`scf_snova_core.apitime`).
"""

from __future__ import annotations

import json
import math
import uuid

from scf_snova_core.apitime import format_api_time
from scf_snova_core.apitime import parse_api_time as parse_api_time
from scf_snova_core.states import (
    ASYNC,
    DEFAULT_ALIAS,
    INVOKE_RESULT_FAILED,
    INVOKE_RESULT_SUCCESS,
    INVOKE_RESULT_USER_ERROR,
    LATEST,
    RET_CODE_FAILED,
    RET_CODE_RUNNING,
    RET_CODE_SUCCESS,
    STATUS_CODE_USER_EXCEPTION,
)

from ..http import Exchange
from .exceptions import ScfError
from .models import Function, FunctionConfig, Invocation, Trigger

#: The exact response Content-Type: the SDK ignores ``Error`` under any other value.
CONTENT_TYPE = "application/json"


def api_time(epoch: float) -> str:
    return format_api_time(epoch)


_NO_DEAD_LETTER = {"Type": "", "Name": "", "FilterType": ""}


def _flag(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def trigger_desc(trigger: Trigger) -> str:
    """Timers come back wrapped as ``{"cron": ...}``; COS rules as their JSON."""
    if trigger.type == "timer":
        return json.dumps({"cron": trigger.desc}, separators=(",", ":"))
    return trigger.desc


def trigger_view(trigger: Trigger, info: bool = False) -> dict:
    """A ``Trigger`` (GetFunction, CreateTrigger) or, with ``info``, a ``TriggerInfo``
    (ListTriggers)."""
    view = {
        "ModTime": api_time(trigger.mod_time),
        "Type": trigger.type,
        "TriggerDesc": trigger_desc(trigger),
        "TriggerName": trigger.name,
        "AddTime": api_time(trigger.add_time),
        "Enable": 1 if trigger.enabled else 0,
        "CustomArgument": trigger.custom_argument,
        "AvailableStatus": "Available",
        "ResourceId": trigger.resource_id,
        "BindStatus": "on",
        "TriggerAttribute": "",
        "Qualifier": trigger.qualifier,
        "Description": trigger.description,
    }
    if info:
        view["BoundResources"] = ""
    return view


def function_view(
    function: Function,
    config: FunctionConfig,
    qualifier: str,
    log_topic: tuple[str, str] = ("", ""),
) -> dict:
    """The GetFunction response fields.

    :param log_topic: the CLS logset and topic ids the function's logs go to.
    """
    is_latest = qualifier in (LATEST, DEFAULT_ALIAS)
    status = function.status if is_latest or function.status == "Deleting" else "Active"
    add_time = function.add_time if is_latest else function.versions[qualifier].add_time
    return {
        "ModTime": api_time(function.mod_time if is_latest else add_time),
        "CodeInfo": "",
        "Description": config.description,
        "Triggers": [trigger_view(t) for t in function.triggers],
        "Handler": config.handler,
        "CodeSize": config.code_size,
        "Timeout": config.timeout,
        "FunctionVersion": LATEST if is_latest else qualifier,
        "MemorySize": config.memory_size,
        "Runtime": config.runtime,
        "FunctionName": function.name,
        "VpcConfig": {"VpcId": config.vpc_id, "SubnetId": config.subnet_id},
        "UseGpu": "FALSE",
        "Environment": {"Variables": [dict(v) for v in config.environment]},
        "CodeResult": "success",
        "CodeError": "",
        "ErrNo": 0,
        "Namespace": function.namespace,
        "Role": "",
        "InstallDependency": "FALSE",
        "Status": status,
        "StatusDesc": function.status_desc if is_latest else "",
        "ClsLogsetId": log_topic[0],
        "ClsTopicId": log_topic[1],
        "FunctionId": function.function_id,
        "Tags": [dict(t) for t in function.tags],
        "Type": config.type,
        "L5Enable": "FALSE",
        "Layers": [],
        "AddTime": api_time(function.add_time),
        "OnsEnable": "FALSE",
        "AvailableStatus": "Available",
        "Qualifier": LATEST if is_latest else qualifier,
        "InitTimeout": config.init_timeout,
        "StatusReasons": [dict(r) for r in function.status_reasons] if is_latest else [],
        "AsyncRunEnable": _flag(function.async_run),
        "TraceEnable": _flag(function.trace),
        "DeadLetterConfig": dict(function.dead_letter_config or _NO_DEAD_LETTER),
        "ProtocolType": "",
        "DnsCache": "FALSE",
    }


def function_summary(function: Function) -> dict:
    """One element of ListFunctions' ``Functions``."""
    return {
        "ModTime": api_time(function.mod_time),
        "AddTime": api_time(function.add_time),
        "Runtime": function.config.runtime,
        "FunctionName": function.name,
        "FunctionId": function.function_id,
        "Namespace": function.namespace,
        "Status": function.status,
        "StatusDesc": function.status_desc,
        "Description": function.config.description,
        "Tags": [dict(t) for t in function.tags],
        "Type": function.config.type,
        "StatusReasons": [dict(r) for r in function.status_reasons],
        "TotalProvisionedConcurrencyMem": 0,
        "ReservedConcurrencyMem": 0,
        "AsyncRunEnable": _flag(function.async_run),
        "TraceEnable": _flag(function.trace),
    }


def invoke_result(record: Invocation) -> int:
    """``InvokeResult``: 0 success, 1 the user code raised (status 430; ``RetMsg`` is the JSON
    error object), -1 any other failure (timeout, memory, response too large, platform)."""
    if record.status == "success":
        return INVOKE_RESULT_SUCCESS
    if record.status_code == STATUS_CODE_USER_EXCEPTION:
        return INVOKE_RESULT_USER_ERROR
    return INVOKE_RESULT_FAILED


def result_view(record: Invocation, log: str) -> dict:
    """An Invoke/InvokeFunction ``Result``; async invocations carry only the request id."""
    if record.invocation_type == ASYNC:
        return {
            "FunctionRequestId": record.request_id,
            "Duration": 0,
            "BillDuration": 0,
            "MemUsage": 0,
            "RetMsg": "",
            "ErrMsg": "",
            "Log": "",
            "InvokeResult": 0,
        }
    return {
        "FunctionRequestId": record.request_id,
        "Duration": record.duration_ms,
        "BillDuration": math.ceil(record.duration_ms),
        "MemUsage": record.mem_usage,
        "RetMsg": record.ret_msg,
        "ErrMsg": record.err_msg,
        "Log": log,
        "InvokeResult": invoke_result(record),
    }


def request_status_view(record: Invocation) -> dict:
    """One element of GetRequestStatus' ``Data`` (RetCode 0 / 1 running / -1 failed)."""
    ret_code = {"running": RET_CODE_RUNNING, "success": RET_CODE_SUCCESS}.get(
        record.status, RET_CODE_FAILED
    )
    return {
        "FunctionName": record.function_name,
        "RetMsg": record.ret_msg,
        "RequestId": record.request_id,
        "StartTime": api_time(record.start_time),
        "RetCode": ret_code,
        "Duration": record.duration_ms,
        "MemUsage": round(record.mem_usage / 1048576, 4),
        "RetryNum": record.retry_num,
    }


# -- the envelope -------------------------------------------------------------------------------
def new_request_id() -> str:
    return str(uuid.uuid4())


def send(
    exchange: Exchange, request_id: str, fields: dict | None = None, error: ScfError | None = None
) -> None:
    """Answer HTTP 200 with the API 3.0 envelope and exactly ``Content-Type: application/json``.

    :param fields: the action's response fields (success).
    :param error: the API error (failure); takes precedence over ``fields``.
    """
    if error is not None:
        body: dict = {
            "Error": {"Code": error.code, "Message": error.message},
            "RequestId": request_id,
        }
    else:
        body = {**(fields or {}), "RequestId": request_id}
    payload = json.dumps({"Response": body}, ensure_ascii=False).encode("utf-8")
    exchange.respond(200, {"Content-Type": CONTENT_TYPE}, payload)
