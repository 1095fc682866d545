"""SCF operators against the emulator (real SDK, real Airflow operators and triggers).

``execute`` is called directly, outside a DAG run: link parameters are then not pushed to XCom
(``do_xcom_push=False``, there is no task instance to push to); the DAG test covers links.
Operator logs are Airflow's structlog output, which goes to stdout, so they are read with
``capsys`` rather than ``caplog``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SCFFunctionExecutionError,
    SCFFunctionStateError,
)
from airflow_scf_snova.operators.scf import (
    SCFDeleteFunctionOperator,
    SCFDeployFunctionOperator,
    SCFInvokeFunctionOperator,
)
from airflow_scf_snova.operators.scf_triggers import (
    SCFCreateCOSTriggerOperator,
    SCFCreateTimerTriggerOperator,
    SCFCreateTriggerOperator,
    SCFDeleteTriggerOperator,
)
from airflow_scf_snova.scf.environment import CODE_HASH_VARIABLE, environment_variables
from airflow_scf_snova.scf.packaging import package_directory
from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger, SCFInvocationCompleteTrigger

CONTEXT: dict = {}


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def function_name(hook, unique_name):
    name = unique_name("op")
    yield name
    delete_quietly(hook, name)


@pytest.fixture
def echo(hook, function_name):
    deploy_echo(hook, function_name)
    return function_name


@pytest.fixture
def code_dir(tmp_path):
    path = tmp_path / "echo"
    shutil.copytree(ECHO_DIR, path, ignore=shutil.ignore_patterns("__pycache__"))
    return path


def deploy_op(function_name, code_dir, **kwargs):
    kwargs.setdefault("poll_interval", 0.02)
    return SCFDeployFunctionOperator(
        task_id="deploy",
        function_name=function_name,
        code_dir=str(code_dir),
        do_xcom_push=False,
        **kwargs,
    )


def invoke_op(function_name, **kwargs):
    kwargs.setdefault("poll_interval", 0.05)
    return SCFInvokeFunctionOperator(
        task_id="invoke", function_name=function_name, do_xcom_push=False, **kwargs
    )


# -- deploy ------------------------------------------------------------------------------------
def test_deploy_from_a_directory_creates_the_function(hook, function_name, code_dir):
    result = deploy_op(function_name, code_dir, environment={"GREETING": "hello"}).execute(CONTEXT)
    package = package_directory(code_dir)
    assert result == {
        "function_name": function_name,
        "namespace": "default",
        "status": "Active",
        "code_sha256": package.sha256,
        "created": True,
        "code_updated": True,
        "configuration_updated": True,
        "version": None,
    }
    function = hook.get_function(function_name)
    assert function["CodeSize"] == package.size
    assert environment_variables(function) == {
        "GREETING": "hello",
        CODE_HASH_VARIABLE: package.sha256,
    }
    value = invoke_op(function_name, payload={"k": "v"}).execute(CONTEXT)
    assert (value["event"], value["greeting"]) == ({"k": "v"}, "hello")


def test_redeploy_unchanged_sends_no_update(hook, emulator, function_name, code_dir):
    deploy_op(function_name, code_dir, environment={"GREETING": "hello"}).execute(CONTEXT)
    before = hook.get_function(function_name)
    # Any UpdateFunctionCode/UpdateFunctionConfiguration would now leave the function Updating
    # for 30 s (and the operator would time out waiting for it).
    emulator.control.set_status_delay(30)
    try:
        result = deploy_op(
            function_name, code_dir, environment={"GREETING": "hello"}, wait_timeout=2
        ).execute(CONTEXT)
        after = hook.get_function(function_name)
    finally:
        emulator.control.set_status_delay(0.05)
    assert (result["created"], result["code_updated"], result["configuration_updated"]) == (
        False,
        False,
        False,
    )
    assert result["status"] == after["Status"] == "Active"
    assert (after["ModTime"], after["CodeSize"]) == (before["ModTime"], before["CodeSize"])


def test_redeploy_changed_code_and_configuration(hook, function_name, code_dir):
    first = deploy_op(function_name, code_dir).execute(CONTEXT)
    (code_dir / "index.py").write_text(
        (code_dir / "index.py").read_text().replace('"greeting"', '"salutation"')
    )
    second = deploy_op(
        function_name, code_dir, environment={"GREETING": "v2"}, memory_size=256, publish=True
    ).execute(CONTEXT)
    assert second["code_sha256"] != first["code_sha256"]
    assert (second["code_updated"], second["configuration_updated"]) == (True, True)
    assert second["version"] == "1"
    function = hook.get_function(function_name)
    assert function["MemorySize"] == 256
    assert environment_variables(function)[CODE_HASH_VARIABLE] == second["code_sha256"]
    value = invoke_op(function_name).execute(CONTEXT)
    assert value["salutation"] == "v2"

    # Only the configuration changes: the code is not sent again.
    third = deploy_op(function_name, code_dir, environment={"GREETING": "v3"}, memory_size=256)
    result = third.execute(CONTEXT)
    assert (result["code_updated"], result["configuration_updated"]) == (False, True)


def test_deploy_rejects_a_runtime_change(function_name, code_dir):
    deploy_op(function_name, code_dir).execute(CONTEXT)
    with pytest.raises(InvalidInputError, match="runtime cannot change"):
        deploy_op(function_name, code_dir, runtime="Python3.10").execute(CONTEXT)


def test_deferrable_deploy_waits_for_active_in_the_triggerer(emulator, function_name, code_dir):
    op = deploy_op(function_name, code_dir, deferrable=True, poll_interval=0.05)
    emulator.control.set_status_delay(1.0)
    try:
        with pytest.raises(TaskDeferred) as info:
            op.execute(CONTEXT)  # created, still Creating
    finally:
        emulator.control.set_status_delay(0.05)
    trigger = info.value.trigger
    assert isinstance(trigger, SCFFunctionStateTrigger)
    assert (trigger.function_name, trigger.target_states) == (function_name, ["Active"])
    pending = info.value.kwargs["result"]
    assert pending["created"] is True and "status" not in pending

    async def first_event():
        return await asyncio.wait_for(anext(trigger.run()), timeout=30)

    event = asyncio.run(first_event()).payload
    result = op.execute_complete(CONTEXT, event=event, **info.value.kwargs)
    assert result == {**pending, "status": "Active"}


def test_a_function_whose_creation_failed_is_not_updated(hook, function_name, code_dir):
    package = package_directory(code_dir)
    hook.create_function(function_name, hook.zip_code(package.data), "nope.handler", "Python3.9")
    with pytest.raises(SCFFunctionStateError, match="CreateFailed"):
        deploy_op(function_name, code_dir).execute(CONTEXT)


def test_deploy_needs_exactly_one_code_source(code_dir):
    with pytest.raises(InvalidInputError, match="exactly one code source"):
        SCFDeployFunctionOperator(task_id="t", function_name="f", code_dir="a", zip_file="b.zip")
    with pytest.raises(InvalidInputError, match="cos_bucket and cos_key"):
        SCFDeployFunctionOperator(task_id="t", function_name="f", cos_bucket="b")


def test_deploy_from_cos_skips_unchanged_code(hook, emulator, bucket, function_name, code_dir):
    package = package_directory(code_dir)
    emulator.cos.put_object(bucket, "code/echo.zip", package.data)
    op = SCFDeployFunctionOperator(
        task_id="deploy",
        function_name=function_name,
        cos_bucket=bucket,
        cos_key="code/echo.zip",
        poll_interval=0.02,
        do_xcom_push=False,
    )
    assert op.execute(CONTEXT)["created"] is True
    assert invoke_op(function_name, payload={"from": "cos"}).execute(CONTEXT)["event"] == {
        "from": "cos"
    }
    assert op.execute(CONTEXT)["code_updated"] is False
    emulator.cos.put_object(bucket, "code/echo.zip", package.data + b"")  # same bytes, same ETag
    assert op.execute(CONTEXT)["code_updated"] is False


def test_environment_secrets_are_masked_and_never_logged(
    hook, emulator, function_name, code_dir, monkeypatch, capsys
):
    from airflow.sdk._shared.secrets_masker import redact
    from airflow.sdk.execution_time.context import ConnectionAccessor

    password = "Pg-pass-7f3c9a2e"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SNOVA_SECRET_TEST", f"postgresql://loader:{password}@127.0.0.1:5432/dw"
    )
    op = deploy_op(
        function_name,
        code_dir,
        environment={
            "DB_PASSWORD": "{{ conn.snova_secret_test.password }}",
            "API_KEY": "literal-api-key-0042",
            "GREETING": "hello",
        },
    )
    op.render_template_fields({"conn": ConnectionAccessor()})
    assert op.environment["DB_PASSWORD"] == password
    op.execute(CONTEXT)
    value = invoke_op(function_name).execute(CONTEXT)
    assert value["has_db_password"] is True
    output = capsys.readouterr()
    logged = output.out + output.err
    assert "DB_PASSWORD" in logged  # keys are logged, values never
    for secret in (password, "literal-api-key-0042", emulator.config.secret_key):
        assert secret not in logged
        assert redact(f"x {secret} y") == "x *** y"  # registered with Airflow's masker
    assert redact("hello") == "hello"  # values of ordinary keys stay readable


# -- invoke ------------------------------------------------------------------------------------
def test_sync_invoke_returns_the_decoded_return_value(echo, capsys):
    value = invoke_op(echo, payload='{"from": "json text"}').execute(CONTEXT)
    assert value["event"] == {"from": "json text"}
    logged = capsys.readouterr().out
    assert f"START RequestId: {value['request_id']}" in logged
    assert "echo received keys: ['from']" in logged


def test_a_function_that_raises_fails_the_task_without_retries(echo):
    with pytest.raises(SCFFunctionExecutionError) as info:
        invoke_op(echo, payload={"fail": "the input was bad"}).execute(CONTEXT)
    error = info.value
    assert isinstance(error, AirflowFailException)  # Airflow does not retry it
    assert error.status_code == 430
    assert "ValueError: the input was bad" in str(error)  # the stack trace is in the message
    assert error.request_id and error.request_id in str(error)


def test_a_function_that_times_out_fails_with_433(hook, function_name):
    deploy_echo(hook, function_name, timeout=1)
    with pytest.raises(SCFFunctionExecutionError) as info:
        invoke_op(function_name, payload={"sleep": 3}).execute(CONTEXT)
    assert info.value.status_code == 433
    assert "timed out after 1 second" in str(info.value)


def test_the_whole_log_of_a_chatty_function_is_in_the_task_log(echo, capsys):
    value = invoke_op(echo, payload={"print_bytes": 120_000}).execute(CONTEXT)
    logged = capsys.readouterr().out
    # The Tail holds 4 KB: the first lines are only there because the full log was fetched.
    assert f"START RequestId: {value['request_id']}" in logged
    assert "line 000000 " in logged
    assert "END-OF-OUTPUT" in logged
    numbers = [int(line.split()[1]) for line in logged.splitlines() if line.startswith("line ")]
    assert numbers == list(range(len(numbers)))  # every line, once, in order
    assert sum(len(f"line {n:06d} ") + 91 for n in numbers) >= 120_000


SAYS = """
import os

