"""Functions really run: sync and async invokes, logs, request status, errors, versions."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from scf_snova_core.limits import LOG_TAIL_BYTES
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
    assert result["InvokeResult"] == -1
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


def test_tail_is_4kb_and_get_function_logs_has_everything(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=CHATTY)
    lines = 2000  # ~200 KB of output
    result = invoke(scf_client, name, {"lines": lines})
    assert result["RetMsg"] == str(lines)
    assert len(result["Log"].encode()) == LOG_TAIL_BYTES  # ASCII output: exactly the last 4 KB
    assert result["Log"].splitlines()[-1].startswith("Report RequestId:")
    logs = call(
        scf_client,
        "GetFunctionLogs",
        {"FunctionName": name, "FunctionRequestId": result["FunctionRequestId"]},
    )
    assert logs["TotalCount"] == 1
    full = logs["Data"][0]["Log"]
    assert full.endswith(result["Log"])  # the tail is the end of the complete log
    assert len(full.encode()) > 200_000
    body = [line for line in full.splitlines() if line.startswith("line ")]
    assert [int(line.split()[1]) for line in body] == list(range(lines))
    assert "LAST LINE" in full
    assert full.startswith(f"START RequestId: {result['FunctionRequestId']}")


@pytest.fixture
def shared_dir():
    """A directory functions can see: they run as an unprivileged user when the emulator runs
    as root, and pytest's own temporary directories are private to their owner."""
    path = Path(tempfile.mkdtemp(prefix="scf-shared-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


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
    running_logs = call(scf_client, "GetFunctionLogs", {"FunctionName": name})
    assert running_logs["Data"][0]["InvokeFinished"] == 0
    assert running_logs["Data"][0]["RetCode"] == 2
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


def test_get_function_logs_filters_and_paging(scf_client, unique_name):
    source = """
    def main_handler(event, context):
        if event.get("fail"):
            raise RuntimeError("asked to fail")
        return event["i"]
    """
    name = unique_name("fn")
    create_function(scf_client, name, source=source)
    ids = [
        invoke(scf_client, name, {"i": i, "fail": i == 1})["FunctionRequestId"] for i in range(3)
    ]

    def logs(**params):
        return call(scf_client, "GetFunctionLogs", {"FunctionName": name, **params})

    assert [d["RequestId"] for d in logs(Order="asc")["Data"]] == ids
    assert [d["RequestId"] for d in logs()["Data"]] == ids[::-1]  # desc by default
    page = logs(Order="asc", Offset=1, Limit=1)
    assert page["TotalCount"] == 3 and [d["RequestId"] for d in page["Data"]] == [ids[1]]
    ok = logs(Filter={"RetCode": "is0"}, Order="asc")
    assert [d["RequestId"] for d in ok["Data"]] == [ids[0], ids[2]]
    assert all(d["RetCode"] == 0 and d["InvokeFinished"] == 1 for d in ok["Data"])
    failed = logs(Filter={"RetCode": "not0"})
    assert [d["RequestId"] for d in failed["Data"]] == [ids[1]]
    assert failed["Data"][0]["RetCode"] == 430 and failed["Data"][0]["Level"] == "ERROR"
    user = logs(Filter={"RetCode": "UserCodeException"})
    assert [d["RequestId"] for d in user["Data"]] == [ids[1]]
    assert logs(Filter={"RetCode": "TimeLimitExceeded"})["TotalCount"] == 0
    assert logs(StartTime="2000-01-01 00:00:00", EndTime="2000-01-02 00:00:00")["TotalCount"] == 0
    assert error_code(
        scf_client, "GetFunctionLogs", {"FunctionName": name, "Filter": {"RetCode": "bad"}}
    ) == ("InvalidParameterValue.RetCode")


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


def test_publish_version_and_invoke_it(scf_client, unique_name):
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
    assert invoke(scf_client, name, Qualifier="1")["RetMsg"] == '"one"'
    assert invoke(scf_client, name)["RetMsg"] == '"two"'
    assert invoke(scf_client, name, Qualifier="2")["RetMsg"] == '"two"'  # Publish=TRUE
    version = call(scf_client, "GetFunction", {"FunctionName": name, "Qualifier": "1"})
    assert (version["FunctionVersion"], version["Status"]) == ("1", "Active")
    params = {"FunctionName": name, "Qualifier": "7"}
    assert error_code(scf_client, "GetFunction", params) == "ResourceNotFound.Version"
    logs = call(scf_client, "GetFunctionLogs", {"FunctionName": name, "Qualifier": "1"})
    assert logs["TotalCount"] == 1
    assert json.loads(logs["Data"][0]["RetMsg"]) == "one"
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
