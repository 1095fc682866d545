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

from .exceptions import MethodNotAllowed, NotImplementedByEmulator

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
            if copy_source:
                raise NotImplementedByEmulator(
                    "The COS emulator does not implement Upload Part - Copy."
                )
            return "upload_part"
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


def fault_name(method: str, op: str) -> str:
    """The operation name ``Faults.cos_errors(operations=...)`` matches: ``GET``, ``PUT``,
    ``HEAD``, ``DELETE``, ``POST`` or ``LIST`` (any listing, including List Parts)."""
    return "LIST" if op in LIST_OPERATIONS else method
