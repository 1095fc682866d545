"""SCFFunctionStateSensor against the emulator: poke, failure states, deferral."""

from __future__ import annotations

import asyncio

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.exceptions import SCFFunctionStateError
from airflow_scf_snova.scf.packaging import package_directory
from airflow_scf_snova.sensors.scf import SCFFunctionStateSensor
from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger

CONTEXT: dict = {}


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def function_name(hook, unique_name):
    name = unique_name("sensed")
    yield name
    delete_quietly(hook, name)


def sensor(function_name, **kwargs):
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 30)
    return SCFFunctionStateSensor(task_id="wait", function_name=function_name, **kwargs)


def test_poke_waits_for_a_missing_function_then_sees_it_active(hook, function_name):
    assert sensor(function_name).poke(CONTEXT) is False
    deploy_echo(hook, function_name)
    assert sensor(function_name).poke(CONTEXT) is True
    assert sensor(function_name, target_states=("Updating",)).poke(CONTEXT) is False


def test_a_failed_status_fails_the_sensor(hook, function_name):
    package = package_directory(ECHO_DIR)
    hook.create_function(function_name, hook.zip_code(package.data), "nope.handler", "Python3.9")
    with pytest.raises(SCFFunctionStateError, match="CreateFailed"):
        sensor(function_name).execute(CONTEXT)
    # Unless that status is what the task waits for.
    assert sensor(function_name, target_states=("CreateFailed",)).poke(CONTEXT) is True


def test_deferrable_sensor_pokes_first_then_defers(hook, emulator, function_name):
    deploy_echo(hook, function_name)
    assert sensor(function_name, deferrable=True).execute(CONTEXT) is None  # no deferral

    package = package_directory(ECHO_DIR)
    emulator.control.set_status_delay(1.0)
    try:
        hook.update_function_code(function_name, hook.zip_code(package.data), "index.main_handler")
        op = sensor(function_name, deferrable=True, poke_interval=0.05)
        with pytest.raises(TaskDeferred) as info:
            op.execute(CONTEXT)
    finally:
        emulator.control.set_status_delay(0.05)
    trigger = info.value.trigger
    assert isinstance(trigger, SCFFunctionStateTrigger)
    assert trigger.target_states == ["Active"] and trigger.poll_interval == 0.05

    async def first_event():
        return await asyncio.wait_for(anext(trigger.run()), timeout=30)

    event = asyncio.run(first_event()).payload
    assert (event["status"], event["function_status"]) == ("success", "Active")
    assert op.execute_complete(CONTEXT, event=event) is None


def test_execute_complete_reports_failures_and_timeouts(function_name):
    op = sensor(function_name)
    with pytest.raises(SCFFunctionStateError, match="UpdateFailed: bad zip"):
        op.execute_complete(
            CONTEXT,
            event={
                "status": "error",
                "message": "x",
                "function_status": "UpdateFailed",
                "status_reasons": [["UpdateFailed", "bad zip"]],
            },
        )
    timed_out = {"status": "error", "message": "still Updating", "timed_out": True}
    with pytest.raises(AirflowSensorTimeout, match="still Updating"):
        op.execute_complete(CONTEXT, event=timed_out)
    with pytest.raises(AirflowSkipException):
        sensor(function_name, soft_fail=True).execute_complete(CONTEXT, event=timed_out)
