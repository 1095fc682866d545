"""SCF API 3.0 calls through the real ``ScfClient`` (and CLS calls through the real
``ClsClient``), and code packages to deploy: what the emulator tests use to drive functions and
read their logs the way a client does."""

from __future__ import annotations

import base64
import importlib
import io
import json
import textwrap
import time
import zipfile

from scf_snova_core.states import FAILED_STATES
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

ECHO = """
import json, os

def main_handler(event, context):
    print("event:", json.dumps(event, sort_keys=True))
    return {"event": event, "function": context["function_name"]}
"""


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            if isinstance(content, str):
                content = textwrap.dedent(content)
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_b64(source: str = ECHO, module: str = "index", extra: dict | None = None) -> str:
    """A base64 zip with ``<module>.py`` holding ``source`` (plus ``extra`` files)."""
    files: dict[str, str | bytes] = {f"{module}.py": source}
    files.update(extra or {})
    return base64.b64encode(make_zip(files)).decode()


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


def create_function(
    client, name: str, source: str = ECHO, wait: bool = True, code: dict | None = None, **params
) -> dict:
    """CreateFunction (Python3.10, ``index.main_handler``) and, by default, wait for Active."""
    request = {
        "FunctionName": name,
        "Runtime": "Python3.10",
        "Handler": "index.main_handler",
        "Code": code or {"ZipFile": zip_b64(source)},
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
