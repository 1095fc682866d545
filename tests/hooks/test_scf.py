"""SCFHook against the emulator through the real tencentcloud SDK: calls, errors, retries, waits."""

from __future__ import annotations

import json
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException
from scf_snova_core.apitime import status_window
from scf_snova_core.limits import ASYNC_PAYLOAD_LIMIT, SYNC_PAYLOAD_LIMIT
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SCFFunctionExecutionError,
    SCFFunctionStateError,
    SCFWaitTimeoutError,
    TencentCloudAuthError,
    TencentCloudThrottledError,
)
from airflow_scf_snova.hooks.scf_logs import assemble_log
from airflow_scf_snova.scf.environment import environment_variables
from airflow_scf_snova.scf.packaging import package_directory
from airflow_scf_snova.scf.payloads import (
    decode_return_value,
    encode_payload,
    function_error,
    is_log_truncated,
)


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def echo(hook, unique_name):
    name = unique_name("echo")
    deploy_echo(hook, name, environment={"GREETING": "hi"})
    yield name
    delete_quietly(hook, name)


# -- payloads and results (pure) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param({"a": [1, "é"]}, '{"a": [1, "é"]}', id="dict"),
        pytest.param('{"b": 2}', '{"b": 2}', id="json string kept as is"),
        pytest.param(b"[1, 2]", "[1, 2]", id="json bytes"),
        pytest.param(7, "7", id="scalar"),
    ],
)
def test_encode_payload_accepts_json(payload, expected):
    assert encode_payload(payload) == expected


@pytest.mark.parametrize(
    ("payload", "invocation_type", "message"),
    [
        pytest.param("{not json", "RequestResponse", "not valid JSON", id="bad string"),
        pytest.param({"when": object()}, "RequestResponse", "JSON-serialisable", id="object"),
        pytest.param({"x": float("nan")}, "RequestResponse", "JSON-serialisable", id="nan"),
        pytest.param("x" * (ASYNC_PAYLOAD_LIMIT + 1), "Event", "128 KB", id="async too big"),
        pytest.param({"a": 1}, "Async", "invocation_type", id="bad type"),
    ],
)
def test_encode_payload_rejects_early_with_a_clear_message(payload, invocation_type, message):
    if isinstance(payload, str) and invocation_type == "Event":
        payload = json.dumps(payload)  # valid JSON, only too large
    with pytest.raises(InvalidInputError, match=message):
        encode_payload(payload, invocation_type)


def test_encode_payload_size_limits_are_per_invocation_type():
    text = json.dumps("y" * (ASYNC_PAYLOAD_LIMIT * 2))
    assert encode_payload(text, "RequestResponse") == text  # fine for sync
    with pytest.raises(InvalidInputError, match="6 MB"):
        encode_payload(json.dumps("z" * SYNC_PAYLOAD_LIMIT), "RequestResponse")


def test_function_error_and_return_value_parsing():
    assert function_error('{"ok": true}', "", 0) is None
    # A function may legitimately return a dict with an errorCode: only SCF's shape counts.
    assert function_error('{"errorCode": 3, "errorMessage": "domain"}', "", 0) is None
    error = json.dumps(
        {"errorCode": -1, "errorMessage": "m", "stackTrace": "Traceback", "statusCode": 430}
    )
    assert function_error(error, error, 1) == (430, "m", "Traceback")
    assert function_error(error, error, -1) == (430, "m", "Traceback")
    assert function_error(error, "", None) == (430, "m", "Traceback")  # GetRequestStatus
    assert function_error("", "plain text failure", -1) == (None, "plain text failure", None)
    # InvokeResult 1 is a user-code exception, whatever RetMsg holds (as Tencent's own client
    # reads it: RetMsg is the error object {errorCode, errorMessage, stackTrace}).
    user = json.dumps({"errorCode": 1, "errorMessage": "user code exception caught"})
    assert function_error(user, "", 1) == (430, "user code exception caught", None)
    assert function_error("not json", "", 1) == (430, "not json", None)
    timeout = json.dumps({"errorCode": -1, "errorMessage": "timed out", "statusCode": 433})
    assert function_error(timeout, timeout, -1) == (433, "timed out", None)
    assert function_error('"a value"', "an error message", 0) == (None, "an error message", None)
    assert decode_return_value('{"a": 1}') == {"a": 1}
    assert decode_return_value("not json") == "not json"
    assert decode_return_value("") is None
    assert is_log_truncated("START RequestId: x\nEND") is False
    assert is_log_truncated("cut in the middle\nEND") is True


