"""COS layer ``exceptions``: COS errors, each carrying its wire code and HTTP status (rendered as
the ``<Error>`` XML by :mod:`.wire`).

Codes and statuses follow the COS error-code page (https://cloud.tencent.com/document/api/436/7730)
and the COS 403 troubleshooting page (436/40105). Where COS is not documented, the S3 code that COS
mirrors is used and the class docstring says so.
"""

from __future__ import annotations


class CosError(Exception):
    """A COS error response.

    :param message: overrides the class's default message.
    :param resource: the bucket/object the error is about (``Resource`` in the XML); the service
        fills it in when left empty.
    """

    code: str = "InternalError"
    status: int = 500
    default_message: str = "We encountered an internal error. Please try again."

    def __init__(self, message: str | None = None, resource: str = "") -> None:
        self.message = message or self.default_message
        self.resource = resource
        super().__init__(f"{self.code}: {self.message}")


# -- 400 ------------------------------------------------------------------------------------------
class InvalidArgument(CosError):
    """A query parameter or header has an invalid value."""

    code, status, default_message = "InvalidArgument", 400, "Invalid Argument"


class InvalidRequest(CosError):
    """The request is not valid as a whole (e.g. a missing required header)."""

    code, status, default_message = "InvalidRequest", 400, "Invalid Request"


class InvalidBucketName(CosError):
    code, status, default_message = "InvalidBucketName", 400, "The specified bucket is not valid."


class MalformedXML(CosError):
    code, status = "MalformedXML", 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )


class BadDigest(CosError):
    code, status = "BadDigest", 400
    default_message = "The Content-MD5 you specified did not match what we received."


class InvalidDigest(CosError):
    code, status, default_message = (
        "InvalidDigest",
        400,
        "The Content-MD5 you specified is invalid.",
    )


class EntityTooSmall(CosError):
    """A multipart part other than the last is below 1 MB."""

    code, status = "EntityTooSmall", 400
    default_message = "Your proposed upload is smaller than the minimum allowed object size."


class EntityTooLarge(CosError):
    code, status = "EntityTooLarge", 400
    default_message = "Your proposed upload exceeds the maximum allowed object size."


class InvalidPart(CosError):
    code, status = "InvalidPart", 400
    default_message = (
        "One or more of the specified parts could not be found. The part might not have been "
        "uploaded, or the specified entity tag might not have matched the part's entity tag."
    )


class InvalidPartOrder(CosError):
    code, status = "InvalidPartOrder", 400
    default_message = (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    )


class BucketVersionNotOpen(CosError):
    """A ``versionId`` on a bucket without versioning; the emulator's buckets never have it
    (code from the COS error list, 436/7730: "存储桶未启用版本控制")."""

    code, status = "BucketVersionNotOpen", 400
    default_message = "The bucket has not enabled versioning; versionId is not accepted."


class NotImplementedByEmulator(CosError):
    """An operation or sub-resource the emulator does not implement.

    Real COS would answer 501 for truly unsupported features; this is deliberately a 400 so that
    ``cos-python-sdk-v5`` fails fast instead of retrying a 5xx three times with sleeps.
    """

    code, status = "NotImplemented", 400
    default_message = "This operation is not implemented by the COS emulator."


# -- 403 ------------------------------------------------------------------------------------------
class AccessDenied(CosError):
    """Anonymous or unauthorised request; also an expired signature ("Request has expired")."""

    code, status, default_message = "AccessDenied", 403, "Access Denied."


class InvalidAccessKeyId(CosError):
    code, status = "InvalidAccessKeyId", 403
    default_message = "The Access Key Id you provided does not exist in our records."


class SignatureDoesNotMatch(CosError):
    code, status = "SignatureDoesNotMatch", 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class RequestTimeTooSkewed(CosError):
    code, status = "RequestTimeTooSkewed", 403
    default_message = "The difference between the request time and the server's time is too large."


# -- 404 / 405 / 409 / 412 / 416 ------------------------------------------------------------------
class NoSuchBucket(CosError):
    code, status, default_message = "NoSuchBucket", 404, "The specified bucket does not exist."


class NoSuchKey(CosError):
    code, status, default_message = "NoSuchKey", 404, "The specified key does not exist."


class NoSuchUpload(CosError):
    code, status = "NoSuchUpload", 404
    default_message = "The specified multipart upload does not exist."


class MethodNotAllowed(CosError):
    code, status = "MethodNotAllowed", 405
    default_message = "The specified method is not allowed against this resource."


class BucketAlreadyExists(CosError):
    """COS answers this (not S3's ``BucketAlreadyOwnedByYou``) when the owner re-creates a bucket
    (PUT Bucket doc, https://cloud.tencent.com/document/api/436/7738)."""

    code, status = "BucketAlreadyExists", 409
    default_message = "The requested bucket name is not available."


class BucketNotEmpty(CosError):
    code, status = "BucketNotEmpty", 409
    default_message = "The bucket you tried to delete is not empty."


class PreconditionFailed(CosError):
    """A condition (``If-Match``, ``If-Unmodified-Since``, or a copy source's) does not hold."""

    code, status = "PreconditionFailed", 412
    default_message = "At least one of the preconditions you specified did not hold."


class InvalidRange(CosError):
    code, status = "InvalidRange", 416
    default_message = "The requested range is not satisfiable."

    def __init__(self, size: int, resource: str = "") -> None:
        super().__init__(resource=resource)
        self.size = size


# -- 5xx (fault injection only: the SDK retries these with sleeps) --------------------------------
class InternalError(CosError):
    code, status = "InternalError", 500
    default_message = "We encountered an internal error. Please try again."


class ServiceUnavailable(CosError):
    code, status, default_message = "ServiceUnavailable", 503, "Please reduce your request rate."


class InjectedError(CosError):
    """An injected fault with an arbitrary status (``Faults.cos_errors(status=...)``)."""

    _CODES = {500: "InternalError", 503: "ServiceUnavailable", 429: "SlowDown", 502: "BadGateway"}

    def __init__(self, status: int) -> None:
        self.status = status
        self.code = self._CODES.get(status, "InternalError" if status >= 500 else "InvalidRequest")
        super().__init__("Injected fault: the emulator was told to fail this request.")
