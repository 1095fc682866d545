"""COS layer ``responses``: one function per COS API operation: read the HTTP request, call the
backend, answer.

Each function takes a :class:`Call` (the request, its target and the emulator's state) and either
answers through :meth:`Call.respond` (documents from :mod:`.wire`) or raises a
:class:`~.exceptions.CosError`, which the service renders as the ``<Error>`` XML. :mod:`.urls` names
the function of a request. Object events recorded with :meth:`Call.notify` are delivered to the
listeners just before the response is sent, i.e. after the change is committed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote

from scf_snova_core.limits import COS_MAX_KEYS, COS_MAX_PART_SIZE
from scf_snova_core.names import FULL_BUCKET

from ..http import read_range
from . import wire
from .backend import CosBackend
from .conditions import check_copy_source, not_modified
from .exceptions import (
    BucketVersionNotOpen,
    EntityTooLarge,
    InvalidArgument,
    InvalidRange,
    InvalidRequest,
)
from .models import ObjectRecord
from .storage import check_content_md5
from .urls import RESPONSE_HEADERS, Target, bucket_domain

if TYPE_CHECKING:
    from ..config import EmulatorConfig
    from ..faults import Faults
    from ..http import Exchange

DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: Standard headers stored with an object and returned on GET/HEAD, besides Content-Type.
STORED_HEADERS = (
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
)
#: ``response-*`` query parameters of GET Object and the header each overrides.
RESPONSE_OVERRIDES = {f"response-{h.lower()}": h for h in RESPONSE_HEADERS}
MAX_XML_BODY = 4 << 20  # a 10000-part CompleteMultipartUpload is well under 1 MB
_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")
#: ``x-cos-copy-source-range``: ``bytes=first-last``, both given (Upload Part - Copy, 436/8287).
_COPY_RANGE_RE = re.compile(r"bytes=(\d+)-(\d+)")
#: The copy-source domains: ``<bucket>.cos.<region>.myqcloud.com`` or COS's newer
#: ``<bucket>.cos.<region>.tencentcos.cn`` (the SDK's ``EnableOldDomain=False``).
_NEW_DOMAIN = re.compile(
    r"^(?P<bucket>[^.]+)\.cos\.(?P<region>[a-z0-9-]+)\.tencentcos\.cn(?::\d+)?$"
)


@dataclass
class Call:
    """One COS request being served.

    :param exchange: the HTTP request/response.
    :param target: its bucket and key.
    :param request_id: the ``x-cos-request-id`` of the answer.
    :param backend: the buckets (the rules over them).
    :param config: the emulator settings.
    :param faults: the injected faults (GET Object consults ``take_drop``).
    :param emit: delivers ``(call, event name, record, size)`` to the listeners.
    """

    exchange: Exchange
    target: Target
    request_id: str
    backend: CosBackend
    config: EmulatorConfig
    faults: Faults
    emit: Callable[[Call, str, ObjectRecord, int], None]
    _events: list[tuple[str, ObjectRecord, int]] = field(default_factory=list)

    @property
    def query(self) -> dict[str, str]:
        return self.exchange.query

    @property
    def headers(self):
        return self.exchange.headers

    def notify(self, event_name: str, record: ObjectRecord, size: int | None = None) -> None:
        """Queue an object event, delivered just before the response goes out."""
        self._events.append((event_name, record, record.size if size is None else size))

    def _deliver_events(self) -> None:
        for event_name, record, size in self._events:
            self.emit(self, event_name, record, size)
        self._events.clear()

    def respond(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body=b"",
        content_length: int | None = None,
        drop_after: int | None = None,
    ) -> None:
        self._deliver_events()
        out = {"x-cos-request-id": self.request_id}
        if isinstance(body, bytes) and body:
            out["Content-Type"] = wire.CONTENT_TYPE
        out.update(headers or {})
        self.exchange.respond(status, out, body, content_length, drop_after)

    def respond_file(
        self,
        status: int,
        headers: dict[str, str],
        file: BinaryIO,
        offset: int,
        length: int,
        drop_after: int | None = None,
    ) -> None:
        """Answer with ``length`` bytes of ``file`` from ``offset`` (see
        :meth:`.Exchange.respond_file`)."""
        self._deliver_events()
        out = {"x-cos-request-id": self.request_id, **headers}
        self.exchange.respond_file(status, out, file, offset, length, drop_after)

    def respond_xml(self, document: bytes, status: int = 200) -> None:
        self.respond(status, {"Content-Type": wire.CONTENT_TYPE}, document)


# -- request helpers ----------------------------------------------------------------------------
def _int_param(call: Call, name: str, default: int, maximum: int | None = None) -> int:
    raw = call.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise InvalidArgument(f"{name} must be an integer.") from err
    if value < 0:
        raise InvalidArgument(f"{name} must not be negative.")
    return min(value, maximum) if maximum is not None else value


def _encoding_type(call: Call) -> str:
    value = call.query.get("encoding-type", "")
    if value not in ("", "url"):
        raise InvalidArgument("encoding-type must be url.")
    return value


def _object_attributes(call: Call) -> tuple[str, dict[str, str], dict[str, str]]:
    """``(content type, x-cos-meta-*, stored standard headers)`` from the request headers."""
    headers = call.headers
    meta = {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith("x-cos-meta-")
    }
    stored = {name: headers[name] for name in STORED_HEADERS if headers.get(name) is not None}
    return headers.get("Content-Type") or DEFAULT_CONTENT_TYPE, meta, stored


def _xml_body(call: Call) -> bytes:
    length = call.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > MAX_XML_BODY:
        raise EntityTooLarge("The XML body is too large.")
    body = call.exchange.read_body()
    if len(body) > MAX_XML_BODY:
        raise EntityTooLarge("The XML body is too large.")
    return body


def object_headers(record: ObjectRecord) -> dict[str, str]:
    """The headers of GET/HEAD Object, in the casing real COS uses."""
    headers = {
        "Content-Type": record.content_type,
        "ETag": record.etag,
        "Last-Modified": formatdate(record.last_modified, usegmt=True),
        "Accept-Ranges": "bytes",
    }
    if record.crc64:
        headers["x-cos-hash-crc64ecma"] = record.crc64
    headers.update(record.headers)
    headers.update(record.meta)
    return headers


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions of a single ``Range: bytes=...``, or
    ``None`` to send the whole object (no header, or one that is not a single valid range,
    which HTTP says to ignore).

    :raises InvalidRange: a valid range that lies entirely beyond the object.
    """
    if not value:
        return None
    match = _RANGE_RE.fullmatch(value)
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise InvalidRange(size)
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise InvalidRange(size)
    end = int(last) if last else size - 1
    return start, min(end, size - 1)


