"""SCF layer ``urls``: routing only, from a request to the :class:`~.responses.ScfResponses`
method that serves it.

Tencent Cloud API 3.0 has a single URL, ``POST /``: the action travels in the ``X-TC-Action``
header and the API version in ``X-TC-Version``. ``CreateFunction`` is served by
``ScfResponses.create_function``, and so on for every action in :data:`ACTIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from .exceptions import InvalidAction, MissingParameter, NoSuchVersion

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
    "GetFunctionLogs",
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


def action(headers: Mapping[str, str]) -> str:
    """The ``X-TC-Action`` of a request, after checking ``X-TC-Version``.

    :raises MissingParameter: no action.
    :raises NoSuchVersion: a version other than :data:`API_VERSION`.
    """
    name = (headers.get("X-TC-Action") or "").strip()
    if not name:
        raise MissingParameter(None, "the X-TC-Action header is required")
    version = (headers.get("X-TC-Version") or "").strip()
    if version != API_VERSION:
        raise NoSuchVersion(
            None, f"version {version!r} of action {name} does not exist; use {API_VERSION}"
        )
    return name


def method_name(name: str) -> str:
    """The responses method of an action: ``CreateFunction`` -> ``create_function``.

    :raises InvalidAction: an action the emulator does not serve.
    """
    if name not in ACTIONS:
        raise InvalidAction(None, f"action {name!r} is not supported by the SCF emulator")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
