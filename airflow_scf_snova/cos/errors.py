"""COS service errors as this provider's exceptions (the SDK's ``CosServiceError`` carries a code,
a status and a request id, or for HEAD answers, which have no body, only the response headers)."""

from __future__ import annotations

from collections.abc import Callable

from airflow_scf_snova.exceptions import (
    ResourceInUseError,
    ResourceNotFoundError,
    TencentCloudApiError,
    TencentCloudThrottledError,
)

#: Error codes for statuses COS answers without an error body (HEAD requests).
_BODILESS_CODES = {
    400: "InvalidRequest",
    403: "AccessDenied",
    409: "Conflict",
    412: "PreconditionFailed",
    429: "SlowDown",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def service_error(
    err, action: str, bucket: str | None, key: str | None, scrub: Callable[[str], str]
) -> TencentCloudApiError:
    """The provider's exception for a ``CosServiceError`` of ``action`` on ``bucket``/``key``.

    :param scrub: removes secrets from a message before it goes into the exception.
    """
    code = str(err.get_error_code() or "Unknown")
    status = err.get_status_code()
    message = scrub(str(err.get_error_msg() or ""))
    request_id = err.get_request_id()
    headers = err.get_digest_msg()
    if code == "Unknown" and not isinstance(headers, dict) and hasattr(headers, "get"):
        # A HEAD answer (other than 404) has no body: the SDK hands over the response
        # headers instead of an error document. Name the error by its status and keep the
        # request id, which COS always sends as a header.
        request_id = headers.get("x-cos-request-id") or request_id
        code = _BODILESS_CODES.get(status, f"HTTP{status}")
        message = f"HTTP {status} without details (HEAD answers carry no error body)"
    text = f"{action}{where(bucket, key)}: {message}"
    request_id = None if request_id in (None, "", "Unknown") else str(request_id)
    cls = TencentCloudApiError.class_for(code)
    if status == 404 and cls is TencentCloudApiError:
        # HEAD answers carry no body: the SDK invents ``NoSuchResource``.
        cls = ResourceNotFoundError
    if status == 409 and cls is TencentCloudApiError:
        cls = ResourceInUseError
    if (status == 429 or code == "SlowDown") and cls is TencentCloudApiError:
        cls = TencentCloudThrottledError
    return cls(code, text, request_id, status)


def where(bucket: str | None, key: str | None) -> str:
    """`` bucket/key``, `` bucket`` or nothing: where an error happened, for its message."""
    if key is not None:
        return f" {bucket}/{key}"
    return f" {bucket}" if bucket else ""
