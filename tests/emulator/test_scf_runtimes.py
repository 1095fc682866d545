"""Functions run as on SCF: only SCF's runtimes, each on a CPython of its own version, isolated,
over a read-only code directory, with native code checked against SCF's platform."""

from __future__ import annotations

import base64
import errno
import glob
import json
import os
import sys
from pathlib import Path

import pytest
from scf_snova_devel.scf_api import (
    call,
    client_for,
    create_function,
    error_code,
    invoke,
    wait_status,
    zip_b64,
)
from scf_snova_emulator import EmulatorConfig, EmulatorServer
from scf_snova_emulator.scf.bootstrap import elf_problem
from scf_snova_emulator.scf.interpreters import Interpreters

CPYTHON39 = Interpreters().find("Python3.9")[0]

WRITES = """
import os, resource, tempfile

def main_handler(event, context):
    result = {}
    for name, mode in (("new.txt", "w"), ("index.py", "a")):
        try:
            with open(name, mode) as fh:
                fh.write("x")
            result[name] = "written"
        except OSError as exc:
            result[name] = exc.errno
    with tempfile.NamedTemporaryFile(dir="/tmp") as fh:
        fh.write(b"ok")
        result["tmp"] = "written"
    with tempfile.TemporaryFile(dir="/tmp", buffering=0) as fh:  # sparse: no disk is used
        fh.seek(512 * 1024 * 1024)
        try:
            fh.write(b"x")
            result["over_512mb"] = "written"
        except OSError as exc:
            result["over_512mb"] = exc.errno
    result["nofile"] = list(resource.getrlimit(resource.RLIMIT_NOFILE))
    return result
"""

IMPORTS = """
import importlib

def main_handler(event, context):
    importlib.import_module(event["module"])
    return "imported"
"""


def failed_import(client, name: str, module: str) -> str:
    """The stack trace of a function failing to import ``module``."""
    result = invoke(client, name, {"module": module})
    error = json.loads(result["ErrMsg"])
    assert error["statusCode"] == 430, error
    return error["stackTrace"]


@pytest.mark.parametrize("runtime", ["Python3.11", "Python3.8", "Python3.12", "python3.9", "Py"])
def test_only_the_runtimes_scf_offers_are_accepted(scf_client, unique_name, runtime):
    params = {"FunctionName": unique_name("fn"), "Runtime": runtime, "Code": {"ZipFile": zip_b64()}}
    assert error_code(scf_client, "CreateFunction", params) == "InvalidParameterValue.Runtime"


@pytest.mark.parametrize("runtime", ["Python2.7", "Python3.6", "Python3.7", "Python3.10"])
def test_the_other_python_runtimes_are_accepted(scf_client, unique_name, runtime):
    name = unique_name("fn")
    params = {"FunctionName": name, "Runtime": runtime, "Code": {"ZipFile": zip_b64()}}
    call(scf_client, "CreateFunction", params)
    function = wait_status(scf_client, name)
    assert function["Runtime"] == runtime
    if function["Status"] == "CreateFailed":  # no CPython of that version on this machine
        assert runtime in function["StatusReasons"][0]["ErrorMessage"]