# -- functions ---------------------------------------------------------------------------------
def test_missing_function_raises_typed_error_with_code_and_request_id(hook, unique_name):
    with pytest.raises(ResourceNotFoundError) as info:
        hook.get_function(unique_name("missing"))
    assert info.value.code.startswith("ResourceNotFound.")
    assert info.value.request_id
    assert info.value.request_id in str(info.value)
    assert hook.function_exists(unique_name("missing")) is False


def test_wrong_secret_key_is_an_auth_error_without_the_key(emulator, monkeypatch):
    from conftest import tencentcloud_conn_json

    conn = json.loads(tencentcloud_conn_json(emulator))
    conn["password"] = "not-the-right-key-1234567"
    monkeypatch.setenv("AIRFLOW_CONN_SCF_WRONG_KEY", json.dumps(conn))
    hook = fast_hook(tencentcloud_conn_id="scf_wrong_key")
    with pytest.raises(TencentCloudAuthError) as info:
        hook.list_functions()
    assert info.value.code == "AuthFailure.SignatureFailure"
    assert "not-the-right-key-1234567" not in str(info.value)


def test_create_then_get_function(hook, echo):
    function = hook.get_function(echo)
    assert function["Status"] == "Active"
    assert function["Runtime"] == "Python3.9"
    assert function["Handler"] == "index.main_handler"
    assert environment_variables(function) == {"GREETING": "hi"}
    assert hook.function_exists(echo) is True


def test_list_functions_reads_every_page(hook, unique_name):
    prefix = unique_name("page")
    names = [f"{prefix}-{i}" for i in range(3)]
    try:
        for name in names:
            deploy_echo(hook, name)
        found = hook.list_functions(search_key=prefix, page_size=2)
        assert sorted(f["FunctionName"] for f in found) == names
    finally:
        for name in names:
            delete_quietly(hook, name)


def test_update_code_configuration_and_publish(hook, echo, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "index.py").write_text("def handler(event, context):\n    return 'v2'\n")
    hook.update_function_code(echo, hook.zip_code(package_directory(code).data), "index.handler")
    hook.wait_for_function_status(echo, poll_interval=0.02)
    hook.update_function_configuration(echo, memory_size=256, timeout=5, environment={"A": "1"})
    function = hook.wait_for_function_status(echo, poll_interval=0.02)
    assert (function["MemorySize"], function["Timeout"]) == (256, 5)
    assert environment_variables(function) == {"A": "1"}
    assert decode_return_value(hook.invoke(echo)["RetMsg"]) == "v2"

    hook.update_function_configuration(echo, environment={})  # the clear sentinel
    function = hook.wait_for_function_status(echo, poll_interval=0.02)
    assert environment_variables(function) == {}

    published = hook.publish_version(echo, "first")
    assert published["FunctionVersion"] == "1"
    hook.wait_for_function_status(echo, poll_interval=0.02)
    assert decode_return_value(hook.invoke(echo, qualifier="1")["RetMsg"]) == "v2"


def test_failed_creation_ends_the_wait_with_its_reasons(hook, unique_name):
    name = unique_name("broken")
    package = package_directory(ECHO_DIR)
    hook.create_function(name, hook.zip_code(package.data), "missing.handler", "Python3.9")
    try:
        with pytest.raises(SCFFunctionStateError) as info:
            hook.wait_for_function_status(name, poll_interval=0.02)
        assert info.value.status == "CreateFailed"
        assert info.value.reasons and "missing" in info.value.reasons[0][1]
    finally:
        delete_quietly(hook, name)


