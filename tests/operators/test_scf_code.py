"""The deploy and layer operators' code: requirements built for SCF, COS staging of large
packages, layers published and bound (against the emulator, real SDKs)."""

from __future__ import annotations

import os
import shutil

import pytest
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, fast_hook

from airflow_scf_snova.exceptions import InvalidInputError, TencentCloudApiError
from airflow_scf_snova.hooks.cos import COSHook
from airflow_scf_snova.hooks.scf_layers import layer_refs
from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator, SCFInvokeFunctionOperator
from airflow_scf_snova.operators.scf_code import INLINE_ZIP_LIMIT
from airflow_scf_snova.operators.scf_layers import SCFPublishLayerOperator

CONTEXT: dict = {}
PSYCOPG2 = "psycopg2-binary==2.9.12"
USES_PSYCOPG2 = """
import psycopg2

def main_handler(event, context):
    return {"version": psycopg2.__version__.split()[0], "file": psycopg2.__file__}
"""


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def function_name(hook, unique_name):
    name = unique_name("code")
    yield name
    delete_quietly(hook, name)


@pytest.fixture
def layer_name(hook, unique_name):
    name = unique_name("layer")
    yield name
    for version in hook.list_layer_versions(name):
        try:
            hook.delete_layer_version(name, version["LayerVersion"])
        except TencentCloudApiError:
            pass  # still bound to a function of a failed test


@pytest.fixture
def psycopg2_code(tmp_path):
    path = tmp_path / "uses_psycopg2"
    path.mkdir()
    (path / "index.py").write_text(USES_PSYCOPG2)
    return path


def deploy(function_name, **kwargs):
    kwargs.setdefault("poll_interval", 0.02)
    return SCFDeployFunctionOperator(
        task_id="deploy", function_name=function_name, do_xcom_push=False, **kwargs
    ).execute(CONTEXT)


def invoke(function_name):
    return SCFInvokeFunctionOperator(
        task_id="invoke", function_name=function_name, do_xcom_push=False
    ).execute(CONTEXT)


def test_requirements_are_built_into_the_package(function_name, psycopg2_code):
    (psycopg2_code / "requirements.txt").write_text(f"{PSYCOPG2}\n")
    first = deploy(function_name, code_dir=str(psycopg2_code), requirements_file="requirements.txt")
    assert first["created"]
    value = invoke(function_name)
    assert value["version"] == "2.9.12"
    assert value["file"].endswith("/psycopg2/__init__.py") and "/code/" in value["file"]
    again = deploy(function_name, code_dir=str(psycopg2_code), requirements_file="requirements.txt")
    assert again["code_sha256"] == first["code_sha256"]  # the same bytes: nothing to send
    assert (again["code_updated"], again["configuration_updated"]) == (False, False)


def test_without_requirements_the_import_fails_as_on_scf(function_name, psycopg2_code):
    deploy(function_name, code_dir=str(psycopg2_code))
    with pytest.raises(Exception, match="No module named 'psycopg2'"):
        invoke(function_name)


def test_a_package_above_the_inline_limit_goes_through_cos(
    emulator, hook, function_name, bucket, tmp_path
):
    code = tmp_path / "big"
    shutil.copytree(ECHO_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "blob.bin").write_bytes(os.urandom(INLINE_ZIP_LIMIT + 1024))  # incompressible
    with pytest.raises(InvalidInputError, match="give code_bucket"):
        deploy(function_name, code_dir=str(code))
    result = deploy(function_name, code_dir=str(code), code_bucket=bucket)
    assert result["status"] == "Active"
    key = f"scf-code/{function_name}/{result['code_sha256']}.zip"
    staged = emulator.cos.head_object(bucket, key)
    assert staged.size == hook.get_function(function_name)["CodeSize"] > INLINE_ZIP_LIMIT
    assert invoke(function_name)["request_id"]
    emulator.cos.delete_object(bucket, key)
    unchanged = deploy(function_name, code_dir=str(code), code_bucket=bucket)
    assert not unchanged["code_updated"]  # skipped: nothing staged again
    assert not COSHook().object_exists(bucket, key)


def test_a_layer_of_requirements_is_published_once_and_bound(
    hook, function_name, layer_name, psycopg2_code
):
    def publish():
        return SCFPublishLayerOperator(
            task_id="layer",
            layer_name=layer_name,
            requirements=[PSYCOPG2],
            compatible_runtimes=["Python3.9"],
            poll_interval=0.02,
            do_xcom_push=False,
        ).execute(CONTEXT)

    first = publish()
    assert (first["layer_version"], first["published"]) == (1, True)
    assert hook.get_layer_version(layer_name, 1)["CodeSha256"] == first["code_sha256"]
    second = publish()
    assert (second["layer_version"], second["published"]) == (1, False)  # same content

    deploy(function_name, code_dir=str(psycopg2_code), layers=[(layer_name, 1)])
    bound = hook.get_function(function_name)["Layers"]
    assert [(x["LayerName"], x["LayerVersion"]) for x in bound] == [(layer_name, 1)]
    value = invoke(function_name)
    assert value["version"] == "2.9.12" and "/opt/" in value["file"]  # from the layer
    unchanged = deploy(function_name, code_dir=str(psycopg2_code), layers=[f"{layer_name}:1"])
    assert not unchanged["configuration_updated"]
    deploy(function_name, code_dir=str(psycopg2_code), layers=[])  # unbind
    assert hook.get_function(function_name)["Layers"] == []


def test_code_arguments_go_together():
    def make(**kwargs):
        return SCFDeployFunctionOperator(task_id="d", function_name="f", **kwargs)

    with pytest.raises(InvalidInputError, match="do not go with zip_file"):
        make(zip_file="a.zip", requirements=["six"])
    with pytest.raises(InvalidInputError, match="not both"):
        make(code_dir="d", requirements=["six"], requirements_file="r.txt")
    with pytest.raises(InvalidInputError, match="a list of requirement specifiers"):
        make(code_dir="d", requirements="six")
    with pytest.raises(InvalidInputError, match="give exactly one code source: content_dir"):
        SCFPublishLayerOperator(task_id="l", layer_name="l")
    assert SCFPublishLayerOperator(task_id="l", layer_name="l", requirements=["six"])


def test_layer_references():
    assert layer_refs([("a", 1), "b:2", {"LayerName": "c", "LayerVersion": "3"}]) == [
        {"LayerName": "a", "LayerVersion": 1},
        {"LayerName": "b", "LayerVersion": 2},
        {"LayerName": "c", "LayerVersion": 3},
    ]
    for bad in (["a"], [("a", 0)], [("", 1)], ["a:x"]):
        with pytest.raises(InvalidInputError, match="a layer is"):
            layer_refs(bad)
