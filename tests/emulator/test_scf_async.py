"""Asynchronous invocations on the emulator, through the real SDK: SCF's retries of failed async
runs (Event invokes, timers, COS triggers) and their settings, the dead-letter config, and the
async-event actions of async-execution functions (status, list, terminate).

The retry interval is an emulator setting (60 s on SCF): these tests shorten it, or hold retries
back and release them with the control API, so nothing here waits on a clock.
"""

from __future__ import annotations

import json
import time

import pytest
from scf_snova_core.apitime import format_api_time, status_window
from scf_snova_devel.scf_api import (
    RAISES,
    SLEEPS,
    call,
    create_function,
    error_code,
    invoke,
    wait_status,
    zip_b64,
)

FAILS_WHEN_TOLD = """
import os

def main_handler(event, context):
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("told to fail")
    return {"ok": context["request_id"]}
"""

CLEANS_UP_ON_SIGTERM = """
import signal, sys, time

def stop(signum, frame):
    print("SIGTERM received: cleaning up", flush=True)
    sys.exit(3)

signal.signal(signal.SIGTERM, stop)  # at import: in place before the handler runs

def main_handler(event, context):
    time.sleep(60)
"""

ASYNC_RUN = {"AsyncRunEnable": "TRUE", "TraceEnable": "TRUE"}


@pytest.fixture
def retry_interval(emulator):
    """Set the emulator's retry interval for one test (restored afterwards)."""
    saved = emulator.control.settings()["retry_interval"]
    yield emulator.control.set_retry_interval
    emulator.control.set_retry_interval(saved)


def event_invoke(client, name: str, event=None, **params) -> str:
    request = {"FunctionName": name, "InvocationType": "Event", **params}
    if event is not None:
        request["ClientContext"] = json.dumps(event)
    return call(client, "Invoke", request)["Result"]["FunctionRequestId"]


def request_status(client, name: str, request_id: str, since: float) -> list[dict]:
    start, end = status_window(since, time.time())
    return call(
        client,
        "GetRequestStatus",
        {"FunctionName": name, "FunctionRequestId": request_id, "StartTime": start, "EndTime": end},
    )["Data"]


def retry_config(client, name: str, config: dict) -> None:
    call(
        client,
        "UpdateFunctionEventInvokeConfig",
        {"FunctionName": name, "AsyncTriggerConfig": config},
    )


# -- retries of ordinary functions ----------------------------------------------------------------
def test_a_failed_event_invoke_is_retried_twice_with_the_same_request_id(
    emulator, scf_client, unique_name, retry_interval
):
    retry_interval(0.3)
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    since = time.time()
    request_id = event_invoke(scf_client, name)
    [final] = emulator.control.wait_for_invocations(1, name, timeout=30, final=True)
    attempts = emulator.control.invocations(name)
    assert [a["request_id"] for a in attempts] == [request_id] * 3
    assert [a["retry_num"] for a in attempts] == [0, 1, 2]
    assert [a["status_code"] for a in attempts] == [430, 430, 430]
    assert final == attempts[-1] and final["retry_at"] == 0
    for before, after in zip(attempts, attempts[1:], strict=False):
        assert after["start_time"] >= before["end_time"] + 0.3  # one interval after the failure
        assert after["event"] == before["event"] and after["trigger"] == "api"
    assert all(f"START RequestId: {request_id}" in a["log"] for a in attempts)
    assert all("ValueError: boom" in json.loads(a["err_msg"])["stackTrace"] for a in attempts)
    statuses = request_status(scf_client, name, request_id, since)
    assert [(s["RetryNum"], s["RetCode"]) for s in statuses] == [(0, -1), (1, -1), (2, -1)]


def test_a_retry_runs_the_functions_configuration_of_the_moment(
    emulator, scf_client, unique_name, retry_interval
):
    retry_interval(3600)  # held back until released below
    name = unique_name("fn")
    failing = {"Variables": [{"Key": "FAIL", "Value": "1"}]}
    create_function(scf_client, name, source=FAILS_WHEN_TOLD, Environment=failing)
    request_id = event_invoke(scf_client, name)
    [first] = emulator.control.wait_for_invocations(1, name, timeout=30)
    assert first["status_code"] == 430 and first["retry_at"] > time.time() + 3000
    assert emulator.control.wait_for_invocations(0, name, final=True, timeout=1) == []
    call(scf_client, "UpdateFunctionConfiguration", {"FunctionName": name, "Environment": {}})
    wait_status(scf_client, name)
    assert emulator.control.release_retries() == 1
    [done] = emulator.control.wait_for_invocations(1, name, timeout=30, final=True)
    assert (done["request_id"], done["retry_num"], done["status"]) == (request_id, 1, "success")
    assert json.loads(done["ret_msg"]) == {"ok": request_id}


