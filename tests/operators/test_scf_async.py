"""The SCF operators' asynchronous side against the emulator: the async settings a deploy sets,
async invokes followed through SCF's retries or as async-execution events, and ``on_kill``.

``execute`` is called directly (see tests/operators/test_scf.py); operator logs are read with
``capsys``.
"""

from __future__ import annotations

import asyncio
import shutil
import threading

import pytest
from airflow.sdk.exceptions import TaskDeferred
from scf_snova_devel.scf import delete_quietly, fast_hook
from scf_snova_devel.scf_api import RAISES, SLEEPS

from airflow_scf_snova.exceptions import InvalidInputError, SCFFunctionExecutionError
from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator, SCFInvokeFunctionOperator

CONTEXT: dict = {}
RETURNS = """
def main_handler(event, context):
    print("event received")
    return {"echo": event, "request_id": context["request_id"]}
"""


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def deploy(hook, unique_name, tmp_path):
    """``deploy(source, **operator kwargs)`` -> (function name, deploy result)."""
    names = []

    def make(source: str, name: str | None = None, **kwargs):
        name = name or unique_name("op-async")
        names.append(name)
        code_dir = tmp_path / name
        shutil.rmtree(code_dir, ignore_errors=True)
        code_dir.mkdir()
        (code_dir / "index.py").write_text(source)
        op = SCFDeployFunctionOperator(
            task_id="deploy",
            function_name=name,
            code_dir=str(code_dir),
            poll_interval=0.02,
            do_xcom_push=False,
            **kwargs,
        )
        return name, op.execute(CONTEXT)

    yield make
    for name in names:
        delete_quietly(hook, name)


def invoke_op(function_name, **kwargs):
    kwargs.setdefault("poll_interval", 0.05)
    return SCFInvokeFunctionOperator(
        task_id="invoke",
        function_name=function_name,
        invocation_type="Event",
        do_xcom_push=False,
        **kwargs,
    )


# -- deploy -----------------------------------------------------------------------------------
def test_deploy_sets_the_async_retry_settings_only_when_they_differ(hook, deploy):
    dead_letter = {"Type": "CMQ-QUEUE", "Name": "failed-events", "FilterType": ""}
    name, first = deploy(
        RAISES, async_retries=1, async_message_ttl=600, dead_letter_config=dead_letter
    )
    assert first["created"] and first["async_config_updated"] is True
    assert hook.get_event_invoke_config(name) == {"RetryConfig": [{"RetryNum": 1}], "MsgTTL": 600}
    assert hook.get_function(name)["DeadLetterConfig"] == dead_letter
    _, again = deploy(
        RAISES, name, async_retries=1, async_message_ttl=600, dead_letter_config=dead_letter
    )
    assert again["async_config_updated"] is False and not again["configuration_updated"]
    other_queue = {**dead_letter, "Name": "other"}
    _, changed = deploy(
        RAISES, name, async_retries=0, async_message_ttl=600, dead_letter_config=other_queue
    )
    assert changed["async_config_updated"] and changed["configuration_updated"]
    assert hook.async_retries(name) == 0
    assert hook.get_function(name)["DeadLetterConfig"] == other_queue


