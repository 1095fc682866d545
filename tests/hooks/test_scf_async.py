"""SCFHook's asynchronous side against the emulator: GetRequestStatus with a time window and
through SCF's retries, the async retry settings, and async-execution functions' events."""

from __future__ import annotations

import threading
import time

import pytest
from scf_snova_devel.scf import delete_quietly, fast_hook
from scf_snova_devel.scf_api import RAISES, SLEEPS, make_zip

from airflow_scf_snova.exceptions import TencentCloudApiError
from airflow_scf_snova.hooks.scf_async import is_settled, latest_attempt

FAILS_WHEN_TOLD = """
import os

def main_handler(event, context):
    if os.environ.get("FAIL") == "1":
        raise RuntimeError("told to fail")
    return {"ok": context["request_id"]}
"""


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def deploy(hook, unique_name):
    """``deploy(source, **create_function kwargs)`` -> a fresh Active function's name."""
    names = []

    def make(source: str, **kwargs) -> str:
        name = unique_name("async")
        names.append(name)
        code = hook.zip_code(make_zip({"index.py": source}))
        hook.create_function(name, code, "index.main_handler", "Python3.9", **kwargs)
        hook.wait_for_function_status(name, poll_interval=0.02)
        return name

    yield make
    for name in names:
        delete_quietly(hook, name)


@pytest.fixture
def retry_interval(emulator):
    saved = emulator.control.settings()["retry_interval"]
    yield emulator.control.set_retry_interval
    emulator.control.set_retry_interval(saved)


def test_the_status_of_the_last_attempt_decides():
    attempts = [{"RetryNum": 0, "RetCode": -1}, {"RetryNum": 2, "RetCode": 0}, {"RetryNum": 1}]
    assert latest_attempt(attempts) == {"RetryNum": 2, "RetCode": 0}
    assert latest_attempt([]) is None
    assert not is_settled(None, 2)
    assert not is_settled({"RetCode": 1, "RetryNum": 0}, 2)  # running
    assert is_settled({"RetCode": 0, "RetryNum": 0}, 2)
    assert not is_settled({"RetCode": -1, "RetryNum": 1}, 2)  # a retry is to come
    assert is_settled({"RetCode": -1, "RetryNum": 2}, 2)
    assert is_settled({"RetCode": -1, "RetryNum": 0}, None)  # retries unknown: final


def test_get_request_status_searches_from_the_invocation(hook, deploy):
    name = deploy(FAILS_WHEN_TOLD)
    invoked_at = time.time()
    request_id = hook.invoke(name, {}, invocation_type="Event")["FunctionRequestId"]
    status = hook.wait_for_invocation(name, request_id, poll_interval=0.02, invoked_at=invoked_at)
    assert (status["RequestId"], status["RetCode"], status["RetryNum"]) == (request_id, 0, 0)
    # The window is sent, in SCF's time zone: from an hour later, the run is not found ...
    assert hook.get_request_status(name, request_id, invoked_at=invoked_at + 3600) is None
    # ... and without a start time, SCF's own default (the last 15 minutes) finds it.
    assert hook.get_request_status(name, request_id)["RetCode"] == 0


def test_wait_for_invocation_follows_scf_retries_to_a_success(
    hook, deploy, emulator, retry_interval, capsys
):
    retry_interval(3600)  # the retry waits until released below
    name = deploy(FAILS_WHEN_TOLD, environment={"FAIL": "1"})
    invoked_at = time.time()
    request_id = hook.invoke(name, {}, invocation_type="Event")["FunctionRequestId"]
    outcome: dict = {}
    waiter = threading.Thread(
        target=lambda: outcome.update(
            hook.wait_for_invocation(name, request_id, poll_interval=0.02, invoked_at=invoked_at)
        )
    )
    waiter.start()
    try:
        [failed] = emulator.control.wait_for_invocations(1, name, timeout=30)
        assert failed["status_code"] == 430 and failed["retry_at"]
        hook.update_function_configuration(name, environment={})  # the retry will succeed
        hook.wait_for_function_status(name, poll_interval=0.02)
        assert emulator.control.release_retries() >= 1
    finally:
        waiter.join(timeout=60)
    assert (outcome["RetCode"], outcome["RetryNum"]) == (0, 1)
    assert "Attempt 1 of SCF invocation" in capsys.readouterr().out


def test_wait_for_invocation_ends_with_the_last_retry(hook, deploy, emulator):
    name = deploy(RAISES)
    hook.update_event_invoke_config(name, retries=1)
    invoked_at = time.time()
    request_id = hook.invoke(name, {}, invocation_type="Event")["FunctionRequestId"]
    status = hook.wait_for_invocation(name, request_id, poll_interval=0.02, invoked_at=invoked_at)
    assert (status["RetCode"], status["RetryNum"]) == (-1, 1)
    attempts = hook.get_request_attempts(name, request_id, invoked_at=invoked_at)
    assert [(a["RetryNum"], a["RetCode"]) for a in attempts] == [(0, -1), (1, -1)]


def test_event_invoke_config_is_set_only_when_it_differs(hook, deploy):
    name = deploy(RAISES)
    assert hook.get_event_invoke_config(name) == {
        "RetryConfig": [{"RetryNum": 2}],
        "MsgTTL": 21600,
    }
    assert hook.async_retries(name) == 2
    assert hook.ensure_event_invoke_config(name) is False  # nothing asked
    assert hook.ensure_event_invoke_config(name, retries=2, message_ttl=21600) is False
    assert hook.ensure_event_invoke_config(name, retries=0) is True
    assert hook.ensure_event_invoke_config(name, message_ttl=600) is True
    assert hook.get_event_invoke_config(name) == {"RetryConfig": [{"RetryNum": 0}], "MsgTTL": 600}
    with pytest.raises(TencentCloudApiError, match="LimitExceeded.RetryNum"):
        hook.update_event_invoke_config(name, retries=5)


def test_async_execution_events(hook, deploy, emulator):
    name = deploy(SLEEPS, timeout=600, async_run=True, trace=True)
    assert hook.is_async_run(name) is True
    request_id = hook.invoke(name, {"seconds": 60}, invocation_type="Event")["FunctionRequestId"]
    assert hook.get_async_event_status(request_id)["Status"] == "RUNNING"
    [listed] = hook.list_async_events(name, statuses=["RUNNING"])
    assert listed["InvokeRequestId"] == request_id
    hook.terminate_async_event(name, request_id)
    status = hook.wait_for_async_event(request_id, poll_interval=0.02, timeout=30)
    assert (status["Status"], status["StatusCode"]) == ("ABORTED", 439)
    assert hook.list_async_events(name, statuses=["RUNNING"]) == []
    with pytest.raises(TencentCloudApiError, match="FailedOperation.AsyncEventStatus"):
        hook.terminate_async_event(name, request_id)


def test_ordinary_functions_have_no_async_events(hook, deploy):
    name = deploy(FAILS_WHEN_TOLD)
    assert hook.is_async_run(name) is False
    request_id = hook.invoke(name, {}, invocation_type="Event")["FunctionRequestId"]
    with pytest.raises(TencentCloudApiError, match="UnsupportedOperation"):
        hook.get_async_event_status(request_id)
    with pytest.raises(TencentCloudApiError, match="UnsupportedOperation"):
        hook.terminate_async_event(name, request_id)
