"""SCF layer ``urls``: routing only, from a request to the :class:`~.responses.ScfResponses`
method that serves it.

Tencent Cloud API 3.0 has a single URL, ``POST /``: the action travels in the ``X-TC-Action``
header and the API version in ``X-TC-Version``. ``CreateFunction`` is served by
``ScfResponses.create_function``, and so on for every action in :data:`ACTIONS`. Actions Tencent
has taken offline (:data:`OFFLINE_ACTIONS`) answer ``ActionOffline``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .exceptions import ActionOffline, InvalidAction, MissingParameter, NoSuchVersion

#: The SCF API version the emulator serves.
API_VERSION = "2018-04-16"
#: The actions served; any other is ``InvalidAction``.
ACTIONS = (
    "CreateFunction",
    "GetFunction",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "DeleteFunction",
    "ListFunctions",
    "Invoke",
    "InvokeFunction",
    "GetRequestStatus",
    "PublishVersion",
    "CreateTrigger",
    "ListTriggers",
    "DeleteTrigger",
    "PublishLayerVersion",
    "GetLayerVersion",
    "ListLayers",
    "ListLayerVersions",
    "DeleteLayerVersion",
    "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig",
    "GetAsyncEventStatus",
    "ListAsyncEvents",
    "TerminateAsyncEvent",
)

#: Actions the SDK documents as taken offline, with what replaces them. ``GetFunctionLogs``:
#: "该接口已下线" (*this API is offline*; ``ScfClient.GetFunctionLogs`` docstring, SDK 3.1.100), on
#: 2021-07-01 (https://www.tencentcloud.com/zh/document/product/583/39328). What the real API
#: answers is not documented: ``ActionOffline``, the API 3.0 common error, is the strict choice.
OFFLINE_ACTIONS = {
    "GetFunctionLogs": "use GetRequestStatus for a run's result and CLS SearchLog (the function's "
    "ClsTopicId, query SCF_RequestId) for its log",
}


def action(headers: Mapping[str, str], api_version: str = API_VERSION) -> str:
    """The ``X-TC-Action`` of a request, after checking ``X-TC-Version``.

    :param api_version: the version the service serves (:data:`API_VERSION` for SCF).
    :raises MissingParameter: no action.
    :raises NoSuchVersion: a version other than ``api_version``.
    """
    name = (headers.get("X-TC-Action") or "").strip()
    if not name:
        raise MissingParameter(None, "the X-TC-Action header is required")
    version = (headers.get("X-TC-Version") or "").strip()
    if version != api_version:
        raise NoSuchVersion(
            None, f"version {version!r} of action {name} does not exist; use {api_version}"
        )
    return name


def method_name(name: str) -> str:
    """The responses method of an action: ``CreateFunction`` -> ``create_function``.

    :raises ActionOffline: an action Tencent has taken offline.
    :raises InvalidAction: an action the emulator does not serve.
    """
    if name in OFFLINE_ACTIONS:
        raise ActionOffline(None, f"the action {name} is offline: {OFFLINE_ACTIONS[name]}")
    if name not in ACTIONS:
        raise InvalidAction(None, f"action {name!r} is not supported by the SCF emulator")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