def _copy_source(value: str) -> tuple[str, str, str | None]:
    """``(bucket, key, region)`` from ``x-cos-copy-source:
    <bucket>.cos.<region>.myqcloud.com/<key>`` (or ``.tencentcos.cn``; ``<bucket>/<key>`` is
    accepted too, with no region); the key is URL-decoded.

    :raises BucketVersionNotOpen: a ``?versionId=`` (the emulator's buckets are unversioned).
    """
    location, _, path = value.strip().lstrip("/").partition("/")
    path, _, query = path.partition("?")
    if "versionId=" in query:
        raise BucketVersionNotOpen("x-cos-copy-source names a versionId: versioning is not open.")
    key = unquote(path)
    found = bucket_domain(location) or _new_domain(location)
    bucket, region = found if found else (location, None)
    if not FULL_BUCKET.match(bucket) or not key:
        raise InvalidArgument("x-cos-copy-source must be <bucket>.cos.<region>.myqcloud.com/<key>.")
    return bucket, key, region


def _new_domain(location: str) -> tuple[str, str] | None:
    match = _NEW_DOMAIN.match(location.lower())
    return (match["bucket"], match["region"]) if match else None


# -- buckets ------------------------------------------------------------------------------------
def put_bucket(call: Call) -> None:
    call.backend.create_bucket(call.target.bucket, call.target.region)
    call.respond(200)


def head_bucket(call: Call) -> None:
    call.backend.bucket(call.target.bucket, call.target.region)
    call.respond(200, {"x-cos-bucket-region": call.target.region})


def delete_bucket(call: Call) -> None:
    call.backend.delete_bucket(call.target.bucket, call.target.region)
    call.respond(204)


def _respond_listing(call: Call, marker_param: str, render: Callable[..., bytes]) -> None:
    """Answer a GET Bucket or List Object Versions request: the page after the marker (the
    ``marker_param`` query parameter), as ``render`` writes it."""
    query = call.query
    params = {
        "prefix": query.get("prefix", ""),
        "delimiter": query.get("delimiter", ""),
        "marker": query.get(marker_param, ""),
        "max_keys": _int_param(call, "max-keys", COS_MAX_KEYS, COS_MAX_KEYS),
    }
    page = call.backend.list_objects(call.target.bucket, region=call.target.region, **params)
    document = render(
        bucket=call.target.bucket,
        encoding_type=_encoding_type(call),
        page=page,
        owner=call.config.appid,
        **params,
    )
    call.respond_xml(document)


def list_objects(call: Call) -> None:
    """GET Bucket (List Objects)."""
    _respond_listing(call, "marker", wire.list_bucket)


