"""Functions really run: sync and async invokes, logs, request status, errors, versions.

The CLS records of the logs are tested in ``test_cls_logs.py``, GetRequestStatus's window in
``test_scf_request_status.py``.
"""

from __future__ import annotations

import json
import os
import pwd
import sys
import time

import pytest
from scf_snova_core.limits import LOG_TAIL_BYTES, SYNC_RESPONSE_LIMIT
from scf_snova_devel.scf_api import (
    RAISES,
    SLEEPS,
    call,
    create_function,
    error_code,
    invoke,
    search_log,
    wait_status,
    zip_b64,
)

INSPECT = """
import json, os, sys, logging

def main_handler(event, context):
    print("stdout line")
    print("stderr line", file=sys.stderr)
    logging.getLogger("fn").info("logging line")
    names = ["STAGE", "SCF_FUNCTIONNAME", "SCF_NAMESPACE", "SCF_FUNCTIONVERSION",
             "TENCENTCLOUD_REGION", "TENCENTCLOUD_APPID", "SCF_RUNTIME", "SCF_MEMORYSIZE"]
    return {"event": event, "context": context, "env": {n: os.environ.get(n) for n in names},
            "cwd_has_index": os.path.exists("index.py")}
"""

WAITS_FOR_FILE = """
import os, time

def main_handler(event, context):
    deadline = time.monotonic() + 20
    while not os.path.exists(event["path"]):
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released me")
        time.sleep(0.01)
    return "released"
"""

CHATTY = """
def main_handler(event, context):
    for i in range(event["lines"]):
        print("line %06d %s" % (i, "x" * 90))
    print("LAST LINE")
    return event["lines"]
"""


def test_sync_invoke_runs_the_handler(scf_client, unique_name, emulator):
    name = unique_name("fn")
    create_function(
        scf_client,
        name,
        source=INSPECT,
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": [{"Key": "STAGE", "Value": "test"}]},
    )
    result = invoke(scf_client, name, {"hello": "world", "n": 1})
    assert result["InvokeResult"] == 0
    assert result["ErrMsg"] == ""
    assert isinstance(result["Duration"], float) and isinstance(result["BillDuration"], int)
    assert result["MemUsage"] > 1_000_000
    ret = json.loads(result["RetMsg"])
    assert ret["event"] == {"hello": "world", "n": 1}
    assert ret["cwd_has_index"] is True
    context = ret["context"]
    rid = result["FunctionRequestId"]
    assert context["request_id"] == rid
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["namespace"] == "default"
    assert context["memory_limit_in_mb"] == 256
    assert context["time_limit_in_ms"] == 7000
    assert context["tencentcloud_region"] == emulator.config.region
    assert context["tencentcloud_appid"] == emulator.config.appid
    assert context["tencentcloud_uin"] == "100000000001"  # the emulator's account (docs)
    assert json.loads(context["environment"]) == {"STAGE": "test", "SCF_NAMESPACE": "default"}
    assert "STAGE=test" in context["environ"]
    assert ret["env"] == {
        "STAGE": "test",
        "SCF_FUNCTIONNAME": name,
        "SCF_NAMESPACE": "default",
        "SCF_FUNCTIONVERSION": "$LATEST",
        "TENCENTCLOUD_REGION": emulator.config.region,
        "TENCENTCLOUD_APPID": emulator.config.appid,
        "SCF_RUNTIME": "Python3.9",
        "SCF_MEMORYSIZE": "256",
    }
    log = result["Log"].splitlines()
    assert log[0] == f"START RequestId: {rid}"
    assert log[1] == f"Event RequestId: {rid}"
    assert "stdout line" in log and "stderr line" in log
    assert any(line.startswith("[INFO]") and line.endswith("logging line") for line in log)
    assert log[-2] == f"END RequestId: {rid}"
    assert log[-1].startswith(f"Report RequestId: {rid} Duration:")
    assert "Memory:256MB MemUsage:" in log[-1]


