"""CLS layer ``urls``: routing only. A request is CLS's when its ``X-TC-Version`` is
:data:`API_VERSION` (the SDK's ``ClsClient._apiVersion``); the action travels in ``X-TC-Action``
as for SCF, and ``SearchLog`` is served by ``ClsResponses.search_log``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..scf.exceptions import InvalidAction

#: The CLS API version the emulator serves.
API_VERSION = "2020-10-16"
#: The actions served; any other is ``InvalidAction``.
ACTIONS = ("SearchLog",)


def is_cls(headers: Mapping[str, str]) -> bool:
    """Whether a request is addressed to CLS."""
    return (headers.get("X-TC-Version") or "").strip() == API_VERSION


def method_name(name: str) -> str:
    """The responses method of an action: ``SearchLog`` -> ``search_log``.

    :raises InvalidAction: an action the emulator does not serve.
    """
    if name not in ACTIONS:
        raise InvalidAction(None, f"action {name!r} is not supported by the CLS emulator")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