def test_deploy_creates_an_async_execution_function(hook, deploy):
    name, _ = deploy(SLEEPS, async_run=True, trace=True, timeout=3600)
    function = hook.get_function(name)
    assert (function["AsyncRunEnable"], function["TraceEnable"], function["Timeout"]) == (
        "TRUE",
        "TRUE",
        3600,
    )
    with pytest.raises(InvalidInputError, match="AsyncRunEnable=TRUE"):
        deploy(SLEEPS, name, timeout=3600)  # the mode is fixed at creation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"async_retries": 3}, "0, 1 or 2"),
        ({"async_retries": True}, "0, 1 or 2"),
        ({"async_message_ttl": 0}, "seconds"),
        ({"async_run": True, "async_retries": 1}, "never retried"),
        ({"trace": True}, "needs async_run"),
    ],
)
def test_async_settings_are_checked_before_any_call(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        SCFDeployFunctionOperator(task_id="d", function_name="f", code_dir="/nowhere", **kwargs)


class Running:
    """``op.execute`` in a thread; :attr:`waiting` is set once the operator calls the hook's
    ``wait_method`` (it has invoked and now waits for the run), so the test acts at that point."""

    def __init__(self, op: SCFInvokeFunctionOperator, wait_method: str) -> None:
        self.waiting = threading.Event()
        self.result: list = []
        self.error: list[BaseException] = []
        original = getattr(op.hook, wait_method)

        def wait(*args, **kwargs):
            self.waiting.set()
            return original(*args, **kwargs)

        setattr(op.hook, wait_method, wait)
        self.thread = threading.Thread(target=self._run, args=(op,))
        self.thread.start()

    def _run(self, op: SCFInvokeFunctionOperator) -> None:
        try:
            self.result.append(op.execute(CONTEXT))
        except BaseException as err:  # handed to the test thread
            self.error.append(err)

    def wait_until_waiting(self) -> None:
        assert self.waiting.wait(30), "the operator never started waiting"

    def join(self, timeout: float = 60) -> None:
        self.thread.join(timeout)


# -- invoke -----------------------------------------------------------------------------------
def test_an_async_invoke_waits_through_scf_retries(hook, deploy, emulator, capsys):
    name, _ = deploy(RAISES, async_retries=1)
    saved = emulator.control.settings()["retry_interval"]
    emulator.control.set_retry_interval(3600)  # the retry waits until released below
    try:
        task = Running(invoke_op(name), "wait_for_invocation")
        [first] = emulator.control.wait_for_invocations(1, name, timeout=30)
        assert first["status_code"] == 430 and first["retry_at"]
        task.join(timeout=0.5)
        assert task.thread.is_alive()  # the first failure does not end the task: a retry is due
        emulator.control.release_retries()
        task.join()
    finally:
        emulator.control.set_retry_interval(saved)
        emulator.control.release_retries()
    [error] = task.error
    assert isinstance(error, SCFFunctionExecutionError) and "boom" in str(error)
    attempts = emulator.control.invocations(name)
    assert [(a["request_id"], a["retry_num"]) for a in attempts] == [
        (error.request_id, 0),
        (error.request_id, 1),
    ]
    assert "Attempt 1 of SCF invocation" in capsys.readouterr().out


def test_an_async_execution_invoke_is_followed_as_an_event(deploy, capsys):
    name, _ = deploy(RETURNS, async_run=True, trace=True)
    value = invoke_op(name, payload={"n": 1}).execute(CONTEXT)
    assert value["echo"] == {"n": 1}
    logged = capsys.readouterr().out
    assert "following event" in logged and "ended FINISHED" in logged
    failing, _ = deploy(RAISES, async_run=True)
    with pytest.raises(SCFFunctionExecutionError, match="boom"):
        invoke_op(failing).execute(CONTEXT)


def test_a_deferred_async_execution_invoke_ends_with_the_events_status(deploy):
    name, _ = deploy(SLEEPS, async_run=True, timeout=60)
    op = invoke_op(name, payload={"seconds": 0.5}, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(CONTEXT)
    trigger = deferred.value.trigger
    _, kwargs = trigger.serialize()
    assert kwargs["async_run"] is True and kwargs["invoked_at"] > 0

    async def first_event():
        return await asyncio.wait_for(anext(trigger.run()), timeout=30)

    event = asyncio.run(first_event()).payload
    assert (event["status"], event["event_status"]) == ("success", "FINISHED")
    assert op.execute_complete(CONTEXT, event=event) == "woke up"


def test_on_kill_terminates_an_async_execution_event(hook, deploy, emulator):
    name, _ = deploy(SLEEPS, async_run=True, timeout=600)
    op = invoke_op(name, payload={"seconds": 120})
    task = Running(op, "wait_for_async_event")
    try:
        task.wait_until_waiting()
        op.on_kill()
    finally:
        task.join()
    [error] = task.error
    assert isinstance(error, SCFFunctionExecutionError)
    assert "ABORTED" in str(error) and error.status_code == 439
    [record] = emulator.control.invocations(name)
    assert record["terminated"] is True and record["duration_ms"] < 120_000


def test_on_kill_says_an_ordinary_invocation_cannot_be_stopped(hook, deploy, emulator, capsys):
    name, _ = deploy(SLEEPS, timeout=30)
    op = invoke_op(name, payload={"seconds": 1})
    emulator.faults.throttle(1, ["TerminateAsyncEvent"])  # would be consumed by any call
    task = Running(op, "wait_for_invocation")
    try:
        task.wait_until_waiting()
        op.on_kill()
    finally:
        task.join()
    assert task.result == ["woke up"]  # the run went on to its end
    assert emulator.faults.snapshot()["throttle"] == 1  # no TerminateAsyncEvent was sent
    assert "SCF cannot stop invocation" in capsys.readouterr().out
