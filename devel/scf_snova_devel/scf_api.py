"""SCF API 3.0 calls through the real ``ScfClient`` (and CLS calls through the real
``ClsClient``), and code packages to deploy: what the emulator tests use to drive functions and
read their logs the way a client does.

A function runs isolated, as on SCF: what it imports beyond the standard library must be in its
package. :func:`zip_b64` adds pure packages of this environment (``include``) and third-party
requirements built for SCF's platform (``requirements``, cached by
:func:`airflow_scf_snova.scf.dependencies.build_dependencies`)."""

from __future__ import annotations

import base64
import importlib
import io
import json
import textwrap
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from scf_snova_core.states import FAILED_STATES
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from airflow_scf_snova.scf.dependencies import build_dependencies
from airflow_scf_snova.scf.packaging import iter_included_files, iter_package_files

ECHO = """
import json, os

def main_handler(event, context):
    print("event:", json.dumps(event, sort_keys=True))
    return {"event": event, "function": context["function_name"]}
"""

#: A handler that always raises (status 430).
RAISES = """
def main_handler(event, context):
    print("about to fail")
    raise ValueError("boom " + event.get("why", ""))
"""

#: A handler that sleeps ``event["seconds"]`` (default 30).
SLEEPS = """
import time

def main_handler(event, context):
    print("going to sleep", flush=True)
    time.sleep(event.get("seconds", 30))
    return "woke up"
"""


def make_zip(files: dict[str, str | bytes | Path]) -> bytes:
    """A zip of ``{name: text, bytes or a file}`` (text is dedented). The same files give the same
    bytes: entries carry a fixed time, so tests may compare hashes of zips built apart."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            if isinstance(content, Path):
                content = content.read_bytes()
            elif isinstance(content, str):
                content = textwrap.dedent(content)
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16  # what writestr gives a name
            archive.writestr(entry, content)
    return buffer.getvalue()


def zip_b64(
    source: str = ECHO,
    module: str = "index",
    extra: dict | None = None,
    include: Sequence[str] = (),
    requirements: Sequence[str] = (),
    runtime: str = "Python3.9",
) -> str:
    """A base64 zip with ``<module>.py`` holding ``source`` (plus ``extra`` files, the pure
    packages ``include`` of this environment, and ``requirements`` built for ``runtime``)."""
    files: dict[str, str | bytes | Path] = {f"{module}.py": source}
    files.update(extra or {})
    for package in include:
        files.update(iter_included_files(package))
    if requirements:
        files.update(iter_package_files(build_dependencies(list(requirements), runtime)))
    return base64.b64encode(make_zip(files)).decode()


def client_for(server, client_class=None):
    """A real Tencent Cloud API 3.0 SDK client (``ScfClient`` by default, or ``ClsClient``...)
    pointed at an :class:`~scf_snova_emulator.EmulatorServer`."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    if client_class is None:
        from tencentcloud.scf.v20180416.scf_client import ScfClient as client_class

    cfg = server.config
    http = HttpProfile(protocol="http", endpoint=f"127.0.0.1:{server.port}")
    return client_class(
        credential.Credential(cfg.secret_id, cfg.secret_key),
        cfg.region,
        ClientProfile(httpProfile=http),
    )


def _models(client):
    """The models module of an SDK client (``tencentcloud.<service>.<version>.models``)."""
    for klass in type(client).__mro__:
        if klass.__module__.startswith("tencentcloud.") and klass.__module__.endswith("_client"):
            return importlib.import_module(klass.__module__.rsplit(".", 1)[0] + ".models")
    raise TypeError(f"{type(client).__name__} is not a tencentcloud SDK client")


def call(client, action: str, params: dict | None = None) -> dict:
    """Call ``action`` through the SDK's typed request/response models (of the client's service:
    SCF, CLS); returns the response as a dict (what the SDK deserialised, so missing fields show
    up as ``None``)."""
    request = getattr(_models(client), f"{action}Request")()
    request.from_json_string(json.dumps(params or {}))
    response = getattr(client, action)(request)
    return json.loads(response.to_json_string())


def error_code(client, action: str, params: dict) -> str:
    """The API error code ``action`` fails with (fails the test if it succeeds)."""
    try:
        call(client, action, params)
    except TencentCloudSDKException as exc:
        return exc.get_code()
    raise AssertionError(f"{action} {str(params)[:200]} succeeded; an error was expected")


def wait_status(client, name: str, settled=("Active",), timeout: float = 10.0) -> dict:
    """Poll GetFunction until Status is in ``settled`` (or failed); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        function = call(client, "GetFunction", {"FunctionName": name})
        if function["Status"] in settled or function["Status"] in FAILED_STATES:
            return function
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {function['Status']} after {timeout} s")
        time.sleep(0.02)


def wait_gone(client, name: str, timeout: float = 10.0) -> str:
    """Poll GetFunction until it fails; returns the error code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            call(client, "GetFunction", {"FunctionName": name})
        except TencentCloudSDKException as exc:
            return exc.get_code()
        time.sleep(0.02)
    raise AssertionError(f"{name} still exists after {timeout} s")


#: The COS SDK a function running in the emulator needs in its package (pinned: builds are
#: cached by their requirements).
COS_SDK = "cos-python-sdk-v5==1.9.44"


def create_function(
    client,
    name: str,
    source: str = ECHO,
    wait: bool = True,
    code: dict | None = None,
    include: Sequence[str] = (),
    requirements: Sequence[str] = (),
    extra_files: dict | None = None,
    **params,
) -> dict:
    """CreateFunction (Python3.9, ``index.main_handler``) and, by default, wait for Active.

    :param include: pure packages of this environment to put in the package.
    :param requirements: third-party packages to build into it for SCF's platform.
    :param extra_files: more files of the package, ``{name: content}``.
    """
    if code is None:
        code = {
            "ZipFile": zip_b64(
                source, extra=extra_files, include=include, requirements=requirements
            )
        }
    request = {
        "FunctionName": name,
        "Runtime": "Python3.9",
        "Handler": "index.main_handler",
        "Code": code,
        **params,
    }
    call(client, "CreateFunction", request)
    return wait_status(client, name) if wait else {}


def invoke(client, name: str, event=None, **params) -> dict:
    """A sync Invoke with LogType=Tail; returns ``Result``."""
    request = {"FunctionName": name, "LogType": "Tail", **params}
    if event is not None:
        request["ClientContext"] = json.dumps(event)
    return call(client, "Invoke", request)["Result"]


def search_log(cls_client, topic_id: str, query: str = "", seconds: float = 600, **params) -> dict:
    """CLS ``SearchLog`` over the last (and next) ``seconds``, oldest first unless ``Sort`` says
    otherwise; returns the response with each result's ``LogJson`` decoded as ``Fields``."""
    now_ms = int(time.time() * 1000)
    request = {
        "TopicId": topic_id,
        "From": now_ms - int(seconds * 1000),
        "To": now_ms + int(seconds * 1000),
        "QueryString": query,
        "Sort": "asc",
        **params,
    }
    response = call(cls_client, "SearchLog", request)
    for result in response.get("Results") or []:
        result["Fields"] = json.loads(result["LogJson"])
    return response
