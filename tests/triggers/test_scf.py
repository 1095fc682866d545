"""SCF triggers: serialisation, and run() driven against the emulator."""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.scf.packaging import package_directory
from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger, SCFInvocationCompleteTrigger


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def echo(hook, unique_name):
    name = unique_name("trig")
    deploy_echo(hook, name)
    yield name
    delete_quietly(hook, name)


async def first_event(trigger, timeout=30):
    return (await asyncio.wait_for(anext(trigger.run()), timeout=timeout)).payload


@pytest.mark.parametrize(
    "trigger",
    [
        SCFFunctionStateTrigger(
            "fn", ("Active", "UpdateFailed"), "ns", "tc", "ap-shanghai", 2.0, 60.0
        ),
        SCFInvocationCompleteTrigger("fn", "req-1", "ns", "tc", "ap-shanghai", 2.0, 60.0),
        SCFInvocationCompleteTrigger(
            "fn", "req-1", "ns", "tc", "ap-shanghai", 2.0, 60.0, invoked_at=1.5e9, async_run=True
        ),
        SCFInvocationCompleteTrigger(
            "fn", "req-1", "ns", "tc", "ap-shanghai", 2.0, 60.0, invoked_at=1_800_000_000.25
        ),
    ],
    ids=["state", "invocation", "async event", "invocation with its invoke time"],
)
def test_serialize_round_trips(trigger):
    classpath, kwargs = trigger.serialize()
    assert classpath == f"airflow_scf_snova.triggers.scf.{type(trigger).__name__}"
    json.dumps(kwargs)  # what the triggerer stores must be JSON
    module, _, name = classpath.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs["namespace"] == "ns" and kwargs["region"] == "ap-shanghai"


@pytest.mark.asyncio
async def test_state_trigger_success(echo):
    event = await first_event(SCFFunctionStateTrigger(echo, poll_interval=0.05))
    assert event == {
        "status": "success",
        "message": f"SCF function {echo!r} is Active",
        "function_name": echo,
        "namespace": None,
        "function_status": "Active",
    }


@pytest.mark.asyncio
async def test_state_trigger_waits_through_a_transient_status(hook, emulator, echo):
    emulator.control.set_status_delay(1.0)
    try:
        hook.update_function_configuration(echo, memory_size=256)
        assert hook.get_function_status(echo) == "Updating"
    finally:
        emulator.control.set_status_delay(0.05)
    event = await first_event(SCFFunctionStateTrigger(echo, poll_interval=0.05))
    assert event["function_status"] == "Active"
    assert hook.get_function(echo)["MemorySize"] == 256


@pytest.mark.asyncio
async def test_state_trigger_reports_a_failed_status_with_reasons(hook, unique_name):
    name = unique_name("bad")
    package = package_directory(ECHO_DIR)
    hook.create_function(name, hook.zip_code(package.data), "nope.handler", "Python3.9")
    try:
        event = await first_event(SCFFunctionStateTrigger(name, poll_interval=0.05))
    finally:
        delete_quietly(hook, name)
    assert (event["status"], event["function_status"]) == ("error", "CreateFailed")
    assert event["status_reasons"][0][0] == "CreateFailed"
    assert "nope" in event["status_reasons"][0][1]


@pytest.mark.asyncio
async def test_state_trigger_gives_up_at_its_deadline(emulator, unique_name):
    name = unique_name("never")
    event = await first_event(SCFFunctionStateTrigger(name, poll_interval=0.05, timeout=0.2))
    assert (event["status"], event["timed_out"]) == ("error", True)
    assert "last status: not found" in event["message"]


@pytest.mark.asyncio
async def test_api_errors_become_error_events(emulator, monkeypatch, unique_name):
    from conftest import tencentcloud_conn_json

    conn = json.loads(tencentcloud_conn_json(emulator))
    conn["login"] = "AKIDunknown000000000000000000000000"
    monkeypatch.setenv("AIRFLOW_CONN_SCF_UNKNOWN_ID", json.dumps(conn))
    trigger = SCFFunctionStateTrigger(unique_name("x"), tencentcloud_conn_id="scf_unknown_id")
    event = await first_event(trigger)
    assert event["status"] == "error"
    assert "AuthFailure.SecretIdNotFound" in event["message"]


@pytest.mark.asyncio
async def test_invocation_trigger_success_and_failure(hook, echo):
    ok = hook.invoke(echo, {"sleep": 0.3}, invocation_type="Event")["FunctionRequestId"]
    bad = hook.invoke(echo, {"fail": "nope"}, invocation_type="Event")["FunctionRequestId"]
    success, failure = await asyncio.gather(
        first_event(SCFInvocationCompleteTrigger(echo, ok, poll_interval=0.05)),
        first_event(SCFInvocationCompleteTrigger(echo, bad, poll_interval=0.05)),
    )
    assert (success["status"], success["ret_code"], success["function_request_id"]) == (
        "success",
        0,
        ok,
    )
    assert json.loads(success["ret_msg"])["request_id"] == ok
    # The failure is the last of SCF's retries (2 by default): the trigger waited through them.
    assert (failure["status"], failure["ret_code"], failure["retry_num"]) == ("error", -1, 2)
    assert json.loads(failure["ret_msg"])["statusCode"] == 430


@pytest.mark.asyncio
async def test_invocation_trigger_finds_a_run_older_than_15_minutes(
    hook, emulator, echo, monkeypatch
):
    invoked_at = time.time()
    rid = hook.invoke(echo, {}, invocation_type="Event")["FunctionRequestId"]
    emulator.control.wait_for_invocations(1, echo, timeout=30)
    # An hour later (on SCF's clock), GetRequestStatus without a window would miss the run.
    monkeypatch.setattr(emulator.scf.responses, "clock", lambda: invoked_at + 3600)
    trigger = SCFInvocationCompleteTrigger(echo, rid, poll_interval=0.05, invoked_at=invoked_at)
    event = await first_event(trigger, timeout=10)
    assert (event["status"], event["ret_code"]) == ("success", 0)


@pytest.mark.asyncio
async def test_invocation_trigger_deadline(echo):
    trigger = SCFInvocationCompleteTrigger(echo, "no-such-request", poll_interval=0.05, timeout=0.2)
    event = await first_event(trigger)
    assert (event["status"], event["timed_out"]) == ("error", True)
    assert "ret_code" not in event
