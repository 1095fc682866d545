"""COS layer ``urls``: routing only: which bucket, object key and operation (a :mod:`.responses`
function) a request is for.

Two addressing styles are accepted:

- **virtual-host** (what ``cos-python-sdk-v5`` sends with ``CosConfig(IP=..., Port=...)``): the
  bucket is in the Host header, ``<name>-<appid>.cos.<region>.myqcloud.com[:port]``, and the path is
  the object key;
- **path-style**, for non-SDK clients that cannot set a Host header: Host is anything else and the
  path is ``/<name>-<appid>/<key>``; the region is the emulator's own. This never collides with the
  SCF endpoint (always ``POST /``) or the control API (``/_emulator/...``), because a path whose
  first segment is a full ``name-appid`` bucket name is neither.

The bucket domain and the full bucket name are :mod:`scf_snova_core.names` patterns
(``COS_TRIGGER_NAME``: an SCF COS trigger is named after the bucket's domain; ``FULL_BUCKET``).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from scf_snova_core.names import COS_TRIGGER_NAME, FULL_BUCKET

from .exceptions import (
    BucketVersionNotOpen,
    InvalidArgument,
    MethodNotAllowed,
    NotImplementedByEmulator,
)

#: Sub-resources of buckets and objects the emulator does not implement: answering them with the
#: bucket listing or the object body would silently be wrong.
UNSUPPORTED_SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "append",
        "cors",
        "domain",
        "encryption",
        "intelligenttiering",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "object-lock",
        "origin",
        "policy",
        "referer",
        "replication",
        "restore",
        "select",
        "symlink",
        "tagging",
        "versioning",
        "website",
    }
)

#: Query parameters that sign a presigned URL; any operation may carry them.
SIGNATURE_PARAMETERS = frozenset(
    {
        "q-sign-algorithm",
        "q-ak",
        "q-sign-time",
        "q-key-time",
        "q-header-list",
        "q-url-param-list",
        "q-signature",
        "x-cos-security-token",
    }
)
#: The headers GET Object's ``response-<header>`` parameters override.
RESPONSE_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)
_LISTING = frozenset({"prefix", "delimiter", "encoding-type"})
_UPLOAD = frozenset({"partNumber", "uploadId"})
#: The query parameters each operation understands, besides signatures (COS API pages: GET
#: Bucket 436/7734, List Object Versions 436/35521, multipart 436/7736-7750, GET Object 436/7753).
#: Anything else is refused rather than ignored: an ignored parameter is an answer with another
#: meaning.
OPERATION_PARAMETERS: dict[str, frozenset[str]] = {
    "list_objects": _LISTING | {"marker", "max-keys"},
    "list_object_versions": _LISTING | {"versions", "key-marker", "version-id-marker", "max-keys"},
    "list_multipart_uploads": _LISTING
    | {"uploads", "key-marker", "upload-id-marker", "max-uploads"},
    "delete_objects": frozenset({"delete"}),
    "get_object": frozenset(f"response-{name.lower()}" for name in RESPONSE_HEADERS),
    "initiate_multipart_upload": frozenset({"uploads"}),
    "upload_part": _UPLOAD,
    "upload_part_copy": _UPLOAD,
    "complete_multipart_upload": frozenset({"uploadId"}),
    "abort_multipart_upload": frozenset({"uploadId"}),
    "list_parts": frozenset({"uploadId", "part-number-marker", "max-parts", "encoding-type"}),
}
#: ListObjectsV2's parameters: COS serves only GET Bucket v1 (436/7734).
LIST_V2_PARAMETERS = ("list-type", "continuation-token", "start-after", "fetch-owner")
#: Operations that create an object or a bucket, whose settings headers the emulator checks.
_WRITES = frozenset({"put_object", "copy_object", "initiate_multipart_upload", "put_bucket"})

#: Operations that answer the ``LIST`` fault budget rather than ``GET``.
LIST_OPERATIONS = frozenset(
    {"list_objects", "list_object_versions", "list_multipart_uploads", "list_parts"}
)


@dataclass(frozen=True)
class Target:
    """The bucket and key a request addresses.

    :param bucket: the full bucket name, ``name-appid``.
    :param region: the region from the Host header (path-style: the emulator's region).
    :param key: the decoded object key without the leading ``/``; ``""`` for bucket operations.
    :param path_style: the bucket came from the path rather than the Host header.
    """

    bucket: str
    region: str
    key: str
    path_style: bool = False

    @property
    def appid(self) -> str:
        return self.bucket.rpartition("-")[2]

    @property
    def signed_paths(self) -> tuple[str, ...]:
        """The paths a client may have signed: ``/<key>`` (the SDK), and for path-style requests
        also the full request path ``/<bucket>/<key>``."""
        own = f"/{self.key}"
        if self.path_style:
            return (own, f"/{self.bucket}{own}", f"/{self.bucket}")
        return (own,)

    @property
    def resource(self) -> str:
        """The ``Resource`` of an error: ``<bucket>.cos.<region>.myqcloud.com/<key>``."""
        return f"{self.bucket}.cos.{self.region}.myqcloud.com/{self.key}"


def parse_target(host: str, path: str, default_region: str) -> Target | None:
    """Find the bucket and key of a request, or ``None`` when it is not a COS request.

    :param host: the Host header.
    :param path: the percent-decoded request path.
    :param default_region: the region of path-style requests.
    """
    found = bucket_domain(host)
    if found:
        return Target(found[0], found[1], path[1:], False)
    first, _, rest = path[1:].partition("/")
    if FULL_BUCKET.match(first):
        return Target(first, default_region, rest, True)
    return None


def bucket_domain(host: str) -> tuple[str, str] | None:
    """``(bucket, region)`` of a bucket domain ``<name>-<appid>.cos.<region>.myqcloud.com``
    (any case, a ``:port`` suffix allowed), or ``None`` for any other host."""
    domain, sep, port = host.lower().rpartition(":")
    if not (sep and port.isdigit()):
        domain = host.lower()
    match = COS_TRIGGER_NAME.match(domain)
    return (match["bucket"], match["region"]) if match else None


def operation(method: str, key: str, query: dict[str, str], headers: Message) -> str:
    """The name of the operation (a :mod:`.responses` function) a request asks for.

    :raises NotImplementedByEmulator: for sub-resources such as ``?acl`` or ``?tagging``.
    :raises MethodNotAllowed: for methods COS does not serve at that level.
    """
    unsupported = UNSUPPORTED_SUBRESOURCES.intersection(query)
    if unsupported:
        raise NotImplementedByEmulator(
            f"The COS emulator does not implement the ?{sorted(unsupported)[0]} sub-resource."
        )
    copy_source = headers.get("x-cos-copy-source") is not None
    if not key:
        if method == "GET":
            if "uploads" in query:
                return "list_multipart_uploads"
            if "versions" in query:
                return "list_object_versions"
            return "list_objects"
        if method == "POST":
            if "delete" in query:
                return "delete_objects"
            raise NotImplementedByEmulator("The COS emulator does not implement POST Object.")
        simple = {"PUT": "put_bucket", "HEAD": "head_bucket", "DELETE": "delete_bucket"}
        if method in simple:
            return simple[method]
        raise MethodNotAllowed()
    if method == "PUT":
        if "partNumber" in query and "uploadId" in query:
            return "upload_part_copy" if copy_source else "upload_part"
        return "copy_object" if copy_source else "put_object"
    if method == "GET":
        return "list_parts" if "uploadId" in query else "get_object"
    if method == "HEAD":
        return "head_object"
    if method == "DELETE":
        return "abort_multipart_upload" if "uploadId" in query else "delete_object"
    if method == "POST":
        if "uploads" in query:
            return "initiate_multipart_upload"
        if "uploadId" in query:
            return "complete_multipart_upload"
        raise NotImplementedByEmulator("The COS emulator does not implement this POST request.")
    raise MethodNotAllowed()


def check_request(op: str, method: str, query: dict[str, str], headers: Message) -> None:
    """Refuse what the operation would otherwise ignore: parameters and settings headers the
    emulator does not implement.

    :raises BucketVersionNotOpen: a ``versionId`` (the emulator's buckets are unversioned).
    :raises InvalidArgument: a ListObjectsV2 parameter, or any query parameter ``op`` does not
        understand.
    :raises NotImplementedByEmulator: a conditional write, or a header asking for ACLs, tags,
        encryption, a storage class other than STANDARD or no overwriting.
    """
    if "versionId" in query:
        raise BucketVersionNotOpen(
            "versionId: the bucket has not enabled versioning (the emulator does not implement "
            "versioning)."
        )
    if op == "list_objects":
        for name in LIST_V2_PARAMETERS:
            if name in query:
                raise InvalidArgument(
                    f"{name} is a ListObjectsV2 parameter; COS serves GET Bucket (List Objects) "
                    "v1 only: page with marker and NextMarker."
                )
    known = OPERATION_PARAMETERS.get(op, frozenset()) | SIGNATURE_PARAMETERS
    unknown = sorted(name for name in query if name not in known)
    if unknown:
        raise InvalidArgument(f"The query parameter {unknown[0]!r} is not supported here ({op}).")
    if method not in ("GET", "HEAD"):
        conditional = sorted(name for name in headers if name.lower().startswith("if-"))
        if conditional:
            raise NotImplementedByEmulator(
                f"The COS emulator does not implement conditional writes ({conditional[0]})."
            )
    if op in _WRITES:
        _check_settings(headers)


def _check_settings(headers: Message) -> None:
    for name, value in headers.items():
        lower = name.lower()
        refused = (
            lower.startswith(("x-cos-grant-", "x-cos-server-side-encryption", "x-cos-tagging"))
            or (lower == "x-cos-acl" and value.strip().lower() != "private")
            or (lower == "x-cos-storage-class" and value.strip().upper() != "STANDARD")
            or (lower == "x-cos-forbid-overwrite" and value.strip().lower() == "true")
        )
        if refused:
            raise NotImplementedByEmulator(
                f"The COS emulator does not implement {name}: {value} (it would be ignored)."
            )


def fault_name(method: str, op: str) -> str:
    """The operation name ``Faults.cos_errors(operations=...)`` matches: ``GET``, ``PUT``,
    ``HEAD``, ``DELETE``, ``POST`` or ``LIST`` (any listing, including List Parts)."""
    return "LIST" if op in LIST_OPERATIONS else method
