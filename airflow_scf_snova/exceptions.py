"""The provider's exceptions: one tree, each raised ``from`` its cause.

::

    AirflowException
     +-- TencentCloudError                      anything this provider raises
          +-- TencentCloudConnectionError       the connection is missing or misconfigured
          +-- InvalidInputError (ValueError)    an invalid name, identifier, cron or payload
          +-- TencentCloudApiError              an API call failed (code, message, request id)
          |    +-- TencentCloudAuthError        AuthFailure.*: wrong key, expired signature
          |    +-- TencentCloudThrottledError   RequestLimitExceeded* (hooks retry with backoff)
          |    +-- TencentCloudNetworkError     the endpoint was unreachable or answered garbage
          |    +-- ResourceNotFoundError        ResourceNotFound.*, COS NoSuchKey/NoSuchBucket
          |    +-- ResourceInUseError           ResourceInUse.*, COS BucketAlreadyExists
          |    +-- ObjectChangedError           COS PreconditionFailed: not the ETag asked for
          +-- SCFFunctionStateError             a function reached a *Failed state
          +-- SCFWaitTimeoutError               a wait for a status ran past its deadline
          +-- SnovaError                        a Snova (PostgreSQL/Greenplum) operation failed
               +-- SnovaLoadError               a load failed (object key, line and reason)
    AirflowFailException
     +-- SCFFunctionExecutionError              the function ran and failed (430/433/434)

No exception message carries a SecretKey, token or password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException
from scf_snova_core.errors import InvalidValueError

AUTH_PREFIX = "AuthFailure"
THROTTLE_PREFIX = "RequestLimitExceeded"
NETWORK_CODES = frozenset({"ClientNetworkError", "ServerNetworkError", "ClientError"})
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchUpload"})
IN_USE_CODES = frozenset({"BucketAlreadyExists", "BucketAlreadyOwnedByYou"})
PRECONDITION_CODES = frozenset({"PreconditionFailed"})


class TencentCloudError(AirflowException):
    """Raised for anything that goes wrong in this provider."""


class TencentCloudConnectionError(TencentCloudError):
    """Raised when a connection is missing a required field or has an invalid value."""


class InvalidInputError(TencentCloudError, ValueError):
    """Raised when a user-supplied name, identifier, cron string or payload is invalid."""


@contextmanager
def invalid_input() -> Iterator[None]:
    """Turn the core's :class:`~scf_snova_core.errors.InvalidValueError` raised inside the block
    into :class:`InvalidInputError` (same message, chained)."""
    try:
        yield
    except InvalidValueError as err:
        raise InvalidInputError(str(err)) from err


class TencentCloudApiError(TencentCloudError):
    """Raised when a Tencent Cloud API call fails.

    :param code: the error code, e.g. ``ResourceNotFound.Function`` or ``NoSuchKey``.
    :param message: the service's message.
    :param request_id: the API request id, to quote to Tencent support.
    :param status: the HTTP status (COS only).
    """

    def __init__(
        self, code: str, message: str = "", request_id: str | None = None, status: int | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.request_id = request_id
        self.status = status
        text = f"{code}: {message}" if message else code
        if request_id:
            text += f" (RequestId: {request_id})"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message, self.request_id, self.status))

    @staticmethod
    def class_for(code: str) -> type[TencentCloudApiError]:
        """The most specific subclass for an error code."""
        if code.startswith(AUTH_PREFIX) or code in {"SignatureDoesNotMatch", "InvalidAccessKeyId"}:
            return TencentCloudAuthError
        if code.startswith(THROTTLE_PREFIX):
            return TencentCloudThrottledError
        if code in NETWORK_CODES:
            return TencentCloudNetworkError
        if code.startswith("ResourceNotFound") or code in NOT_FOUND_CODES:
            return ResourceNotFoundError
        if code.startswith("ResourceInUse") or code in IN_USE_CODES:
            return ResourceInUseError
        if code in PRECONDITION_CODES:
            return ObjectChangedError
        return TencentCloudApiError

    @classmethod
    def from_code(
        cls, code: str, message: str = "", request_id: str | None = None, status: int | None = None
    ) -> TencentCloudApiError:
        """Build the most specific exception for ``code``."""
        return cls.class_for(code)(code, message, request_id, status)


class TencentCloudAuthError(TencentCloudApiError):
    """Raised on ``AuthFailure.*`` (wrong or unknown key, expired or invalid signature, token)."""


class TencentCloudThrottledError(TencentCloudApiError):
    """Raised on ``RequestLimitExceeded*`` once the hook's retries are used up."""


class TencentCloudNetworkError(TencentCloudApiError):
    """Raised when the endpoint cannot be reached, times out, or answers a non-API response."""


class ResourceNotFoundError(TencentCloudApiError):
    """Raised when a function, trigger, bucket or object does not exist."""


class ResourceInUseError(TencentCloudApiError):
    """Raised when a resource already exists (duplicate function or trigger name)."""


class ObjectChangedError(TencentCloudApiError):
    """Raised when a conditional COS request (``If-Match``) finds another version of the object
    (HTTP 412 ``PreconditionFailed``)."""


class SCFFunctionStateError(TencentCloudError):
    """Raised when a function reaches a ``*Failed`` status.

    :param function_name: the function.
    :param status: e.g. ``CreateFailed``.
    :param reasons: the ``StatusReasons`` as ``(ErrorCode, ErrorMessage)`` pairs.
    """

    def __init__(
        self, function_name: str, status: str, reasons: list[tuple[str, str]] | None = None
    ) -> None:
        self.function_name = function_name
        self.status = status
        self.reasons = list(reasons or [])
        detail = "; ".join(f"{code}: {msg}" for code, msg in self.reasons)
        super().__init__(
            f"SCF function {function_name!r} is {status}" + (f": {detail}" if detail else "")
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.function_name, self.status, self.reasons))


class SCFWaitTimeoutError(TencentCloudError):
    """Raised when a function or invocation did not reach the awaited state before the deadline."""


class SCFFunctionExecutionError(AirflowFailException):
    """Raised when an invoked function fails: user code exception (430), timeout (433) or memory
    exceeded (434). Terminal: retrying the task would run the function again.

    :param function_name: the function.
    :param request_id: the FunctionRequestId of the failed execution.
    :param status_code: 430, 433, 434, or ``None`` when unknown.
    :param message: the error message.
    :param stack_trace: the function's stack trace, when it raised.
    """

    def __init__(
        self,
        function_name: str,
        request_id: str | None,
        status_code: int | None,
        message: str,
        stack_trace: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.request_id = request_id
        self.status_code = status_code
        self.message = message
        self.stack_trace = stack_trace
        text = f"SCF function {function_name!r} failed"
        if status_code:
            text += f" with status {status_code}"
        text += f": {message}"
        if request_id:
            text += f" (FunctionRequestId: {request_id})"
        if stack_trace:
            text += f"\n{stack_trace}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.function_name, self.request_id, self.status_code, self.message, self.stack_trace),
        )


class SnovaError(TencentCloudError):
    """Raised when a Snova (PostgreSQL/Greenplum) operation fails."""


class SnovaLoadError(SnovaError):
    """Raised when loading an object into Snova fails; nothing from that object was committed.

    :param key: the COS object key.
    :param reason: the database's reason.
    :param line: the line number in the object, when the database reports one.
    """

    def __init__(self, key: str, reason: str, line: int | None = None) -> None:
        self.key = key
        self.reason = reason
        self.line = line
        where = f"{key!r}" + (f" line {line}" if line is not None else "")
        super().__init__(f"Loading {where} failed: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.key, self.reason, self.line))