def test_wait_has_a_deadline(hook, emulator, unique_name):
    name = unique_name("slow")
    package = package_directory(ECHO_DIR)
    emulator.control.set_status_delay(1.5)
    try:
        hook.create_function(name, hook.zip_code(package.data), "index.main_handler", "Python3.9")
        with pytest.raises(SCFWaitTimeoutError, match="did not become Active"):
            hook.wait_for_function_status(name, timeout=0.3, poll_interval=0.05)
    finally:
        emulator.control.set_status_delay(0.05)
        delete_quietly(hook, name)  # once it has settled


def test_delete_function_and_wait_until_gone(hook, unique_name):
    name = unique_name("gone")
    deploy_echo(hook, name)
    hook.delete_function(name)
    hook.wait_for_function_deleted(name, poll_interval=0.02)
    assert not hook.function_exists(name)


# -- invocations -------------------------------------------------------------------------------
def test_sync_invoke_returns_result_and_tail_log(hook, echo):
    result = hook.invoke(echo, {"n": 1})
    assert result["ErrMsg"] == ""
    value = decode_return_value(result["RetMsg"])
    assert value["event"] == {"n": 1}
    assert value["greeting"] == "hi"
    assert value["request_id"] == result["FunctionRequestId"]
    assert result["Log"].startswith(f"START RequestId: {result['FunctionRequestId']}")


def test_sync_invoke_request_timeout_is_above_the_function_timeout(hook, unique_name):
    name = unique_name("long")
    deploy_echo(hook, name, timeout=120)
    try:
        hook.invoke(name, {})
        # A 120 s function needs an SDK timeout above the SDK's 60 s default: a dedicated client,
        # whose timeout covers SCF's 300 s cap on sync runs (plus a 30 s margin).
        # (Waiting for a real 60 s cut-off would make the test take minutes.)
        assert [c.profile.httpProfile.reqTimeout for c in hook._clients.values()] == [330]
    finally:
        delete_quietly(hook, name)


def test_async_invoke_status_and_complete_log(hook, echo):
    invoked_at = time.time()
    result = hook.invoke(echo, {"print_bytes": 6000}, invocation_type="Event")
    request_id = result["FunctionRequestId"]
    assert result["RetMsg"] == ""
    status = hook.wait_for_invocation(echo, request_id, poll_interval=0.05, invoked_at=invoked_at)
    assert status["RetCode"] == 0
    assert decode_return_value(status["RetMsg"])["request_id"] == request_id
    log = hook.invocation_log(echo, request_id, invoked_at=invoked_at, poll_interval=0.05)
    assert (log.complete, log.attempts, log.status_code) == (True, 1, 200)
    assert log.text.startswith(f"START RequestId: {request_id}")
    assert "line 000000" in log.text and "END-OF-OUTPUT" in log.text
    assert log.text.splitlines()[-1].startswith(f"Report RequestId: {request_id}")


def test_request_status_is_always_asked_within_a_window(hook, emulator, echo, monkeypatch):
    invoked_at = time.time()
    request_id = hook.invoke(echo, {}, invocation_type="Event")["FunctionRequestId"]
    emulator.control.wait_for_invocations(1, echo, timeout=30)
    # 20 minutes later (on SCF's clock) its default window, the last 15 minutes, misses the run...
    monkeypatch.setattr(emulator.scf.responses, "clock", lambda: invoked_at + 20 * 60)
    bare = hook.call("GetRequestStatus", {"FunctionName": echo, "FunctionRequestId": request_id})
    assert bare["Data"] == []
    # ...but the hook always sends StartTime and EndTime: around the invoke, or the last day.
    assert hook.get_request_status(echo, request_id, invoked_at=invoked_at)["RetCode"] == 0
    assert hook.get_request_status(echo, request_id)["RetCode"] == 0