def test_a_runtime_without_its_interpreter_cannot_be_created(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.10 to find
    config = EmulatorConfig(
        port=0,
        data_dir=str(tmp_path / "data"),
        status_delay=0,
        timers=False,
        runtimes_dir=str(tmp_path / "none"),
    )
    with EmulatorServer(config) as server:
        client = client_for(server)
        code = {"ZipFile": zip_b64()}
        call(
            client,
            "CreateFunction",
            {"FunctionName": "f310", "Runtime": "Python3.10", "Code": code},
        )
        function = wait_status(client, "f310")
    assert function["Status"] == "CreateFailed"
    reason = function["StatusReasons"][0]["ErrorMessage"]
    assert "no CPython 3.10 interpreter" in reason
    assert "--python Python3.10=/path/to/python3.10" in reason


@pytest.mark.skipif(CPYTHON39 is None, reason="no CPython 3.9 (make install provisions it)")
def test_an_interpreter_of_another_version_is_refused(tmp_path):
    config = EmulatorConfig(
        port=0,
        data_dir=str(tmp_path),
        status_delay=0,
        timers=False,
        interpreters={"Python3.10": CPYTHON39, "Python3.7": str(tmp_path / "missing")},
    )
    with EmulatorServer(config) as server:
        client = client_for(server)
        for name, runtime in (("on39", "Python3.10"), ("missing", "Python3.7")):
            code = {"ZipFile": zip_b64()}
            call(client, "CreateFunction", {"FunctionName": name, "Runtime": runtime, "Code": code})
        wrong, missing = wait_status(client, "on39"), wait_status(client, "missing")
    assert wrong["Status"] == missing["Status"] == "CreateFailed"
    assert f"{CPYTHON39}, is CPython 3.9" in wrong["StatusReasons"][0]["ErrorMessage"]
    assert "does not run as a CPython interpreter" in missing["StatusReasons"][0]["ErrorMessage"]


def test_unknown_runtimes_cannot_be_configured():
    with pytest.raises(ValueError, match="no SCF runtime is called Python3.11"):
        Interpreters({"Python3.11": sys.executable})


def test_syntax_is_the_runtimes(scf_client, unique_name):
    match = "def f(x):\n    match x:\n        case 1:\n            return 1\n"
    handler = unique_name("fn")
    source = match + "\ndef main_handler(event, context):\n    return f(1)\n"
    call(
        scf_client,
        "CreateFunction",
        {"FunctionName": handler, "Runtime": "Python3.9", "Code": {"ZipFile": zip_b64(source)}},
    )
    function = wait_status(scf_client, handler)
    assert function["Status"] == "CreateFailed"
    assert "Pattern matching is only supported in Python 3.10" in str(function["StatusReasons"])
    # In a module the deploy does not parse, CPython 3.9 itself refuses it when imported.
    helper = unique_name("fn")
    create_function(scf_client, helper, code={"ZipFile": zip_b64(IMPORTS, extra={"m.py": match})})
    assert "SyntaxError: invalid syntax" in failed_import(scf_client, helper, "m")


def test_the_code_directory_is_read_only_and_tmp_is_capped(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=WRITES)
    invoked = invoke(scf_client, name)
    assert invoked["ErrMsg"] == "", invoked["Log"]
    result = json.loads(invoked["RetMsg"])
    assert result["new.txt"] in (errno.EACCES, errno.EROFS)
    assert result["index.py"] in (errno.EACCES, errno.EROFS)
    assert result["tmp"] == "written"
    assert result["over_512mb"] == errno.EFBIG
    assert result["nofile"] == [1024, 1024]


def _library_needing_new_glibc() -> Path | None:
    for path in sorted(glob.glob("/usr/lib/x86_64-linux-gnu/*.so.*")):
        try:
            problem = elf_problem(Path(path).read_bytes())[0]
        except (OSError, ValueError, IndexError):
            continue
        if problem and "needs GLIBC_2." in problem:
            return Path(path)
    return None


def test_extension_modules_must_fit_scfs_platform(scf_client, unique_name):
    import psycopg2  # the emulator's own: built for CPython 3.11

    host = Path(psycopg2.__file__).parent
    files: dict = {f"psycopg2/{p.name}": p for p in host.iterdir() if p.is_file()}
    native = Path(glob.glob(f"{host}/_psycopg.cpython-311-*.so")[0])
    elf = bytearray(native.read_bytes())
    elf[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    files.update(
        {
            "arm.cpython-39-x86_64-linux-gnu.so": bytes(elf),
            "mac.cpython-39-x86_64-linux-gnu.so": b"\xcf\xfa\xed\xfe" + bytes(64),
            "win.cp39-win_amd64.pyd": b"MZ" + bytes(64),
        }
    )
    newer = _library_needing_new_glibc()
    if newer is not None:
        files["new.cpython-39-x86_64-linux-gnu.so"] = newer
    name = unique_name("fn")
    create_function(scf_client, name, code={"ZipFile": zip_b64(IMPORTS, extra=files)})
    rule = "cp39 (or abi3) and manylinux2014_x86_64 (manylinux_2_17) or older"

    stack = failed_import(scf_client, name, "psycopg2")  # a cp311 wheel in a Python3.9 function
    assert f"psycopg2/{native.name} is an extension module for another Python or OS" in stack
    assert rule in stack
    assert "arm.cpython-39-x86_64-linux-gnu.so is built for ELF machine 183" in failed_import(
        scf_client, name, "arm"
    )
    assert "mac.cpython-39-x86_64-linux-gnu.so is not a Linux (ELF) library" in failed_import(
        scf_client, name, "mac"
    )
    assert "win.cp39-win_amd64.pyd is an extension module" in failed_import(scf_client, name, "win")
    if newer is not None:  # a manylinux_2_28-style build: fine here, not on CentOS 7
        stack = failed_import(scf_client, name, "new")
        assert "new.cpython-39-x86_64-linux-gnu.so needs GLIBC_2." in stack
        assert "newer than SCF's GLIBC_2.17" in stack


def test_a_request_body_above_10_mb_is_refused(scf_client, unique_name):
    zip_bytes = base64.b64decode(zip_b64(extra={"blob.bin": os.urandom(7_600_000)}))
    assert len(base64.b64encode(zip_bytes)) > 10_000_000
    params = {
        "FunctionName": unique_name("fn"),
        "Runtime": "Python3.9",
        "Code": {"ZipFile": base64.b64encode(zip_bytes).decode()},
    }
    assert error_code(scf_client, "CreateFunction", params) == "RequestSizeLimitExceeded"