def test_sync_invokes_are_never_retried(emulator, scf_client, unique_name, retry_interval):
    retry_interval(0)
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    result = invoke(scf_client, name)
    assert result["InvokeResult"] != 0
    [only] = emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert only["retry_num"] == 0 and len(emulator.control.invocations(name)) == 1


def test_timer_and_cos_trigger_runs_are_retried(
    emulator, scf_client, unique_name, retry_interval, bucket
):
    retry_interval(0.05)
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    retry_config(scf_client, name, {"RetryConfig": [{"RetryNum": 1}]})
    call(
        scf_client,
        "CreateTrigger",
        {
            "FunctionName": name,
            "TriggerName": "tick",
            "Type": "timer",
            "TriggerDesc": "0 0 1 * * * *",
        },
    )
    host = f"{bucket}.cos.{emulator.config.region}.myqcloud.com"
    call(
        scf_client,
        "CreateTrigger",
        {
            "FunctionName": name,
            "TriggerName": host,
            "Type": "cos",
            "TriggerDesc": json.dumps({"event": "cos:ObjectCreated:*", "filter": {}}),
        },
    )
    timer_id = emulator.control.fire_timer(name, "tick")
    emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    emulator.cos.put_object(bucket, "k.txt", b"x")
    emulator.control.wait_for_invocations(2, name, final=True, timeout=30)
    attempts = emulator.control.invocations(name)
    by_trigger = {
        trigger: [(a["request_id"], a["retry_num"]) for a in attempts if a["trigger"] == trigger]
        for trigger in ("timer", "cos")
    }
    assert by_trigger["timer"] == [(timer_id, 0), (timer_id, 1)]
    cos_attempts = by_trigger["cos"]
    assert [retry for _, retry in cos_attempts] == [0, 1]
    assert cos_attempts[0][0] == cos_attempts[1][0] != timer_id


def test_msg_ttl_drops_a_retry_that_would_start_too_late(
    emulator, scf_client, unique_name, retry_interval
):
    retry_interval(5)
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    retry_config(scf_client, name, {"MsgTTL": 2})
    event_invoke(scf_client, name)
    [only] = emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert only["retry_at"] == 0 and only["status_code"] == 430
    assert emulator.control.release_retries() == 0
    assert len(emulator.control.invocations(name)) == 1


def test_the_retry_settings_api(emulator, scf_client, unique_name, retry_interval):
    retry_interval(0)
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)

    def current(**params):
        return call(scf_client, "GetFunctionEventInvokeConfig", {"FunctionName": name, **params})[
            "AsyncTriggerConfig"
        ]

    assert current() == {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}  # SCF's defaults
    retry_config(scf_client, name, {"RetryConfig": [{"RetryNum": 1}, {"RetryNum": -1}]})
    assert current(Qualifier="$LATEST") == {
        "RetryConfig": [{"RetryNum": 1}, {"RetryNum": -1}],  # stored as sent
        "MsgTTL": 21600,
    }
    retry_config(scf_client, name, {"RetryConfig": [{"RetryNum": 0}], "MsgTTL": 600})
    assert current() == {"RetryConfig": [{"RetryNum": 0}], "MsgTTL": 600}
    event_invoke(scf_client, name)
    emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert len(emulator.control.invocations(name)) == 1  # RetryNum 0: no retry

    def refused(config) -> str:
        return error_code(
            scf_client,
            "UpdateFunctionEventInvokeConfig",
            {"FunctionName": name, "AsyncTriggerConfig": config},
        )

    assert refused({"RetryConfig": [{"RetryNum": 3}]}) == "LimitExceeded.RetryNum"
    assert refused({"MsgTTL": 21601}) == "LimitExceeded.MsgTTL"
    assert refused({"RetryConfig": []}) == "InvalidParameterValue.AsyncTriggerConfig"
    assert refused({"MsgTTL": 0}) == "InvalidParameterValue.AsyncTriggerConfig"
    negative = {"RetryConfig": [{"RetryNum": -1}]}
    assert refused(negative) == "InvalidParameterValue.AsyncTriggerConfig"
    assert (
        error_code(scf_client, "UpdateFunctionEventInvokeConfig", {"FunctionName": name})
        == "MissingParameter"
    )
    assert (
        error_code(
            scf_client, "GetFunctionEventInvokeConfig", {"FunctionName": name, "Qualifier": "9"}
        )
        == "ResourceNotFound.Version"
    )
    assert (
        error_code(
            scf_client, "GetFunctionEventInvokeConfig", {"FunctionName": unique_name("missing")}
        )
        == "ResourceNotFound.Function"
    )