def list_object_versions(call: Call) -> None:
    """List Object Versions: the bucket is unversioned, one ``null`` version per object, so the
    only version-id marker there is (the one the previous page gave) is ``null``."""
    if call.query.get("version-id-marker", "") not in ("", "null"):
        raise BucketVersionNotOpen("version-id-marker: the only version in the bucket is null.")
    _respond_listing(call, "key-marker", wire.list_versions)


def delete_objects(call: Call) -> None:
    """DELETE Multiple Objects: a missing key counts as deleted (as in COS and S3)."""
    content_md5 = call.headers.get("Content-MD5")
    if content_md5 is None:
        raise InvalidRequest("Missing required header for this request: Content-MD5.")
    call.backend.bucket(call.target.bucket, call.target.region)
    body = _xml_body(call)
    check_content_md5(content_md5, hashlib.md5(body).digest())
    quiet, keys = wire.parse_delete(body)
    deleted = []
    for key in keys:
        record = call.backend.delete_object(call.target.bucket, key, call.target.region)
        if record is not None:
            call.notify("cos:ObjectRemove:Delete", record, size=0)
        deleted.append(key)
    call.respond_xml(wire.delete_result([] if quiet else deleted, []))


# -- objects ------------------------------------------------------------------------------------
def put_object(call: Call) -> None:
    target = call.target
    call.backend.bucket(target.bucket, target.region)  # fail before reading the body
    content_type, meta, stored = _object_attributes(call)
    staged = call.backend.storage.receive(
        call.exchange.body_chunks(), call.headers.get("Content-MD5")
    )
    record = call.backend.put_object(
        target.bucket,
        target.key,
        staged,
        content_type=content_type,
        meta=meta,
        headers=stored,
        region=target.region,
    )
    call.notify("cos:ObjectCreated:Put", record)
    headers = {"ETag": record.etag}
    if record.crc64:
        headers["x-cos-hash-crc64ecma"] = record.crc64
    call.respond(200, headers)


def _respond_not_modified(call: Call, record: ObjectRecord) -> None:
    """304 with no body (``Content-Length: 0``, as the SDK's stream needs) and the validators."""
    validators = object_headers(record)
    call.respond(304, {name: validators[name] for name in ("ETag", "Last-Modified")})


def head_object(call: Call) -> None:
    record = call.backend.head_object(call.target.bucket, call.target.key, call.target.region)
    if not_modified(call.headers, record):
        _respond_not_modified(call, record)
        return
    # A HEAD answer announces the object's length but sends no body.
    call.respond(200, object_headers(record), iter(()), content_length=record.size)


def get_object(call: Call) -> None:
    target = call.target
    record, file = call.backend.open_object(target.bucket, target.key, target.region)
    with file:
        if not_modified(call.headers, record):
            _respond_not_modified(call, record)
            return
        headers = object_headers(record)
        for param, header in RESPONSE_OVERRIDES.items():
            if param in call.query:
                headers[header] = call.query[param]
        span = parse_range(call.headers.get("Range"), record.size)
        status, start, length = 200, 0, record.size
        if span is not None:
            status, start, length = 206, span[0], span[1] - span[0] + 1
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{record.size}"
        call.respond_file(status, headers, file, start, length, call.faults.take_drop())


def delete_object(call: Call) -> None:
    """204 whether or not the key existed (as COS); an event only when something was removed."""
    record = call.backend.delete_object(call.target.bucket, call.target.key, call.target.region)
    if record is not None:
        call.notify("cos:ObjectRemove:Delete", record, size=0)
    call.respond(204)


def copy_object(call: Call) -> None:
    source_bucket, source_key, source_region = _copy_source(call.headers["x-cos-copy-source"])
    directive = (call.headers.get("x-cos-metadata-directive") or "Copy").strip()
    if directive not in ("Copy", "Replaced"):
        raise InvalidArgument("x-cos-metadata-directive must be Copy or Replaced.")
    replace = _object_attributes(call) if directive == "Replaced" else None
    record = call.backend.copy_object(
        source_bucket,
        source_key,
        call.target.bucket,
        call.target.key,
        replace=replace,
        region=call.target.region,
        source_region=source_region,
        check=lambda source: check_copy_source(call.headers, source),
    )
    call.notify("cos:ObjectCreated:Copy", record)
    call.respond_xml(wire.copy_result(record))


# -- multipart uploads --------------------------------------------------------------------------
def initiate_multipart_upload(call: Call) -> None:
    content_type, meta, stored = _object_attributes(call)
    upload = call.backend.initiate_upload(
        call.target.bucket,
        call.target.key,
        content_type=content_type,
        meta=meta,
        headers=stored,
        region=call.target.region,
    )
    call.respond_xml(wire.initiate_upload(call.target.bucket, call.target.key, upload.upload_id))


