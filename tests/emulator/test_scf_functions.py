"""Function lifecycle through the real ``ScfClient``: create, get, list, update, delete."""

from __future__ import annotations

import base64
import re

import pytest
from scf_snova_devel.scf_api import (
    ECHO,
    call,
    create_function,
    error_code,
    invoke,
    make_zip,
    wait_gone,
    wait_status,
    zip_b64,
)

API_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def slow_status(emulator):
    """Make status changes started from now on last long enough to be observed."""
    emulator.control.set_status_delay(5.0)
    yield
    emulator.control.set_status_delay(emulator.config.status_delay)


def test_create_goes_creating_then_active(emulator, scf_client, unique_name, slow_status):
    emulator.control.set_status_delay(0.5)
    name = unique_name("fn")
    call(
        scf_client,
        "CreateFunction",
        {
            "FunctionName": name,
            "Runtime": "Python3.9",
            "Handler": "index.main_handler",
            "Code": {"ZipFile": zip_b64()},
            "Description": "echo",
            "Environment": {"Variables": [{"Key": "STAGE", "Value": "test"}]},
            "Tags": [{"Key": "code-sha256", "Value": "abc123"}],
        },
    )
    assert call(scf_client, "GetFunction", {"FunctionName": name})["Status"] == "Creating"
    function = wait_status(scf_client, name)
    assert function["Status"] == "Active"
    assert function["StatusReasons"] == []
    assert function["FunctionName"] == name
    assert function["Namespace"] == "default"
    assert function["Handler"] == "index.main_handler"
    assert function["Runtime"] == "Python3.9"
    assert (function["MemorySize"], function["Timeout"]) == (128, 3)
    assert function["Description"] == "echo"
    assert function["CodeSize"] == len(base64.b64decode(zip_b64()))
    assert function["Environment"] == {"Variables": [{"Key": "STAGE", "Value": "test"}]}
    assert function["Tags"] == [{"Key": "code-sha256", "Value": "abc123"}]
    assert function["FunctionVersion"] == "$LATEST"
    assert function["Qualifier"] == "$LATEST"
    assert function["Type"] == "Event"
    assert function["FunctionId"].startswith("lam-")
    assert API_TIME.match(function["AddTime"]) and API_TIME.match(function["ModTime"])


def test_duplicate_create_is_resource_in_use(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    params = {"FunctionName": name, "Runtime": "Python3.9", "Code": {"ZipFile": zip_b64()}}
    assert error_code(scf_client, "CreateFunction", params) == "ResourceInUse.Function"


@pytest.mark.parametrize("name", ["a", "1abc", "abc-", "abc_", "has space", "x" * 61])
def test_invalid_function_names(scf_client, name):
    params = {"FunctionName": name, "Runtime": "Python3.9", "Code": {"ZipFile": zip_b64()}}
    assert error_code(scf_client, "CreateFunction", params) == "InvalidParameter.FunctionName"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param({"ZipFile": "not base64 !!"}, "ZipFileBase64BinasciiError", id="base64"),
        pytest.param(
            {"ZipFile": base64.b64encode(b"plain text, not a zip").decode()}, "ZipFile", id="zip"
        ),
        pytest.param({}, None, id="no-code"),
    ],
)
def test_invalid_code(scf_client, unique_name, code, expected):
    params = {"FunctionName": unique_name("fn"), "Runtime": "Python3.9", "Code": code}
    got = error_code(scf_client, "CreateFunction", params)
    assert got == (f"InvalidParameterValue.{expected}" if expected else "MissingParameter.Code")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"MemorySize": 100}, "InvalidParameterValue.MemorySize"),
        ({"MemorySize": 3200}, "InvalidParameterValue.MemorySize"),
        ({"Timeout": 901}, "LimitExceeded.Timeout"),
        ({"Timeout": 0}, "LimitExceeded.Timeout"),
        ({"Runtime": "Ruby2.5"}, "InvalidParameterValue.Runtime"),
        ({"Handler": "index"}, "InvalidParameterValue.Handler"),
        ({"Handler": "index.main_handler2"}, "InvalidParameterValue.Handler"),
        (
            {"Environment": {"Variables": [{"Key": "SCF_FUNCTIONNAME", "Value": "x"}]}},
            "InvalidParameterValue.EnvironmentSystemProtect",
        ),
        (
            {"Environment": {"Variables": [{"Key": "BIG", "Value": "x" * 5000}]}},
            "InvalidParameterValue.EnvironmentExceededLimit",
        ),
        ({"Namespace": "other"}, "ResourceNotFound.Namespace"),
    ],
)
def test_invalid_configuration(scf_client, unique_name, params, expected):
    request = {
        "FunctionName": unique_name("fn"),
        "Runtime": "Python3.9",
        "Code": {"ZipFile": zip_b64()},
        **params,
    }
    assert error_code(scf_client, "CreateFunction", request) == expected


