"""Layers: published versions, bound to functions in order and mounted where SCF mounts them."""

from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
from scf_snova_devel.scf_api import (
    call,
    client_for,
    create_function,
    error_code,
    invoke,
    make_zip,
    wait_gone,
    wait_status,
    zip_b64,
)
from scf_snova_emulator import EmulatorConfig, EmulatorServer

READS_LAYERS = """
import sys

def main_handler(event, context):
    found = {}
    for name in ("shared", "only_a", "shadow"):
        try:
            found[name] = __import__(name).VALUE
        except ImportError as exc:
            found[name] = type(exc).__name__
    return {"found": found, "path": sys.path[:2]}
"""


@pytest.fixture
def layers(scf_client, unique_name):
    """Publish layers (``publish(files, runtimes) -> (name, version)``); deleted afterwards."""
    published = []

    def publish(files: dict, runtimes=("Python3.9",), name=None, wait=True) -> tuple[str, int]:
        name = name or unique_name("layer")
        content = {"ZipFile": base64.b64encode(make_zip(files)).decode()}
        params = {"LayerName": name, "CompatibleRuntimes": list(runtimes), "Content": content}
        version = call(scf_client, "PublishLayerVersion", params)["LayerVersion"]
        published.append((name, version))
        deadline = time.monotonic() + 10
        target = {"LayerName": name, "LayerVersion": version}
        while wait and call(scf_client, "GetLayerVersion", target)["Status"] != "Active":
            assert time.monotonic() < deadline, f"{name} {version} is not Active"
            time.sleep(0.02)
        return name, version

    yield publish
    for name, version in published:
        try:
            call(scf_client, "DeleteLayerVersion", {"LayerName": name, "LayerVersion": version})
        except Exception:
            pass


def ref(layer: tuple[str, int]) -> dict:
    return {"LayerName": layer[0], "LayerVersion": layer[1]}


def test_layers_are_mounted_in_order_after_the_code(scf_client, unique_name, layers):
    a = layers({"shared.py": "VALUE = 'a'\n", "only_a.py": "VALUE = 'a'\n", "shadow.py": "X = 1\n"})
    b = layers({"shared.py": "VALUE = 'b'\n"})
    name = unique_name("fn")
    code = {"ZipFile": zip_b64(READS_LAYERS, extra={"shadow.py": "VALUE = 'code'\n"})}
    function = create_function(scf_client, name, code=code, Layers=[ref(a), ref(b)])
    assert [(x["LayerName"], x["LayerVersion"]) for x in function["Layers"]] == [a, b]
    assert function["Layers"][0]["CompatibleRuntimes"] == ["Python3.9"]
    assert function["Layers"][0]["Status"] == "Active"
    ret = json.loads(invoke(scf_client, name)["RetMsg"])
    # the later layer wins; the code package comes before every layer (/var/user, then /opt)
    assert ret["found"] == {"shared": "b", "only_a": "a", "shadow": "code"}
    assert ret["path"][0].endswith("/code/" + ret["path"][0].rsplit("/", 1)[1])
    assert "/opt/" in ret["path"][1]

    # unbinding (the API's sentinel) leaves the code alone
    unbind = {"FunctionName": name, "Layers": [{"LayerName": "", "LayerVersion": 0}]}
    call(scf_client, "UpdateFunctionConfiguration", unbind)
    assert wait_status(scf_client, name)["Layers"] == []
    found = json.loads(invoke(scf_client, name)["RetMsg"])["found"]
    assert found == {
        "shared": "ModuleNotFoundError",
        "only_a": "ModuleNotFoundError",
        "shadow": "code",
    }


def test_versions_list_and_describe(scf_client, unique_name, layers):
    name = unique_name("layer")
    files = {"mod.py": "VALUE = 1\n"}
    first = layers(files, runtimes=("Python3.9", "Python3.10"), name=name)
    second = layers({"mod.py": "VALUE = 2\n"}, name=name)
    assert (first[1], second[1]) == (1, 2)
    got = call(scf_client, "GetLayerVersion", {"LayerName": name, "LayerVersion": 1})
    assert got["CodeSha256"] == hashlib.sha256(make_zip(files)).hexdigest()
    assert got["CompatibleRuntimes"] == ["Python3.9", "Python3.10"]
    assert (got["LayerName"], got["LayerVersion"], got["Status"]) == (name, 1, "Active")
    versions = call(scf_client, "ListLayerVersions", {"LayerName": name})["LayerVersions"]
    assert [v["LayerVersion"] for v in versions] == [2, 1]
    listed = call(scf_client, "ListLayers", {"SearchKey": name})
    assert [(x["LayerName"], x["LayerVersion"]) for x in listed["Layers"]] == [(name, 2)]
    only_310 = call(
        scf_client, "ListLayers", {"SearchKey": name, "CompatibleRuntime": "Python3.10"}
    )
    assert [(x["LayerName"], x["LayerVersion"]) for x in only_310["Layers"]] == [(name, 1)]


