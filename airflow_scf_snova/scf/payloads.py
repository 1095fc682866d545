"""Invoke payloads and results: what an invoke sends (``ClientContext``) and what its answer
means (the return value, a failed execution, a cut log).

Pure Python: the limits and codes come from :mod:`scf_snova_core` (the SCF ``Invoke`` model's
``ClientContext`` limits, the runtime's failure status codes, the ``InvokeResult`` values, the 4 KB
``LogType=Tail``).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from scf_snova_core.limits import ASYNC_PAYLOAD_LIMIT, LOG_TAIL_BYTES, SYNC_PAYLOAD_LIMIT
from scf_snova_core.states import (
    FAILURE_STATUS_CODES,
    INVOCATION_TYPES,
    INVOKE_RESULT_SUCCESS,
    INVOKE_RESULT_USER_ERROR,
    STATUS_CODE_USER_EXCEPTION,
    SYNC,
)

from airflow_scf_snova.exceptions import InvalidInputError


class FunctionError(NamedTuple):
    """Why an execution failed, parsed from its ``ErrMsg``/``RetMsg`` error object."""

    status_code: int | None
    message: str
    stack_trace: str | None


def encode_payload(payload: Any, invocation_type: str = SYNC) -> str | None:
    """The ``ClientContext`` of an invoke: ``payload`` as JSON text, validated.

    :param payload: a JSON-serialisable value, or a JSON string (sent as it is after checking
        that it parses), or ``None`` (no event: the function receives ``{}``).
    :param invocation_type: ``RequestResponse`` (limit 6 MB) or ``Event`` (limit 128 KB).
    :raises InvalidInputError: not JSON, or over the limit for the invocation type.
    """
    if invocation_type not in INVOCATION_TYPES:
        raise InvalidInputError(
            f"invocation_type must be one of {', '.join(INVOCATION_TYPES)}, got {invocation_type!r}"
        )
    if payload is None:
        return None
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidInputError("the payload bytes are not UTF-8 JSON text") from err
    if isinstance(payload, str):
        try:
            json.loads(payload)
        except ValueError as err:
            raise InvalidInputError(
                f"the payload string is not valid JSON ({err}); pass a dict, or a JSON string"
            ) from err
        text = payload
    else:
        try:
            text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"the payload is not JSON-serialisable: {err}") from err
    limit = SYNC_PAYLOAD_LIMIT if invocation_type == SYNC else ASYNC_PAYLOAD_LIMIT
    size = len(text.encode("utf-8"))
    if size > limit:
        raise InvalidInputError(
            f"the payload is {size} bytes; a {invocation_type} invoke accepts at most {limit} "
            f"bytes ({'6 MB' if limit == SYNC_PAYLOAD_LIMIT else '128 KB'})"
        )
    return text


def decode_return_value(ret_msg: str | None) -> Any:
    """The function's return value from ``RetMsg`` (JSON-encoded by SCF); text that is not JSON
    is returned as it is, an empty ``RetMsg`` as ``None``."""
    if not ret_msg:
        return None
    try:
        return json.loads(ret_msg)
    except ValueError:
        return ret_msg


def _error_object(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def function_error(
    ret_msg: str | None, err_msg: str | None = None, invoke_result: int | None = 0
) -> FunctionError | None:
    """The failure of an execution, or ``None`` when it succeeded.

    ``InvokeResult`` says which, as Tencent's own function-to-function client reads it:

    - ``0``: success, ``RetMsg`` is the return value; unless ``ErrMsg`` is set or ``RetMsg`` is
      SCF's error object (``errorCode``, ``errorMessage`` and a failure ``statusCode`` such as
      430, 433 timeout, 434 memory, 407 response too large), which is how a failure shows where
      ``InvokeResult`` is absent (``GetRequestStatus``);
    - ``1``: the user code raised; ``RetMsg`` is the JSON error object (``errorMessage``,
      ``stackTrace``), and the status is 430 unless the object says otherwise;
    - anything else (``-1``): another failure; ``RetMsg`` (or ``ErrMsg``) is the error object or a
      plain message.
    """
    error = _error_object(err_msg) or _error_object(ret_msg)
    looks_like_error = (
        error is not None
        and "errorCode" in error
        and "errorMessage" in error
        and error.get("statusCode") in FAILURE_STATUS_CODES
    )
    if invoke_result in (INVOKE_RESULT_SUCCESS, None) and not err_msg and not looks_like_error:
        return None
    if error is None:
        return FunctionError(
            STATUS_CODE_USER_EXCEPTION if invoke_result == INVOKE_RESULT_USER_ERROR else None,
            err_msg or ret_msg or "the function failed",
            None,
        )
    status = error.get("statusCode")
    if not isinstance(status, int):
        status = STATUS_CODE_USER_EXCEPTION if invoke_result == INVOKE_RESULT_USER_ERROR else None
    return FunctionError(
        status,
        str(error.get("errorMessage") or err_msg or "the function failed"),
        error.get("stackTrace") or None,
    )


def is_log_truncated(log: str | None) -> bool:
    """Whether a ``LogType=Tail`` log may be cut: it does not start at the ``START`` line or it
    fills the 4 KB tail."""
    if not log:
        return True
    return not log.startswith("START RequestId") or len(log.encode("utf-8")) >= LOG_TAIL_BYTES