def test_log_type_none_returns_no_log(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    result = call(scf_client, "Invoke", {"FunctionName": name})["Result"]
    assert result["Log"] == ""
    assert json.loads(result["RetMsg"]) == {"event": {}, "function": name}


ISOLATED = """
import os, site, sys
import helper

def main_handler(event, context):
    try:
        import psycopg2
        found = psycopg2.__file__
    except ImportError as exc:
        found = repr(exc)
    return {"helper": helper.VALUE, "psycopg2": found, "version": list(sys.version_info[:2]),
            "path": sys.path, "cwd": os.getcwd(), "isolated": sys.flags.isolated,
            "no_site": sys.flags.no_site, "uid": os.getuid(), "executable": sys.executable}
"""


def test_a_function_imports_only_the_standard_library_and_its_package(
    emulator, scf_client, unique_name
):
    name = unique_name("fn")
    create_function(
        scf_client, name, code={"ZipFile": zip_b64(ISOLATED, extra={"helper.py": "VALUE = 42\n"})}
    )
    ret = json.loads(invoke(scf_client, name)["RetMsg"])
    assert ret["helper"] == 42
    # psycopg2 is installed where the emulator runs, but a function sees none of it.
    assert ret["psycopg2"] == "ModuleNotFoundError(\"No module named 'psycopg2'\")"
    assert ret["version"] == [3, 9]  # the runtime's CPython, not the emulator's 3.11
    assert (ret["isolated"], ret["no_site"]) == (1, 1)
    assert ret["path"][0] == ret["cwd"]  # the code package first, like /var/user
    assert not [p for p in ret["path"] if "site-packages" in p or "dist-packages" in p]
    assert not [p for p in ret["path"] if p.startswith(sys.prefix)]
    if os.geteuid() == 0:
        assert ret["uid"] == pwd.getpwnam("nobody").pw_uid


def test_packaged_requirements_built_for_the_runtime_import(scf_client, unique_name):
    name = unique_name("fn")
    create_function(
        scf_client,
        name,
        source=ISOLATED,
        extra_files={"helper.py": "VALUE = 1\n"},
        requirements=("psycopg2-binary==2.9.12",),
    )
    ret = json.loads(invoke(scf_client, name)["RetMsg"])
    assert ret["psycopg2"] == os.path.join(ret["cwd"], "psycopg2", "__init__.py")


def test_an_exception_gives_the_430_shape(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    result = invoke(scf_client, name, {"why": "because"})
    assert result["InvokeResult"] == 1  # the user code raised: RetMsg is the error object
    assert result["ErrMsg"] == result["RetMsg"]
    error = json.loads(result["ErrMsg"])
    assert error["errorCode"] == -1
    assert error["statusCode"] == 430
    assert error["errorMessage"] == "user code exception caught"
    assert error["requestId"] == result["FunctionRequestId"]
    assert error["stackTrace"].startswith("Traceback")
    assert error["stackTrace"].endswith("ValueError: boom because")
    assert "about to fail" in result["Log"]
    assert "ValueError: boom because" in result["Log"]


def test_timeout_kills_the_function_with_433(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=SLEEPS, Timeout=1)
    started = time.monotonic()
    result = invoke(scf_client, name, {"seconds": 30})
    assert time.monotonic() - started < 15
    error = json.loads(result["ErrMsg"])
    assert error["statusCode"] == 433
    assert error["errorMessage"] == "Invoking task timed out after 1 seconds"
    assert result["InvokeResult"] == -1
    assert result["Duration"] == 1000.0
    assert "going to sleep" in result["Log"]


def test_memory_above_the_limit_gives_434(scf_client, unique_name):
    source = """
    def main_handler(event, context):
        block = bytearray(120 * 1024 * 1024)
        return len(block)
    """
    name = unique_name("fn")
    create_function(scf_client, name, source=source, MemorySize=64)
    error = json.loads(invoke(scf_client, name)["ErrMsg"])
    assert (error["statusCode"], error["errorMessage"]) == (434, "Task memory exceeded 64 MB")


@pytest.mark.parametrize(
    ("body", "status_code", "message"),
    [
        ("import os\n    os._exit(3)", 405, "exit code 3"),
        ("return object()", 430, "user code exception caught"),
    ],
)
def test_other_failures(scf_client, unique_name, body, status_code, message):
    name = unique_name("fn")
    create_function(scf_client, name, source=f"def main_handler(e, c):\n    {body}\n")
    error = json.loads(invoke(scf_client, name)["ErrMsg"])
    assert error["statusCode"] == status_code
    assert message in error["errorMessage"]


def test_tail_is_4kb_and_cls_has_every_line(scf_client, cls_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=CHATTY)
    lines = 2000  # ~200 KB of output
    result = invoke(scf_client, name, {"lines": lines})
    assert result["RetMsg"] == str(lines)
    assert len(result["Log"].encode()) == LOG_TAIL_BYTES  # ASCII output: exactly the last 4 KB
    assert result["Log"].splitlines()[-1].startswith("Report RequestId:")
    topic = call(scf_client, "GetFunction", {"FunctionName": name})["ClsTopicId"]
    rid = result["FunctionRequestId"]
    messages = []
    for offset in range(0, 3000, 1000):
        page = search_log(cls_client, topic, f'SCF_RequestId:"{rid}"', Limit=1000, Offset=offset)
        messages += [r["Fields"]["SCF_Message"] for r in page["Results"]]
    full = "\n".join(messages)
    assert full.endswith(result["Log"])  # the tail is the end of the complete log
    assert len(full.encode()) > 200_000
    body = [line for line in messages if line.startswith("line ")]
    assert [int(line.split()[1]) for line in body] == list(range(lines))
    assert "LAST LINE" in messages
    assert messages[0] == f"START RequestId: {rid}"


def test_async_invoke_and_request_status(scf_client, unique_name, shared_dir):
    name = unique_name("fn")
    create_function(scf_client, name, source=WAITS_FOR_FILE, Timeout=30)
    release = shared_dir / "release"
    result = call(
        scf_client,
        "Invoke",
        {
            "FunctionName": name,
            "InvocationType": "Event",
            "ClientContext": json.dumps({"path": str(release)}),
        },
    )["Result"]
    rid = result["FunctionRequestId"]
    assert (result["RetMsg"], result["Log"], result["ErrMsg"]) == ("", "", "")
    status = call(scf_client, "GetRequestStatus", {"FunctionName": name, "FunctionRequestId": rid})
    assert status["TotalCount"] == 1
    assert status["Data"][0]["RetCode"] == 1  # running until released
    release.write_text("go")
    deadline = time.monotonic() + 20
    while True:
        data = call(
            scf_client, "GetRequestStatus", {"FunctionName": name, "FunctionRequestId": rid}
        )["Data"][0]
        if data["RetCode"] != 1 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert data["RetCode"] == 0
    assert data["RetMsg"] == '"released"'
    assert data["RequestId"] == rid and data["FunctionName"] == name
    assert isinstance(data["MemUsage"], float) and data["MemUsage"] < 1024  # MB, not bytes


def test_async_failure_is_retcode_minus_one(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=RAISES)
    rid = call(
        scf_client,
        "Invoke",
        {"FunctionName": name, "InvocationType": "Event", "ClientContext": "{}"},
    )["Result"]["FunctionRequestId"]
    emulator.control.wait_for_invocations(1, name, timeout=20)
    status = call(scf_client, "GetRequestStatus", {"FunctionName": name, "FunctionRequestId": rid})
    assert status["Data"][0]["RetCode"] == -1
    assert json.loads(status["Data"][0]["RetMsg"])["statusCode"] == 430
    unknown = call(
        scf_client, "GetRequestStatus", {"FunctionName": name, "FunctionRequestId": "nope"}
    )
    assert unknown == {**unknown, "TotalCount": 0, "Data": []}


def test_get_function_logs_is_offline(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    invoke(scf_client, name)
    # The SDK documents it as taken offline (该接口已下线); the emulator answers as an offline
    # API 3.0 action does.
    assert error_code(scf_client, "GetFunctionLogs", {"FunctionName": name}) == "ActionOffline"


def test_a_sync_response_above_6_mb_fails_with_407(emulator, scf_client, unique_name):
    source = f"""
    def main_handler(event, context):
        print("returning a big value")
        return "x" * {SYNC_RESPONSE_LIMIT}
    """
    name = unique_name("fn")
    create_function(scf_client, name, source=source)
    result = invoke(scf_client, name)
    error = json.loads(result["ErrMsg"])
    assert (error["statusCode"], error["errorMessage"]) == (
        407,
        "The size of response exceeds the upper limit (6MB)",
    )
    assert result["InvokeResult"] == -1  # not a user-code exception
    assert "returning a big value" in result["Log"]
    # The limit is on the sync response: an async run's return value is not sent back.
    rid = call(scf_client, "Invoke", {"FunctionName": name, "InvocationType": "Event"})["Result"][
        "FunctionRequestId"
    ]
    emulator.control.wait_for_invocations(2, name, timeout=30)
    status = call(scf_client, "GetRequestStatus", {"FunctionName": name, "FunctionRequestId": rid})
    assert status["Data"][0]["RetCode"] == 0


def test_a_sync_invoke_waits_at_most_the_sync_cap(emulator, scf_client, unique_name, shared_dir):
    name = unique_name("fn")
    create_function(scf_client, name, source=WAITS_FOR_FILE, Timeout=60)
    release = shared_dir / "release"
    emulator.control.set_sync_invoke_timeout(0.5)  # SCF's is 300 s
    try:
        started = time.monotonic()
        params = {"FunctionName": name, "ClientContext": json.dumps({"path": str(release)})}
        assert error_code(scf_client, "Invoke", params) == "FailedOperation.InvokeFunction"
        assert time.monotonic() - started < 10
    finally:
        emulator.control.set_sync_invoke_timeout(300)
    (running,) = emulator.control.invocations(name)
    assert running["status"] == "running"  # the run goes on after the call gave up
    release.write_text("go")
    (done,) = emulator.control.wait_for_invocations(1, name, timeout=30)
    assert (done["status"], done["ret_msg"]) == ("success", '"released"')


def test_invoke_function_api(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    result = call(
        scf_client, "InvokeFunction", {"FunctionName": name, "Event": json.dumps({"k": "v"})}
    )["Result"]
    assert json.loads(result["RetMsg"]) == {"event": {"k": "v"}, "function": name}
    params = {"FunctionName": name, "Event": "{not json"}
    assert error_code(scf_client, "InvokeFunction", params) == "InvalidParameterValue.Param"


def test_invalid_invoke_parameters(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    cases = [
        ({"ClientContext": "{not json"}, "InvalidParameterValue.ClientContext"),
        ({"InvocationType": "DryRun"}, "InvalidParameterValue.InvokeType"),
        (
            {"InvocationType": "Event", "ClientContext": json.dumps({"x": "y" * 140_000})},
            "InvalidParameter.RequestTooLarge",
        ),
        ({"Qualifier": "9"}, "ResourceNotFound.Qualifier"),
    ]
    for params, expected in cases:
        assert error_code(scf_client, "Invoke", {"FunctionName": name, **params}) == expected
    big = invoke(scf_client, name, {"x": "y" * 140_000})  # 128 KB is an async-only limit
    assert big["InvokeResult"] == 0


def test_publish_version_and_invoke_it(scf_client, cls_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source="def main_handler(e, c):\n    return 'one'\n")
    published = call(scf_client, "PublishVersion", {"FunctionName": name, "Description": "v1"})
    assert published["FunctionVersion"] == "1"
    assert (published["Handler"], published["Runtime"]) == ("index.main_handler", "Python3.9")
    assert published["Description"] == "v1"
    wait_status(scf_client, name)
    call(
        scf_client,
        "UpdateFunctionCode",
        {
            "FunctionName": name,
            "Code": {"ZipFile": zip_b64("def main_handler(e, c):\n    return 'two'\n")},
            "Publish": "TRUE",
        },
    )
    wait_status(scf_client, name)
    first = invoke(scf_client, name, Qualifier="1")
    assert first["RetMsg"] == '"one"'
    first_rid = first["FunctionRequestId"]
    assert invoke(scf_client, name)["RetMsg"] == '"two"'
    assert invoke(scf_client, name, Qualifier="2")["RetMsg"] == '"two"'  # Publish=TRUE
    version = call(scf_client, "GetFunction", {"FunctionName": name, "Qualifier": "1"})
    assert (version["FunctionVersion"], version["Status"]) == ("1", "Active")
    params = {"FunctionName": name, "Qualifier": "7"}
    assert error_code(scf_client, "GetFunction", params) == "ResourceNotFound.Version"
    topic = version["ClsTopicId"]
    ran_one = search_log(cls_client, topic, f'SCF_FunctionName:"{name}" AND SCF_Qualifier:"1"')
    assert {r["Fields"]["SCF_RequestId"] for r in ran_one["Results"]} == {first_rid}
    call(scf_client, "DeleteFunction", {"FunctionName": name, "Qualifier": "1"})
    assert error_code(scf_client, "Invoke", {"FunctionName": name, "Qualifier": "1"}) == (
        "ResourceNotFound.Qualifier"
    )
    assert invoke(scf_client, name)["RetMsg"] == '"two"'  # the function itself stays


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def test_processes_a_function_leaves_behind_are_killed(scf_client, unique_name):
    source = """
    import subprocess

    def main_handler(event, context):
        return subprocess.Popen(["sleep", "60"]).pid
    """
    name = unique_name("fn")
    create_function(scf_client, name, source=source)
    pid = int(invoke(scf_client, name)["RetMsg"])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)