def test_status_window():
    now = 1_800_000_000.5  # 2027-01-15 08:00:00 UTC: 16:00:00 in UTC+8, SCF's API time
    # From a minute before the invoke to a minute after now.
    assert status_window(now - 10, now) == ("2027-01-15 15:58:50", "2027-01-15 16:01:00")
    # The invoke time unknown: the longest window, one day.
    assert status_window(None, now) == ("2027-01-14 16:01:00", "2027-01-15 16:01:00")
    # An invoke more than a day ago: one day from it (the run started in there).
    assert status_window(now - 3 * 86400, now) == (
        "2027-01-12 15:59:00",
        "2027-01-13 15:59:00",
    )


def test_a_cut_log_is_read_whole_from_cls(hook, emulator, echo):
    invoked_at = time.time()
    result = hook.invoke(echo, {"print_bytes": 50_000})
    assert len(result["Log"].encode()) == 4096  # the tail only
    request_id, tail = result["FunctionRequestId"], result["Log"]
    text, log = hook.complete_log(echo, request_id, tail, invoked_at=invoked_at)
    assert log is not None and log.complete and text == log.text
    assert text.endswith(result["Log"])
    numbers = [int(line.split()[1]) for line in text.splitlines() if line.startswith("line ")]
    assert numbers == list(range(len(numbers))) and len(numbers) > 400


def test_a_whole_tail_needs_no_cls_search(emulator, echo):
    hook = fast_hook(max_retries=0)
    result = hook.invoke(echo, {"n": 1})
    emulator.faults.throttle(1, ["SearchLog"])  # a search would now fail
    text, log = hook.complete_log(echo, result["FunctionRequestId"], result["Log"])
    assert (text, log) == (result["Log"], None)
    assert emulator.faults.snapshot()["throttle"] == 1


def test_cls_pages_that_are_too_large_are_asked_for_again_smaller(hook, echo, monkeypatch):
    from scf_snova_emulator.cls import responses

    invoked_at = time.time()
    request_id = hook.invoke(echo, {"print_bytes": 20_000})["FunctionRequestId"]
    monkeypatch.setattr(responses, "MAX_RESULT_BYTES", 30_000)  # 20 MB on CLS
    # A page of every record (about 200) is now too large: only smaller pages pass.
    log = hook.invocation_log(echo, request_id, invoked_at=invoked_at)
    numbers = [int(line.split()[1]) for line in log.text.splitlines() if line.startswith("line ")]
    assert log.complete and numbers == list(range(195)) and "END-OF-OUTPUT" in log.text


def test_assemble_log_puts_retries_after_the_first_attempt():
    def record(retry, time_ms, message, code=200, kind="Custom"):
        return {
            "SCF_RetryNum": retry,
            "Time": time_ms,
            "SCF_Message": message,
            "SCF_StatusCode": code,
            "SCF_Type": kind,
        }

    records = [
        record(1, 70_000, "Report RequestId: r", 200, "Platform"),
        record(0, 10, "START RequestId: r", 202, "Platform"),
        record(1, 60_000, "START RequestId: r", 202, "Platform"),
        record(0, 20, "boom", 430),
        record(0, 20, "Report RequestId: r", 430, "Platform"),
        record(1, 70_000, "fine"),
    ]
    log = assemble_log(records)
    assert log.text.splitlines() == [
        "START RequestId: r",
        "boom",
        "Report RequestId: r",
        "--- retry 1 (SCF_RetryNum 1) ---",
        "START RequestId: r",
        "Report RequestId: r",
        "fine",
    ]
    assert (log.attempts, log.status_code, log.complete) == (2, 200, True)
    running = assemble_log([record(0, 10, "START RequestId: r", 202, "Platform")])
    assert (running.status_code, running.complete) == (None, False)