def test_the_dead_letter_config_is_stored_and_returned(scf_client, unique_name):
    name = unique_name("fn")
    queue = {"Type": "CMQ-QUEUE", "Name": "failed-imports", "FilterType": ""}
    function = create_function(scf_client, name, DeadLetterConfig=queue)
    assert function["DeadLetterConfig"] == queue
    topic = {"Type": "CMQ-TOPIC", "Name": "alerts", "FilterType": "tag"}
    call(
        scf_client, "UpdateFunctionConfiguration", {"FunctionName": name, "DeadLetterConfig": topic}
    )
    wait_status(scf_client, name)
    assert call(scf_client, "GetFunction", {"FunctionName": name})["DeadLetterConfig"] == topic
    for bad in (
        {"Type": "CMQ-QUEUE"},
        {"Type": "", "Name": "x"},
        {"Type": "CMQ-QUEUE", "Name": ""},
    ):
        code = error_code(
            scf_client,
            "UpdateFunctionConfiguration",
            {"FunctionName": name, "DeadLetterConfig": bad},
        )
        assert code == "InvalidParameterValue.DeadLetterConfig", bad


# -- async-execution functions --------------------------------------------------------------------
def test_async_execution_is_chosen_at_creation(scf_client, unique_name):
    name = unique_name("fn")
    function = create_function(scf_client, name, source=SLEEPS, Timeout=3600, **ASYNC_RUN)
    assert (function["AsyncRunEnable"], function["TraceEnable"], function["Timeout"]) == (
        "TRUE",
        "TRUE",
        3600,  # async execution runs up to 24 hours
    )
    listed = call(scf_client, "ListFunctions", {"SearchKey": name})["Functions"]
    assert [(f["AsyncRunEnable"], f["TraceEnable"]) for f in listed] == [("TRUE", "TRUE")]
    ordinary = unique_name("fn")
    assert create_function(scf_client, ordinary)["AsyncRunEnable"] == "FALSE"
    async_only = [{"Name": "AsyncRunEnable", "Values": ["TRUE"]}]
    found = call(scf_client, "ListFunctions", {"Filters": async_only, "Limit": 100})["Functions"]
    assert name in [f["FunctionName"] for f in found]
    assert ordinary not in [f["FunctionName"] for f in found]
    assert (
        error_code(
            scf_client, "UpdateFunctionConfiguration", {"FunctionName": ordinary, "Timeout": 3600}
        )
        == "LimitExceeded.Timeout"
    )


def test_async_flags_are_checked(scf_client, unique_name):
    base = {
        "Runtime": "Python3.10",
        "Handler": "index.main_handler",
        "Code": {"ZipFile": zip_b64()},
    }
    assert (
        error_code(
            scf_client,
            "CreateFunction",
            {"FunctionName": unique_name("fn"), "TraceEnable": "TRUE", **base},
        )
        == "InvalidParameterValue.TraceEnable"
    )
    assert (
        error_code(
            scf_client,
            "CreateFunction",
            {"FunctionName": unique_name("fn"), "AsyncRunEnable": "yes", **base},
        )
        == "InvalidParameterValue.AsyncRunEnable"
    )
    assert (
        error_code(
            scf_client,
            "CreateFunction",
            {"FunctionName": unique_name("fn"), "Timeout": 3600, **base},
        )
        == "LimitExceeded.Timeout"
    )
    assert (
        error_code(
            scf_client,
            "CreateFunction",
            {"FunctionName": unique_name("fn"), "Timeout": 86401, "AsyncRunEnable": "TRUE", **base},
        )
        == "LimitExceeded.Timeout"
    )


