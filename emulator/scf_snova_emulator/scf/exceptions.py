"""SCF layer ``exceptions``: the errors the emulated SCF API answers with, each carrying its API 3.0
error code.

A family class (``ResourceNotFound``) takes the code's suffix, so
``ResourceNotFound("Function", "...")`` answers ``ResourceNotFound.Function``. The wire layer
(:func:`~.wire.send`) turns any :class:`ScfError` into
``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``.
"""

from __future__ import annotations


class ScfError(Exception):
    """An API error. ``family`` is the code's first part; ``sub`` the optional second part.

    :param sub: the code's second part (``"Function"`` in ``ResourceNotFound.Function``), or
        ``None`` for the bare family code.
    :param message: the human-readable ``Message``.
    """

    family = "InternalError"

    def __init__(self, sub: str | None = None, message: str = "") -> None:
        self.sub = sub
        self.message = message
        super().__init__(f"{self.code}: {message}")

    @property
    def code(self) -> str:
        return f"{self.family}.{self.sub}" if self.sub else self.family

    def __reduce__(self):
        return (type(self), (self.sub, self.message))


class AuthFailure(ScfError):
    """Signature, SecretId, timestamp or token problems."""

    family = "AuthFailure"


class InvalidParameter(ScfError):
    """A parameter is malformed (wrong type, too large)."""

    family = "InvalidParameter"


class InvalidParameterValue(ScfError):
    """A parameter has a value the API does not accept."""

    family = "InvalidParameterValue"


class MissingParameter(ScfError):
    """A required parameter is absent."""

    family = "MissingParameter"


class ResourceNotFound(ScfError):
    """The function, version, trigger or namespace does not exist."""

    family = "ResourceNotFound"


class ResourceInUse(ScfError):
    """The function or trigger already exists."""

    family = "ResourceInUse"


class FailedOperation(ScfError):
    """The function's current status does not allow the operation."""

    family = "FailedOperation"


class LimitExceeded(ScfError):
    """A configured value is beyond the service's limits."""

    family = "LimitExceeded"


class RequestLimitExceeded(ScfError):
    """Throttled (injected through the emulator's faults)."""

    family = "RequestLimitExceeded"


class InvalidAction(ScfError):
    """Unknown ``X-TC-Action``."""

    family = "InvalidAction"


class ActionOffline(ScfError):
    """An action Tencent has taken offline (the API 3.0 common error ``ActionOffline``)."""

    family = "ActionOffline"


class NoSuchVersion(ScfError):
    """``X-TC-Version`` is not ``2018-04-16``."""

    family = "NoSuchVersion"


class UnsupportedRegion(ScfError):
    """``X-TC-Region`` is not the region the emulator serves."""

    family = "UnsupportedRegion"


class RequestSizeLimitExceeded(ScfError):
    """The request body is larger than API 3.0 accepts."""

    family = "RequestSizeLimitExceeded"


class UnsupportedOperation(ScfError):
    """A request form or feature the emulator (or SCF) does not support."""

    family = "UnsupportedOperation"


class InternalError(ScfError):
    """A bug in the emulator; the message says what failed."""

    family = "InternalError"