def test_a_sync_invoke_scf_stops_waiting_for_fails_for_good(
    hook, emulator, unique_name, tmp_path, shared_dir
):
    source = (
        "import os, time\n"
        "def main_handler(event, context):\n"
        "    while not os.path.exists(event['path']):\n"
        "        time.sleep(0.01)\n"
        "    return 'released'\n"
    )
    name = unique_name("slow")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "index.py").write_text(source)
    package = package_directory(tmp_path / "code")
    code = hook.zip_code(package.data)
    hook.create_function(name, code, "index.main_handler", "Python3.9", timeout=60)
    hook.wait_for_function_status(name, poll_interval=0.02)
    release = shared_dir / "release"  # the function runs as another user
    emulator.control.set_sync_invoke_timeout(0.5)
    try:
        with pytest.raises(SCFFunctionExecutionError, match="may still be running") as info:
            hook.invoke(name, {"path": str(release)})
        assert isinstance(info.value, AirflowFailException)  # no task retry: it still runs
    finally:
        emulator.control.set_sync_invoke_timeout(300)
        release.write_text("go")
        emulator.control.wait_for_invocations(1, name, timeout=30)
        delete_quietly(hook, name)


def test_failed_execution_is_a_result_not_an_exception(hook, echo):
    result = hook.invoke(echo, {"fail": "boom"})
    assert result["InvokeResult"] == 1  # a user-code exception
    error = function_error(result["RetMsg"], result["ErrMsg"], result["InvokeResult"])
    assert error.status_code == 430
    assert "ValueError: boom" in error.stack_trace


# -- throttling --------------------------------------------------------------------------------
def test_throttled_calls_are_retried_with_backoff(hook, emulator, echo):
    emulator.faults.throttle(2, ["GetFunction"])
    assert hook.get_function(echo)["FunctionName"] == echo
    assert emulator.faults.snapshot()["throttle"] == 0  # both throttled answers were consumed


def test_throttling_retries_give_up_after_max_retries(emulator, echo):
    hook = fast_hook(max_retries=1)
    emulator.faults.throttle(5, ["GetFunction"])
    with pytest.raises(TencentCloudThrottledError) as info:
        hook.get_function(echo)
    assert info.value.code.startswith("RequestLimitExceeded")
    assert emulator.faults.snapshot()["throttle"] == 3  # one call + one retry


def test_sync_invoke_is_never_retried(hook, emulator, echo):
    hook.get_function(echo)  # not throttled: only Invoke is
    emulator.faults.throttle(2, ["Invoke"])
    with pytest.raises(TencentCloudThrottledError):
        hook.invoke(echo, {"n": 1}, request_timeout=10)
    assert emulator.faults.snapshot()["throttle"] == 1  # exactly one attempt
    assert emulator.control.invocations(echo) == []


def test_throttled_async_invoke_is_retried(hook, emulator, echo):
    # A throttled request was refused before anything ran, so an async invoke may be re-sent.
    emulator.faults.throttle(1, ["Invoke"])
    request_id = hook.invoke(echo, {"n": 2}, invocation_type="Event")["FunctionRequestId"]
    assert [r["request_id"] for r in emulator.control.invocations(echo)] == [request_id]


# -- triggers ----------------------------------------------------------------------------------
def test_timer_trigger_round_trip(hook, echo):
    info = hook.create_trigger(echo, "nightly", "timer", "0 0 2 * * * *", custom_argument="x")
    assert (info["TriggerName"], info["Enable"], info["CustomArgument"]) == ("nightly", 1, "x")
    (listed,) = hook.list_triggers(echo)
    assert json.loads(listed["TriggerDesc"]) == {"cron": "0 0 2 * * * *"}
    hook.delete_trigger(echo, "nightly", "timer")
    assert hook.list_triggers(echo) == []
    with pytest.raises(ResourceNotFoundError):
        hook.delete_trigger(echo, "nightly", "timer")