@pytest.mark.parametrize(
    ("files", "handler", "reason"),
    [
        pytest.param({"main.py": ECHO}, "index.main_handler", "index.py", id="no-module"),
        pytest.param(
            {"index.py": "def other(event, context):\n    return 1\n"},
            "index.main_handler",
            "'main_handler' is not defined",
            id="no-function",
        ),
        pytest.param(
            {"index.py": "def main_handler(event, context)\n    return 1\n"},
            "index.main_handler",
            "SyntaxError",
            id="syntax-error",
        ),
        pytest.param({"src/index.py": ECHO}, "index.main_handler", "at its root", id="nested"),
    ],
)
def test_handler_that_cannot_be_imported_fails_creation(
    scf_client, unique_name, files, handler, reason
):
    name = unique_name("fn")
    code = {"ZipFile": base64.b64encode(make_zip(files)).decode()}
    call(
        scf_client,
        "CreateFunction",
        {"FunctionName": name, "Runtime": "Python3.9", "Handler": handler, "Code": code},
    )
    function = wait_status(scf_client, name)
    assert function["Status"] == "CreateFailed"
    assert function["StatusReasons"][0]["ErrorCode"] == "CreateFailed"
    assert reason in function["StatusReasons"][0]["ErrorMessage"]
    assert error_code(scf_client, "Invoke", {"FunctionName": name}) == (
        "FailedOperation.FunctionStatusError"
    )
    call(scf_client, "DeleteFunction", {"FunctionName": name})
    assert wait_gone(scf_client, name) == "ResourceNotFound.Function"


def test_python27_and_other_runtimes_are_accepted_then_fail(scf_client, unique_name):
    for runtime in ("Python2.7", "Nodejs18.15"):
        name = unique_name("fn")
        call(
            scf_client,
            "CreateFunction",
            {"FunctionName": name, "Runtime": runtime, "Code": {"ZipFile": zip_b64()}},
        )
        function = wait_status(scf_client, name)
        assert function["Status"] == "CreateFailed"
        assert runtime in function["StatusReasons"][0]["ErrorMessage"]


def test_runtime_defaults_to_python27_like_the_api(scf_client, unique_name):
    name = unique_name("fn")
    call(scf_client, "CreateFunction", {"FunctionName": name, "Code": {"ZipFile": zip_b64()}})
    function = wait_status(scf_client, name)
    assert (function["Runtime"], function["Status"]) == ("Python2.7", "CreateFailed")


def test_update_configuration(emulator, scf_client, unique_name, slow_status):
    name = unique_name("fn")
    emulator.control.set_status_delay(0)
    create_function(
        scf_client, name, Environment={"Variables": [{"Key": "A", "Value": "1"}]}, Timeout=3
    )
    emulator.control.set_status_delay(0.5)
    call(
        scf_client,
        "UpdateFunctionConfiguration",
        {
            "FunctionName": name,
            "MemorySize": 256,
            "Timeout": 30,
            "Description": "changed",
            "Environment": {"Variables": [{"Key": "B", "Value": "2"}]},
        },
    )
    assert call(scf_client, "GetFunction", {"FunctionName": name})["Status"] == "Updating"
    function = wait_status(scf_client, name)
    assert (function["MemorySize"], function["Timeout"]) == (256, 30)
    assert function["Description"] == "changed"
    assert function["Environment"]["Variables"] == [{"Key": "B", "Value": "2"}]
    # an update without Environment keeps it; the sentinel clears it
    call(scf_client, "UpdateFunctionConfiguration", {"FunctionName": name, "Timeout": 10})
    assert wait_status(scf_client, name)["Environment"]["Variables"] == [{"Key": "B", "Value": "2"}]
    call(
        scf_client,
        "UpdateFunctionConfiguration",
        {"FunctionName": name, "Environment": {"Variables": [{"Key": "", "Value": ""}]}},
    )
    assert wait_status(scf_client, name)["Environment"]["Variables"] == []