def test_a_new_version_is_publishing_before_it_can_be_bound(
    emulator, scf_client, unique_name, layers
):
    emulator.control.set_status_delay(5.0)
    try:
        layer = layers({"mod.py": "VALUE = 1\n"}, wait=False)
        got = call(scf_client, "GetLayerVersion", {"LayerName": layer[0], "LayerVersion": 1})
        assert got["Status"] == "Publishing"
        params = {"FunctionName": unique_name("fn"), "Runtime": "Python3.9"}
        params.update(Code={"ZipFile": zip_b64()}, Layers=[ref(layer)])
        assert error_code(scf_client, "CreateFunction", params) == "InvalidParameterValue.Layers"
    finally:
        emulator.control.set_status_delay(emulator.config.status_delay)


def test_binding_rules(scf_client, unique_name, layers):
    py39 = layers({"m.py": ""})
    py310 = layers({"m.py": ""}, runtimes=("Python3.10",))

    def create(*refs) -> str:
        params = {"FunctionName": unique_name("fn"), "Runtime": "Python3.9"}
        params.update(Code={"ZipFile": zip_b64()}, Layers=list(refs))
        return error_code(scf_client, "CreateFunction", params)

    assert create(*[ref(py39)] * 6) == "LimitExceeded.Layers"
    assert create(ref(py310)) == "InvalidParameterValue.Layers"
    assert create(ref(("never-published", 1))) == "ResourceNotFound.Layer"
    assert create(ref((py39[0], 99))) == "ResourceNotFound.LayerVersion"
    assert create({"LayerName": "-bad", "LayerVersion": 1}) == "InvalidParameterValue.LayerName"


def test_publish_rules(scf_client):
    content = {"ZipFile": zip_b64()}

    def publish(**params) -> str:
        return error_code(scf_client, "PublishLayerVersion", {"Content": content, **params})

    runtimes = ["Python3.9"]
    assert (
        publish(LayerName="1st", CompatibleRuntimes=runtimes) == "InvalidParameterValue.LayerName"
    )
    assert (
        publish(LayerName="ends_", CompatibleRuntimes=runtimes) == "InvalidParameterValue.LayerName"
    )
    assert publish(LayerName="ok", CompatibleRuntimes=["Python3.11"]) == (
        "InvalidParameterValue.CompatibleRuntimes"
    )
    six = ["Python2.7", "Python3.6", "Python3.7", "Python3.9", "Python3.10", "Go1"]
    assert (
        publish(LayerName="ok", CompatibleRuntimes=six)
        == "InvalidParameterValue.CompatibleRuntimes"
    )
    assert publish(LayerName="ok") == "MissingParameter.CompatibleRuntimes"


def test_a_bound_version_cannot_be_deleted(scf_client, unique_name, layers):
    layer = layers({"m.py": ""})
    name = unique_name("fn")
    create_function(scf_client, name, Layers=[ref(layer)])
    call(scf_client, "PublishVersion", {"FunctionName": name})  # version 1 binds it too
    wait_status(scf_client, name)
    target = {"LayerName": layer[0], "LayerVersion": layer[1]}
    assert error_code(scf_client, "DeleteLayerVersion", target) == "ResourceInUse.LayerVersion"
    call(scf_client, "DeleteFunction", {"FunctionName": name})
    assert wait_gone(scf_client, name) == "ResourceNotFound.Function"
    call(scf_client, "DeleteLayerVersion", target)
    assert error_code(scf_client, "GetLayerVersion", target) == "ResourceNotFound.Layer"


def test_a_region_holds_20_layers(tmp_path):
    config = EmulatorConfig(port=0, data_dir=str(tmp_path), status_delay=0, timers=False)
    with EmulatorServer(config) as server:
        client = client_for(server)
        content = {"ZipFile": zip_b64()}
        for i in range(20):
            params = {"LayerName": f"l{i}", "CompatibleRuntimes": ["Python3.9"], "Content": content}
            call(client, "PublishLayerVersion", params)
        params = {"LayerName": "l20", "CompatibleRuntimes": ["Python3.9"], "Content": content}
        assert error_code(client, "PublishLayerVersion", params) == "LimitExceeded.Layers"
        params["LayerName"] = "l0"  # a new version of an existing layer is fine
        assert call(client, "PublishLayerVersion", params)["LayerVersion"] == 2