def test_ensure_timer_trigger_reports_what_it_changed(hook, echo):
    """Schedules are written in UTC unless told; SCF reads crons at UTC+8."""
    first = hook.ensure_timer_trigger(echo, "nightly", "0 2 * * *", custom_argument={"a": 1})
    assert (first.trigger_name, first.trigger_type) == ("nightly", "timer")
    assert (first.triggers, first.created, first.deleted) == (("0 0 10 * * * *",),) * 2 + ((),)
    assert first.changed is True
    again = hook.ensure_timer_trigger(
        echo, "nightly", "0 0 10 * * * *", custom_argument={"a": 1}, timezone="Asia/Shanghai"
    )
    assert (again.created, again.deleted, again.changed) == ((), (), False)
    moved = hook.ensure_timer_trigger(echo, "nightly", "0 3 * * *", custom_argument={"a": 1})
    assert moved.created == ("0 0 11 * * * *",)
    assert [json.loads(desc) for desc in moved.deleted] == [{"cron": "0 0 10 * * * *"}]
    (listed,) = hook.list_triggers(echo)
    assert (listed["CustomArgument"], json.loads(listed["TriggerDesc"])) == (
        '{"a": 1}',
        {"cron": "0 0 11 * * * *"},
    )
    with pytest.raises(InvalidInputError, match="daylight saving"):
        hook.ensure_timer_trigger(echo, "other", "0 2 * * *", timezone="Europe/Berlin")
    with pytest.raises(InvalidInputError, match="invalid timer schedule"):
        hook.ensure_timer_trigger(echo, "other", "@once")

    gone = hook.delete_triggers(echo, "timer", "nightly")
    assert len(gone.deleted) == 1 and gone.changed
    assert hook.list_triggers(echo) == []
    assert hook.delete_triggers(echo, "timer", "nightly").deleted == ()
    with pytest.raises(ResourceNotFoundError):
        hook.delete_triggers(echo, "timer", "nightly", missing_ok=False)


def test_ensure_cos_triggers_binds_one_trigger_per_event(hook, emulator, bucket, echo):
    name = hook.cos_trigger_name(bucket)
    assert name == f"{bucket}.cos.{emulator.config.region}.myqcloud.com"
    events = ("cos:ObjectCreated:*", "cos:ObjectRemove:*")
    both = hook.ensure_cos_triggers(echo, bucket, events, prefix="in/")
    assert both.trigger_name == name and len(both.created) == 2 and both.deleted == ()
    assert [json.loads(desc)["filter"] for desc in both.triggers] == [
        {"Prefix": "in/", "Suffix": ""}
    ] * 2
    narrowed = hook.ensure_cos_triggers(echo, bucket, events[:1], prefix="in/")
    assert (narrowed.created, len(narrowed.deleted)) == ((), 1)
    assert json.loads(narrowed.deleted[0])["event"] == "cos:ObjectRemove:*"
    assert hook.ensure_cos_triggers(echo, bucket, events[:1], prefix="in/").changed is False
    assert len(hook.delete_triggers(echo, "cos", bucket=bucket).deleted) == 1
    assert hook.list_triggers(echo) == []


def test_ensure_function_creates_then_changes_only_what_differs(hook, unique_name):
    from airflow_scf_snova.hooks.scf_functions import FunctionChange

    name = unique_name("ensure")
    package = package_directory(ECHO_DIR)
    definition = {"handler": "index.main_handler", "runtime": "Python3.9", "poll_interval": 0.02}
    code = hook.zip_code(package.data)
    try:
        created = hook.ensure_function(name, code, package.sha256, **definition)
        assert created == FunctionChange(
            created=True, code_updated=True, configuration_updated=True
        )
        hook.wait_for_function_status(name, poll_interval=0.02)
        same = hook.ensure_function(name, code, package.sha256, **definition)
        assert same == FunctionChange(status="Active")
        bigger = hook.ensure_function(
            name, code, package.sha256, memory_size=256, publish=True, **definition
        )
        assert bigger == FunctionChange(configuration_updated=True, version="1")
        function = hook.get_function(name)
        assert environment_variables(function) == {"AIRFLOW_SCF_CODE_SHA256": package.sha256}
        with pytest.raises(InvalidInputError, match="runtime cannot change"):
            hook.ensure_function(name, code, package.sha256, **{**definition, "runtime": "Go1"})
    finally:
        delete_quietly(hook, name)