def test_runtime_cannot_be_changed(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    params = {"FunctionName": name, "Runtime": "Python3.10"}
    assert error_code(scf_client, "UpdateFunctionConfiguration", params) == (
        "InvalidParameterValue.Runtime"
    )


def test_update_code(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source="def main_handler(e, c):\n    return 'v1'\n")
    new = zip_b64("def handler_two(e, c):\n    return 'v2'\n", module="app")
    call(
        scf_client,
        "UpdateFunctionCode",
        {"FunctionName": name, "Handler": "app.handler_two", "Code": {"ZipFile": new}},
    )
    function = wait_status(scf_client, name)
    assert (function["Status"], function["Handler"]) == ("Active", "app.handler_two")
    assert invoke(scf_client, name)["RetMsg"] == '"v2"'
    # the top-level ZipFile form works too
    call(
        scf_client,
        "UpdateFunctionCode",
        {"FunctionName": name, "ZipFile": zip_b64("def handler_two(e, c):\n    return 3\n", "app")},
    )
    wait_status(scf_client, name)
    assert invoke(scf_client, name)["RetMsg"] == "3"


def test_failed_code_update_keeps_the_old_code_serving(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source="def main_handler(e, c):\n    return 'old'\n")
    broken = zip_b64("def something_else(e, c):\n    return 'new'\n")
    call(scf_client, "UpdateFunctionCode", {"FunctionName": name, "Code": {"ZipFile": broken}})
    function = wait_status(scf_client, name)
    assert function["Status"] == "UpdateFailed"
    assert "main_handler" in function["StatusReasons"][0]["ErrorMessage"]
    assert invoke(scf_client, name)["RetMsg"] == '"old"'


def test_mutations_and_invokes_need_an_active_function(
    emulator, scf_client, unique_name, slow_status
):
    name = unique_name("fn")
    emulator.control.set_status_delay(0)
    create_function(scf_client, name)
    emulator.control.set_status_delay(5.0)
    call(scf_client, "UpdateFunctionConfiguration", {"FunctionName": name, "Timeout": 5})
    assert call(scf_client, "GetFunction", {"FunctionName": name})["Status"] == "Updating"
    code = {"FunctionName": name, "Code": {"ZipFile": zip_b64()}}
    assert error_code(scf_client, "UpdateFunctionCode", code) == (
        "FailedOperation.UpdateFunctionCode"
    )
    config = {"FunctionName": name, "Timeout": 6}
    assert error_code(scf_client, "UpdateFunctionConfiguration", config) == (
        "FailedOperation.UpdateFunctionConfiguration"
    )
    assert error_code(scf_client, "Invoke", {"FunctionName": name}) == (
        "FailedOperation.FunctionStatusError"
    )
    assert error_code(scf_client, "PublishVersion", {"FunctionName": name}) == (
        "FailedOperation.PublishVersion"
    )
    assert error_code(scf_client, "DeleteFunction", {"FunctionName": name}) == (
        "FailedOperation.DeleteFunction"
    )


def test_publishing_is_observable(emulator, scf_client, unique_name, slow_status):
    name = unique_name("fn")
    emulator.control.set_status_delay(0)
    create_function(scf_client, name)
    emulator.control.set_status_delay(5.0)
    assert call(scf_client, "PublishVersion", {"FunctionName": name})["FunctionVersion"] == "1"
    assert call(scf_client, "GetFunction", {"FunctionName": name})["Status"] == "Publishing"
    assert error_code(scf_client, "PublishVersion", {"FunctionName": name}) == (
        "FailedOperation.PublishVersion"
    )


def test_delete_goes_deleting_then_not_found(scf_client, unique_name, emulator, slow_status):
    name = unique_name("fn")
    emulator.control.set_status_delay(0)
    create_function(scf_client, name)
    emulator.control.set_status_delay(0.3)
    call(scf_client, "DeleteFunction", {"FunctionName": name})
    assert call(scf_client, "GetFunction", {"FunctionName": name})["Status"] == "Deleting"
    params = {"FunctionName": name, "Code": {"ZipFile": zip_b64()}, "Runtime": "Python3.9"}
    assert error_code(scf_client, "CreateFunction", params) == "ResourceInUse.Function"
    assert wait_gone(scf_client, name) == "ResourceNotFound.Function"
    create_function(scf_client, name)  # the name is free again


def test_unknown_function(scf_client):
    for action in ("GetFunction", "DeleteFunction", "Invoke", "PublishVersion", "ListTriggers"):
        assert error_code(scf_client, action, {"FunctionName": "never-created"}) == (
            "ResourceNotFound.Function"
        )


def test_list_functions_paging_search_and_filters(scf_client, unique_name):
    prefix = unique_name("ls")
    names = [f"{prefix}-{i}" for i in range(3)]
    for i, name in enumerate(names):
        create_function(scf_client, name, Tags=[{"Key": "team", "Value": f"t{i % 2}"}])
    first = call(scf_client, "ListFunctions", {"SearchKey": prefix, "Limit": 2})
    second = call(scf_client, "ListFunctions", {"SearchKey": prefix, "Limit": 2, "Offset": 2})
    assert first["TotalCount"] == second["TotalCount"] == 3
    listed = [f["FunctionName"] for f in first["Functions"] + second["Functions"]]
    assert listed == names
    desc = call(
        scf_client,
        "ListFunctions",
        {"SearchKey": prefix, "Order": "DESC", "Orderby": "FunctionName"},
    )
    assert [f["FunctionName"] for f in desc["Functions"]] == names[::-1]
    tagged = call(
        scf_client,
        "ListFunctions",
        {"SearchKey": prefix, "Filters": [{"Name": "tag-team", "Values": ["t0"]}]},
    )
    assert [f["FunctionName"] for f in tagged["Functions"]] == [names[0], names[2]]
    failed = call(
        scf_client,
        "ListFunctions",
        {"SearchKey": prefix, "Filters": [{"Name": "Status", "Values": ["CreateFailed"]}]},
    )
    assert failed["TotalCount"] == 0
    item = first["Functions"][0]
    assert item["Status"] == "Active" and item["Runtime"] == "Python3.9"
    assert item["Tags"] == [{"Key": "team", "Value": "t0"}]


def test_code_from_cos(emulator, scf_client, unique_name, bucket):
    data = make_zip({"index.py": "def main_handler(e, c):\n    return 'from cos'\n"})
    emulator.cos.put_object(bucket, "packages/fn.zip", data)
    short = bucket.rsplit("-", 1)[0]
    name = unique_name("fn")
    code = {
        "CosBucketName": short,
        "CosObjectName": "/packages/fn.zip",
        "CosBucketRegion": emulator.config.region,
    }
    function = create_function(scf_client, name, code=code)
    assert function["CodeSize"] == len(data)
    assert invoke(scf_client, name)["RetMsg"] == '"from cos"'
    missing_key = {**code, "CosObjectName": "/packages/missing.zip"}
    params = {"FunctionName": unique_name("fn"), "Runtime": "Python3.9", "Code": missing_key}
    assert error_code(scf_client, "CreateFunction", params) == "ResourceNotFound.CosObject"
    params["Code"] = {**code, "CosBucketName": "no-such-bucket"}
    assert error_code(scf_client, "CreateFunction", params) == "ResourceNotFound.Cos"