def main_handler(event, context):
    print("the function says: " + os.environ.get("API_TOKEN", "nothing"))
    for i in range(event.get("lines", 0)):
        print("filler %05d %s" % (i, "." * 80))
    return "x" * event.get("return_bytes", 1)
"""


@pytest.fixture
def sayer(hook, function_name, tmp_path):
    """A function whose environment holds a secret it prints first (deployed by the hook, so
    that nothing in this process has registered the secret with the masker yet)."""
    (tmp_path / "sayer").mkdir()
    (tmp_path / "sayer" / "index.py").write_text(SAYS)
    secret = f"tok-{function_name}-5be1"
    code = hook.zip_code(package_directory(tmp_path / "sayer").data)
    hook.create_function(
        function_name,
        code,
        "index.main_handler",
        "Python3.9",
        timeout=30,
        environment={"API_TOKEN": secret},
    )
    hook.wait_for_function_status(function_name, poll_interval=0.02)
    return function_name, secret


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
def test_the_task_log_shows_the_whole_function_log_masked(sayer, capsys, invocation_type):
    from airflow.sdk._shared.secrets_masker import redact

    name, secret = sayer
    assert redact(secret) == secret  # not known to the masker yet
    payload = {"lines": 200}  # ~18 KB of log: the 4 KB tail is cut, so it is read from CLS
    invoke_op(name, payload=payload, invocation_type=invocation_type).execute(CONTEXT)
    # The invoke registered the function's secret-looking environment values: a worker's
    # supervisor masks the task log with them (calling execute() here prints unmasked records).
    assert redact(f"x {secret} y") == "x *** y"
    logged = redact(capsys.readouterr().out)
    assert "the function says: ***" in logged and secret not in logged  # its first line
    numbers = [int(line.split()[1]) for line in logged.splitlines() if line.startswith("filler ")]
    assert numbers == list(range(200))


def test_a_return_value_above_6_mb_fails_the_task(sayer):
    payload = {"return_bytes": 6 * 1024 * 1024 + 1}
    with pytest.raises(SCFFunctionExecutionError) as info:
        invoke_op(sayer[0], payload=payload).execute(CONTEXT)
    assert info.value.status_code == 407
    assert "exceeds the upper limit (6MB)" in str(info.value)


def test_deploy_invoke_and_logs_use_only_actions_scf_serves(emulator, function_name, code_dir):
    """GetFunctionLogs is offline on SCF: the provider must never need it."""
    sent: list[str] = []
    handle = emulator.scf.handle
    cls_handle = emulator.cls.handle

    def counting(exchange, original=handle):
        sent.append(exchange.headers.get("X-TC-Action"))
        original(exchange)

    def cls_counting(exchange, original=cls_handle):
        sent.append("cls:" + exchange.headers.get("X-TC-Action"))
        original(exchange)

    emulator.scf.handle, emulator.cls.handle = counting, cls_counting
    try:
        deploy_op(function_name, code_dir).execute(CONTEXT)
        invoke_op(function_name, payload={"print_bytes": 20_000}).execute(CONTEXT)
        invoke_op(function_name, payload={"n": 1}, invocation_type="Event").execute(CONTEXT)
    finally:
        emulator.scf.handle, emulator.cls.handle = handle, cls_handle
    served = {"CreateFunction", "GetFunction", "Invoke", "GetRequestStatus", "cls:SearchLog"}
    assert set(sent) <= served, set(sent) - served
    assert {"cls:SearchLog", "GetRequestStatus"} <= set(sent)


def test_payload_is_validated_before_any_call(unique_name):
    op = invoke_op(unique_name("never-called"), payload="x" * 200_000, invocation_type="Event")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        op.execute(CONTEXT)
    op = invoke_op(unique_name("never-called"), payload=["y" * 200_000], invocation_type="Event")
    with pytest.raises(InvalidInputError, match="128 KB"):
        op.execute(CONTEXT)


def test_invocation_type_is_checked_at_parse_time():
    with pytest.raises(InvalidInputError, match="RequestResponse or Event"):
        SCFInvokeFunctionOperator(task_id="t", function_name="f", invocation_type="async")


def test_async_invoke_without_waiting_returns_the_request_id(emulator, echo):
    request_id = invoke_op(echo, invocation_type="Event", wait_for_completion=False).execute(
        CONTEXT
    )
    (record,) = emulator.control.wait_for_invocations(1, echo, timeout=30)
    assert record["request_id"] == request_id


def test_async_invoke_waits_then_behaves_like_sync(echo, capsys):
    value = invoke_op(echo, payload={"n": 3}, invocation_type="Event").execute(CONTEXT)
    assert value["event"] == {"n": 3}
    assert f"START RequestId: {value['request_id']}" in capsys.readouterr().out
    with pytest.raises(SCFFunctionExecutionError, match="async failure"):
        invoke_op(echo, payload={"fail": "async failure"}, invocation_type="Event").execute(CONTEXT)


def test_async_invoke_deferrable(echo, capsys):
    op = invoke_op(echo, payload={"sleep": 0.5, "n": 4}, invocation_type="Event", deferrable=True)
    with pytest.raises(TaskDeferred) as info:
        op.execute(CONTEXT)
    trigger = info.value.trigger
    assert isinstance(trigger, SCFInvocationCompleteTrigger)
    assert info.value.method_name == "execute_complete"
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_scf_snova.triggers.scf.SCFInvocationCompleteTrigger"
    assert kwargs["function_name"] == echo and kwargs["function_request_id"]
    # The invoke time travels to the trigger and back: GetRequestStatus and the CLS search
    # start a minute before it.
    assert kwargs["invoked_at"] == info.value.kwargs["invoked_at"] <= time.time()

    async def first_event():
        return await asyncio.wait_for(anext(trigger.run()), timeout=30)

    event = asyncio.run(first_event()).payload
    assert event["status"] == "success" and event["ret_code"] == 0
    value = op.execute_complete(CONTEXT, event=event, **info.value.kwargs)
    assert value["event"] == {"sleep": 0.5, "n": 4}
    assert value["request_id"] == kwargs["function_request_id"]
    assert f"START RequestId: {value['request_id']}" in capsys.readouterr().out


def test_deferrable_async_failure_fails_in_execute_complete(echo):
    op = invoke_op(
        echo, payload={"sleep": 0.3, "fail": "late"}, invocation_type="Event", deferrable=True
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute(CONTEXT)

    async def first_event():
        return await asyncio.wait_for(anext(info.value.trigger.run()), timeout=30)

    event = asyncio.run(first_event()).payload
    assert (event["status"], event["ret_code"]) == ("error", -1)
    with pytest.raises(SCFFunctionExecutionError, match="ValueError: late"):
        op.execute_complete(CONTEXT, event=event)


# -- delete ------------------------------------------------------------------------------------
def test_delete_function_is_idempotent(hook, echo):
    op = SCFDeleteFunctionOperator(task_id="delete", function_name=echo, poll_interval=0.02)
    assert op.execute(CONTEXT) is True
    assert not hook.function_exists(echo)
    assert op.execute(CONTEXT) is False
    strict = SCFDeleteFunctionOperator(task_id="d", function_name=echo, ignore_if_missing=False)
    with pytest.raises(ResourceNotFoundError):
        strict.execute(CONTEXT)


# -- triggers ----------------------------------------------------------------------------------
def timer_op(function_name, **kwargs):
    kwargs.setdefault("trigger_name", "every-day")
    kwargs.setdefault("cron", "30 1 * * *")
    return SCFCreateTimerTriggerOperator(
        task_id="timer", function_name=function_name, do_xcom_push=False, **kwargs
    )


def cos_op(function_name, bucket, **kwargs):
    return SCFCreateCOSTriggerOperator(
        task_id="cos", function_name=function_name, bucket=bucket, do_xcom_push=False, **kwargs
    )


def test_timer_trigger_is_idempotent_and_fires(hook, emulator, echo):
    first = timer_op(echo, custom_argument={"source": "timer"}).execute(CONTEXT)
    assert (first["triggers"], first["changed"]) == (["0 30 9 * * * *"], True)  # 01:30 UTC
    again = timer_op(echo, custom_argument={"source": "timer"}).execute(CONTEXT)
    assert again["changed"] is False
    changed = timer_op(echo, cron="@hourly", custom_argument={"source": "timer"}).execute(CONTEXT)
    assert changed["changed"] is True
    (trigger,) = hook.list_triggers(echo)
    assert json.loads(trigger["TriggerDesc"]) == {"cron": "0 0 * * * * *"}

    emulator.control.fire_timer(echo, "every-day")
    (run,) = emulator.control.wait_for_invocations(1, echo, timeout=30)
    assert run["trigger"] == "timer" and run["status"] == "success"
    event = json.loads(run["ret_msg"])["event"]
    assert (event["Type"], event["TriggerName"]) == ("Timer", "every-day")
    assert json.loads(event["Message"]) == {"source": "timer"}


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        pytest.param("@once", "no cron equivalent", id="once"),
        pytest.param("0 0 * * * *", "6 fields", id="six fields"),
        pytest.param("61 * * * *", "cannot be converted", id="bad minute"),
    ],
)
def test_timer_schedules_scf_cannot_run_are_rejected(cron, message):
    with pytest.raises(InvalidInputError, match=message):
        timer_op("f", cron=cron)


def test_cos_trigger_fires_on_matching_uploads(hook, emulator, bucket, echo):
    op = cos_op(echo, bucket, prefix="incoming/", suffix=".csv")
    result = op.execute(CONTEXT)
    domain = f"{bucket}.cos.{emulator.config.region}.myqcloud.com"
    assert result["trigger_name"] == domain
    assert json.loads(result["triggers"][0]) == {
        "event": "cos:ObjectCreated:*",
        "filter": {"Prefix": "incoming/", "Suffix": ".csv"},
    }
    assert op.execute(CONTEXT)["changed"] is False

    emulator.cos.put_object(bucket, "other/skip.csv", b"a,b\n")
    emulator.cos.put_object(bucket, "incoming/skip.txt", b"a,b\n")
    emulator.cos.put_object(bucket, "incoming/2024/data.csv", b"a,b\n1,2\n")
    (run,) = emulator.control.wait_for_invocations(1, echo, timeout=30)
    record = json.loads(run["ret_msg"])["event"]["Records"][0]
    assert record["cos"]["cosObject"]["key"].endswith("/incoming/2024/data.csv")
    assert record["event"]["eventName"].startswith("cos:ObjectCreated:")


def test_cos_trigger_with_several_events_and_its_removal(hook, bucket, echo):
    events = ("cos:ObjectCreated:*", "cos:ObjectRemove:*")
    op = cos_op(echo, bucket, events=events)
    assert len(op.execute(CONTEXT)["triggers"]) == 2
    assert sorted(json.loads(t["TriggerDesc"])["event"] for t in hook.list_triggers(echo)) == list(
        events
    )
    narrowed = cos_op(echo, bucket, events=("cos:ObjectCreated:*",))
    assert narrowed.execute(CONTEXT)["changed"] is True
    (left,) = hook.list_triggers(echo)
    assert json.loads(left["TriggerDesc"])["event"] == "cos:ObjectCreated:*"

    delete = SCFDeleteTriggerOperator(
        task_id="rm", function_name=echo, trigger_type="cos", bucket=bucket
    )
    assert delete.execute(CONTEXT) == 1
    assert hook.list_triggers(echo) == []
    assert delete.execute(CONTEXT) == 0


def test_delete_timer_trigger(hook, echo):
    timer_op(echo).execute(CONTEXT)
    op = SCFDeleteTriggerOperator(task_id="rm", function_name=echo, trigger_name="every-day")
    assert op.execute(CONTEXT) == 1
    assert hook.list_triggers(echo) == []
    strict = SCFDeleteTriggerOperator(
        task_id="rm", function_name=echo, trigger_name="every-day", ignore_if_missing=False
    )
    with pytest.raises(ResourceNotFoundError):
        strict.execute(CONTEXT)


def test_connection_arguments_come_from_default_args_for_every_scf_operator(code_dir):
    # The shared arguments live in SCFBaseOperator's __init__: Airflow must still fill them
    # from a DAG's default_args, and every SCF operator must template them.
    from airflow.sdk import DAG

    from airflow_scf_snova.operators.scf import SCFBaseOperator

    defaults = {"tencentcloud_conn_id": "tc_other", "region": "ap-shanghai", "namespace": "ns1"}
    with DAG("scf_defaults", schedule=None, default_args=defaults):
        ops = [
            SCFDeployFunctionOperator(task_id="d", function_name="f", code_dir=str(code_dir)),
            SCFInvokeFunctionOperator(task_id="i", function_name="f"),
            SCFDeleteFunctionOperator(task_id="x", function_name="f"),
            SCFCreateTimerTriggerOperator(
                task_id="t", function_name="f", trigger_name="tm", cron="@daily"
            ),
            SCFCreateCOSTriggerOperator(task_id="c", function_name="f", bucket="b-1250000000"),
            SCFDeleteTriggerOperator(task_id="y", function_name="f", trigger_name="tm"),
        ]
    for op in ops:
        assert isinstance(op, SCFBaseOperator)
        assert (op.function_name, op.tencentcloud_conn_id, op.region, op.namespace) == (
            "f",
            "tc_other",
            "ap-shanghai",
            "ns1",
        )
        assert {"function_name", "namespace", "tencentcloud_conn_id", "region"} <= set(
            op.template_fields
        )
        assert op.hook_kwargs() == {
            "tencentcloud_conn_id": "tc_other",
            "region": "ap-shanghai",
            "namespace": "ns1",
        }


def test_function_name_is_required():
    with pytest.raises(TypeError, match="function_name"):
        SCFInvokeFunctionOperator(task_id="i")


def test_the_deprecated_create_trigger_operator_still_binds_both_kinds(hook, bucket, echo):
    with pytest.warns(DeprecationWarning, match="SCFCreateTimerTriggerOperator"):
        timer = SCFCreateTriggerOperator(
            task_id="t",
            function_name=echo,
            trigger_name="nightly",
            trigger_type="timer",
            cron="@daily",
            do_xcom_push=False,
        )
    with pytest.warns(DeprecationWarning, match="SCFCreateCOSTriggerOperator"):
        cos = SCFCreateTriggerOperator(
            task_id="c",
            function_name=echo,
            trigger_type="cos",
            bucket=bucket,
            prefix="in/",
            do_xcom_push=False,
        )
    assert timer.execute(CONTEXT) == {
        "function_name": echo,
        "namespace": "default",
        "trigger_name": "nightly",
        "trigger_type": "timer",
        "qualifier": "$LATEST",
        "triggers": ["0 0 8 * * * *"],  # midnight UTC at UTC+8
        "changed": True,
    }
    result = cos.execute(CONTEXT)
    assert (result["trigger_type"], result["changed"]) == ("cos", True)
    assert sorted(t["Type"] for t in hook.list_triggers(echo)) == ["cos", "timer"]
    # The same definitions, bound again by the two new operators: nothing changes.
    assert (
        timer_op(echo, trigger_name="nightly", cron="@daily").execute(CONTEXT)["changed"] is False
    )
    assert cos_op(echo, bucket, prefix="in/").execute(CONTEXT)["changed"] is False

    with pytest.warns(DeprecationWarning):
        renamed = SCFCreateTriggerOperator(
            task_id="c",
            function_name=echo,
            trigger_type="cos",
            bucket=bucket,
            trigger_name="mine",
            do_xcom_push=False,
        )
    with pytest.raises(InvalidInputError, match="omit trigger_name"):
        renamed.execute(CONTEXT)
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidInputError, match="trigger_type"):
        SCFCreateTriggerOperator(task_id="x", function_name=echo, trigger_type="http")


def test_the_trigger_operators_stay_importable_from_operators_scf():
    from airflow_scf_snova.operators import scf

    assert scf.SCFCreateTriggerOperator is SCFCreateTriggerOperator
    assert scf.SCFCreateTimerTriggerOperator is SCFCreateTimerTriggerOperator
    assert scf.SCFCreateCOSTriggerOperator is SCFCreateCOSTriggerOperator
    assert scf.SCFDeleteTriggerOperator is SCFDeleteTriggerOperator
    with pytest.raises(AttributeError):
        scf.SCFNoSuchOperator  # noqa: B018


def test_wait_for_active_is_a_deprecated_name_of_wait_for_completion(code_dir):
    with pytest.warns(DeprecationWarning, match="'wait_for_completion'"):
        op = SCFDeployFunctionOperator(
            task_id="d", function_name="f", code_dir=str(code_dir), wait_for_active=False
        )
    assert op.wait_for_completion is False
    assert SCFDeployFunctionOperator(
        task_id="e", function_name="f", code_dir=str(code_dir)
    ).wait_for_completion


def test_include_packages_ships_the_core_inside_the_function(hook, function_name, tmp_path):
    import scf_snova_core

    code = tmp_path / "uses_core"
    code.mkdir()
    (code / "index.py").write_text(
        "import scf_snova_core\n"
        "from scf_snova_core.states import ACTIVE\n\n\n"
        "def main_handler(event, context):\n"
        "    return {'core': scf_snova_core.__file__, 'active': ACTIVE}\n"
    )
    op = deploy_op(function_name, code, include_packages=("scf_snova_core",))
    result = op.execute(CONTEXT)
    assert result["code_sha256"] == package_directory(code, ["scf_snova_core"]).sha256
    assert result["code_sha256"] != package_directory(code).sha256
    value = invoke_op(function_name).execute(CONTEXT)
    # The function imported the copy in its own package, not the worker's installed core.
    deployed_core = Path(value["core"]).parent
    assert deployed_core.name == "scf_snova_core" and value["active"] == "Active"
    assert deployed_core != Path(scf_snova_core.__file__).parent
    assert (deployed_core.parent / "index.py").read_text() == (code / "index.py").read_text()
    assert op.execute(CONTEXT)["code_updated"] is False  # the same package, the same hash

    with pytest.raises(InvalidInputError, match="include_packages needs code_dir"):
        SCFDeployFunctionOperator(
            task_id="z", function_name="f", zip_file="a.zip", include_packages=["scf_snova_core"]
        )