def test_an_async_execution_function_answers_at_once_and_its_event_has_a_status(
    emulator, scf_client, unique_name
):
    name = unique_name("fn")
    create_function(scf_client, name, source=FAILS_WHEN_TOLD, **ASYNC_RUN)
    result = invoke(scf_client, name)  # even a sync Invoke is answered with the request id only
    request_id = result["FunctionRequestId"]
    assert (result["RetMsg"], result["Log"], result["InvokeResult"]) == ("", "", 0)
    [record] = emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert record["request_id"] == request_id and record["async_run"] is True
    status = call(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": request_id})["Result"]
    assert status == {"Status": "FINISHED", "StatusCode": 200, "InvokeRequestId": request_id}


def test_an_async_execution_function_is_never_retried(
    emulator, scf_client, unique_name, retry_interval
):
    retry_interval(0)
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES, **ASYNC_RUN)
    assert (
        error_code(
            scf_client,
            "UpdateFunctionEventInvokeConfig",
            {"FunctionName": name, "AsyncTriggerConfig": {"RetryConfig": [{"RetryNum": 1}]}},
        )
        == "UnsupportedOperation.UpdateFunctionEventInvokeConfig"
    )
    config = call(scf_client, "GetFunctionEventInvokeConfig", {"FunctionName": name})
    assert config["AsyncTriggerConfig"]["RetryConfig"] == [{"RetryNum": 0}]
    request_id = event_invoke(scf_client, name)
    emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert len(emulator.control.invocations(name)) == 1
    status = call(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": request_id})["Result"]
    assert (status["Status"], status["StatusCode"]) == ("FAILED", 430)


def test_list_async_events_filters_and_needs_tracing(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(
        scf_client,
        name,
        source=FAILS_WHEN_TOLD,
        Environment={"Variables": [{"Key": "FAIL", "Value": "1"}]},
        **ASYNC_RUN,
    )
    first, second = event_invoke(scf_client, name), event_invoke(scf_client, name)
    emulator.control.wait_for_invocations(2, name, final=True, timeout=30)

    def listed(**params):
        answer = call(scf_client, "ListAsyncEvents", {"FunctionName": name, **params})
        return answer["TotalCount"], [e["InvokeRequestId"] for e in answer["EventList"]]

    assert listed() == (2, [second, first])  # newest first
    assert listed(Order="ASC") == (2, [first, second])
    assert listed(Order="ASC", Limit=1, Offset=1) == (2, [second])
    assert listed(Status=["FAILED"]) == (2, [second, first])
    assert listed(Status=["FINISHED", "RUNNING"]) == (0, [])
    assert listed(InvokeRequestId=first) == (1, [first])
    past = {"Start": "2000-01-01 00:00:00", "End": "2000-01-02 00:00:00"}
    assert listed(StartTimeInterval=past) == (0, [])
    now = {"Start": format_api_time(time.time() - 600), "End": format_api_time(time.time() + 60)}
    assert listed(StartTimeInterval=now, EndTimeInterval=now)[0] == 2
    event = call(scf_client, "ListAsyncEvents", {"FunctionName": name, "Limit": 1})["EventList"][0]
    assert (event["Status"], event["Qualifier"]) == ("FAILED", "$LATEST")
    assert event["InvokeType"] == "api"
    assert event["StartTime"] <= event["EndTime"] and "." in event["EndTime"]
    assert (
        error_code(scf_client, "ListAsyncEvents", {"FunctionName": name, "Status": ["DONE"]})
        == "InvalidParameterValue.Status"
    )
    untraced = unique_name("fn")
    create_function(scf_client, untraced, AsyncRunEnable="TRUE")
    assert (
        error_code(scf_client, "ListAsyncEvents", {"FunctionName": untraced})
        == "UnsupportedOperation"
    )


def test_terminate_async_event_kills_a_running_event(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=SLEEPS, Timeout=600, **ASYNC_RUN)
    request_id = event_invoke(scf_client, name, {"seconds": 60})
    assert (
        call(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": request_id})["Result"]["Status"]
        == "RUNNING"
    )
    started = time.monotonic()
    call(scf_client, "TerminateAsyncEvent", {"FunctionName": name, "InvokeRequestId": request_id})
    [record] = emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert time.monotonic() - started < 30  # not the 60 s sleep
    assert record["terminated"] is True and record["status_code"] == 439
    status = call(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": request_id})["Result"]
    assert (status["Status"], status["StatusCode"]) == ("ABORTED", 439)
    assert (
        error_code(
            scf_client, "TerminateAsyncEvent", {"FunctionName": name, "InvokeRequestId": request_id}
        )
        == "FailedOperation.AsyncEventStatus"
    )
    assert (
        error_code(
            scf_client, "TerminateAsyncEvent", {"FunctionName": name, "InvokeRequestId": "nope"}
        )
        == "ResourceNotFound.AsyncEvent"
    )


def test_a_graceful_terminate_sends_sigterm(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=CLEANS_UP_ON_SIGTERM, Timeout=600, **ASYNC_RUN)
    handled = event_invoke(scf_client, name)
    unhandled_fn = unique_name("fn")
    create_function(scf_client, unhandled_fn, source=SLEEPS, Timeout=600, **ASYNC_RUN)
    unhandled = event_invoke(scf_client, unhandled_fn, {"seconds": 60})
    for function, request_id in ((name, handled), (unhandled_fn, unhandled)):
        call(
            scf_client,
            "TerminateAsyncEvent",
            {"FunctionName": function, "InvokeRequestId": request_id, "GraceShutdown": True},
        )
    [cleaned] = emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert "SIGTERM received: cleaning up" in cleaned["log"]
    [killed] = emulator.control.wait_for_invocations(1, unhandled_fn, final=True, timeout=30)
    assert "User process exit when running" in killed["err_msg"]
    for request_id in (handled, unhandled):
        status = call(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": request_id})
        assert status["Result"]["Status"] == "ABORTED"


def test_async_event_actions_refuse_ordinary_functions(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    request_id = event_invoke(scf_client, name)
    emulator.control.wait_for_invocations(1, name, final=True, timeout=30)
    assert (
        error_code(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": request_id})
        == "UnsupportedOperation"
    )
    assert (
        error_code(
            scf_client, "TerminateAsyncEvent", {"FunctionName": name, "InvokeRequestId": request_id}
        )
        == "UnsupportedOperation"
    )
    assert error_code(scf_client, "ListAsyncEvents", {"FunctionName": name}) == (
        "UnsupportedOperation"
    )
    assert (
        error_code(scf_client, "GetAsyncEventStatus", {"InvokeRequestId": "no-such-event"})
        == "ResourceNotFound.AsyncEvent"
    )


def test_the_retry_control_routes_over_http(emulator, scf_client, unique_name, retry_interval):
    import requests

    base = f"{emulator.endpoint}/_emulator"
    assert (
        requests.post(f"{base}/settings", json={"retry_interval": 3600}, timeout=10).json()[
            "retry_interval"
        ]
        == 3600
    )
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    retry_config(scf_client, name, {"RetryConfig": [{"RetryNum": 1}]})
    request_id = event_invoke(scf_client, name)
    waited = requests.post(
        f"{base}/invocations/wait", json={"count": 1, "function_name": name}, timeout=40
    ).json()["invocations"]
    assert [(w["request_id"], w["retry_num"]) for w in waited] == [(request_id, 0)]
    assert waited[0]["retry_at"] > 0  # the retry is held back for an hour
    not_final = requests.post(
        f"{base}/invocations/wait",
        json={"count": 1, "function_name": name, "final": True, "timeout": 0.2},
        timeout=30,
    )
    assert not_final.status_code == 408
    released = requests.post(f"{base}/retries/release", timeout=10).json()
    assert released["released"] >= 1  # ours (and any other test's retry still due)
    final = requests.post(
        f"{base}/invocations/wait",
        json={"count": 1, "function_name": name, "final": True},
        timeout=40,
    ).json()["invocations"]
    assert [(f["request_id"], f["retry_num"], f["retry_at"]) for f in final] == [(request_id, 1, 0)]