def upload_part(call: Call) -> None:
    target = call.target
    upload_id = call.query["uploadId"]
    number = call.backend.part_number(call.query["partNumber"])
    call.backend.upload(target.bucket, target.key, upload_id, target.region)  # before the body
    staged = call.backend.storage.receive(
        call.exchange.body_chunks(), call.headers.get("Content-MD5")
    )
    part = call.backend.upload_part(
        target.bucket, target.key, upload_id, number, staged, target.region
    )
    call.respond(200, {"ETag": part.etag})


def upload_part_copy(call: Call) -> None:
    """Upload Part - Copy (436/8287): part ``partNumber`` of an upload is a byte range of an
    existing object, given by ``x-cos-copy-source`` and ``x-cos-copy-source-range``."""
    target = call.target
    upload_id = call.query["uploadId"]
    number = call.backend.part_number(call.query["partNumber"])
    source_bucket, source_key, source_region = _copy_source(call.headers["x-cos-copy-source"])
    call.backend.upload(target.bucket, target.key, upload_id, target.region)
    record, file = call.backend.open_object(source_bucket, source_key, source_region)
    with file:
        check_copy_source(call.headers, record)
        start, length = _copy_range(call.headers.get("x-cos-copy-source-range"), record.size)
        if length > COS_MAX_PART_SIZE:
            raise EntityTooLarge(f"A part may hold at most {COS_MAX_PART_SIZE} bytes.")
        staged = call.backend.storage.receive(read_range(file, start, length))
    part = call.backend.upload_part(
        target.bucket, target.key, upload_id, number, staged, target.region
    )
    call.respond_xml(wire.copy_part_result(part))


def _copy_range(value: str | None, size: int) -> tuple[int, int]:
    """``(start, length)`` of ``x-cos-copy-source-range``; the whole object when empty or absent
    (the SDK sends it empty by default).

    :raises InvalidArgument: not ``bytes=first-last``, or not within the object.
    """
    if not value or not value.strip():
        return 0, size
    match = _COPY_RANGE_RE.fullmatch(value.strip())
    if not match:
        raise InvalidArgument("x-cos-copy-source-range must be bytes=first-last.")
    first, last = int(match[1]), int(match[2])
    if first > last or last >= size:
        raise InvalidArgument(
            f"x-cos-copy-source-range {value.strip()} is not within the source's {size} bytes."
        )
    return first, last - first + 1


def complete_multipart_upload(call: Call) -> None:
    target = call.target
    parts = wire.parse_complete(_xml_body(call))
    record = call.backend.complete_upload(
        target.bucket, target.key, call.query["uploadId"], parts, target.region
    )
    call.notify("cos:ObjectCreated:CompleteMultipartUpload", record)
    headers = {"x-cos-hash-crc64ecma": record.crc64} if record.crc64 else {}
    location = f"{target.bucket}.cos.{target.region}.myqcloud.com/{target.key}"
    document = wire.complete_upload(location, target.bucket, target.key, record.etag)
    call.respond(200, {"Content-Type": wire.CONTENT_TYPE, **headers}, document)


def abort_multipart_upload(call: Call) -> None:
    target = call.target
    call.backend.abort_upload(target.bucket, target.key, call.query["uploadId"], target.region)
    call.respond(204)


def list_parts(call: Call) -> None:
    target = call.target
    marker = _int_param(call, "part-number-marker", 0)
    max_parts = _int_param(call, "max-parts", 1000, 1000)
    upload, parts, truncated = call.backend.list_parts(
        target.bucket, target.key, call.query["uploadId"], marker, max_parts, target.region
    )
    call.respond_xml(
        wire.list_parts(
            bucket=target.bucket,
            upload=upload,
            parts=parts,
            marker=marker,
            max_parts=max_parts,
            truncated=truncated,
            encoding_type=_encoding_type(call),
            owner=call.config.appid,
        )
    )


def list_multipart_uploads(call: Call) -> None:
    query = call.query
    max_uploads = _int_param(call, "max-uploads", 1000, 1000)
    page = call.backend.list_uploads(
        call.target.bucket,
        prefix=query.get("prefix", ""),
        delimiter=query.get("delimiter", ""),
        key_marker=query.get("key-marker", ""),
        upload_id_marker=query.get("upload-id-marker", ""),
        max_uploads=max_uploads,
        region=call.target.region,
    )
    call.respond_xml(
        wire.list_uploads(
            bucket=call.target.bucket,
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter", ""),
            key_marker=query.get("key-marker", ""),
            upload_id_marker=query.get("upload-id-marker", ""),
            max_uploads=max_uploads,
            encoding_type=_encoding_type(call),
            page=page,
            owner=call.config.appid,
        )
    )
