"""COS layer ``wire``: the XML documents, rendering responses and parsing the two request bodies
the SDK sends.

Element names and order follow the COS API pages (GET Bucket 436/7734, multipart 436/7742..7746,
DELETE Multiple Objects 436/8289, errors 436/7730). ``cos-python-sdk-v5`` reads every value as a
string, so numbers and booleans are rendered as ``1000`` and ``true``.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from scf_snova_core.limits import COS_MAX_KEYS

from .exceptions import BucketVersionNotOpen, MalformedXML
from .listing import ListPage
from .models import ObjectRecord, PartRecord, UploadRecord

CONTENT_TYPE = "application/xml"
_DECLARATION = "<?xml version='1.0' encoding='utf-8' ?>\n"


def iso_time(epoch: float) -> str:
    """``2020-12-10T03:37:30.000Z``, the listing timestamp format."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def url_encoder(encoding_type: str):
    """The function applied to keys and prefixes: percent-encoding for ``encoding-type=url``
    (``/`` kept, space as ``%20`` and ``+`` as ``%2B``, which is what the SDK's ``unquote``
    reverses), the identity otherwise."""
    if encoding_type == "url":
        return lambda value: quote(value, safe="/")
    return lambda value: value


def _el(name: str, value: object) -> str:
    if value is None or value == "":
        return f"<{name}/>"
    return f"<{name}>{escape(str(value))}</{name}>"


def _doc(root: str, children: Iterable[str]) -> bytes:
    return f"{_DECLARATION}<{root}>{''.join(children)}</{root}>".encode()


def _owner(tag: str, owner: str) -> str:
    return f"<{tag}>{_el('ID', owner)}{_el('DisplayName', owner)}</{tag}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


# -- responses ----------------------------------------------------------------------------------
def error(code: str, message: str, resource: str, request_id: str, trace_id: str) -> bytes:
    """The ``<Error>`` document; the SDK needs Code, Message, Resource and RequestId non-empty."""
    return _doc(
        "Error",
        [
            _el("Code", code),
            _el("Message", message),
            _el("Resource", resource),
            _el("RequestId", request_id),
            _el("TraceId", trace_id),
        ],
    )


def _contents(record: ObjectRecord, enc, owner: str) -> str:
    return "<Contents>{}{}{}{}{}{}</Contents>".format(
        _el("Key", enc(record.key)),
        _el("LastModified", iso_time(record.last_modified)),
        _el("ETag", record.etag),
        _el("Size", record.size),
        _owner("Owner", owner),
        _el("StorageClass", record.storage_class),
    )


def _listing(
    marker_tags: tuple[str, ...],
    next_tags: tuple[str, ...],
    *,
    bucket: str,
    prefix: str,
    marker: str,
    max_keys: int,
    delimiter: str,
    encoding_type: str,
    page: ListPage,
) -> tuple[list[str], Callable[[str], str]]:
    """The elements both listings start with, up to the common prefixes; and the key encoder.

    :param marker_tags: the marker's element, then any empty companions (``VersionIdMarker``).
    :param next_tags: the next marker's element, then any ``null`` companions.
    """
    enc = url_encoder(encoding_type)
    parts = [_el("Name", bucket)]
    if encoding_type:
        parts.append(_el("EncodingType", encoding_type))
    parts += [_el("Prefix", enc(prefix)), _el(marker_tags[0], enc(marker))]
    parts += [_el(tag, "") for tag in marker_tags[1:]]
    parts.append(_el("MaxKeys", max_keys))
    if delimiter:
        parts.append(_el("Delimiter", enc(delimiter)))
    parts.append(_el("IsTruncated", _bool(page.truncated)))
    if page.truncated and page.next_marker is not None:
        parts.append(_el(next_tags[0], enc(page.next_marker)))
        parts += [_el(tag, "null") for tag in next_tags[1:]]
    parts += [f"<CommonPrefixes>{_el('Prefix', enc(p))}</CommonPrefixes>" for p in page.prefixes]
    return parts, enc


def list_bucket(*, page: ListPage, owner: str, **listing: Any) -> bytes:
    """``<ListBucketResult>`` (GET Bucket).

    :param listing: ``bucket``, ``prefix``, ``marker``, ``max_keys``, ``delimiter``,
        ``encoding_type``.
    """
    parts, enc = _listing(("Marker",), ("NextMarker",), page=page, **listing)
    parts += [_contents(record, enc, owner) for record in page.items]
    return _doc("ListBucketResult", parts)


def list_versions(*, page: ListPage, owner: str, **listing: Any) -> bytes:
    """``<ListVersionsResult>``: an unversioned bucket has one ``null`` version per object.

    :param listing: as for :func:`list_bucket` (``marker`` is the ``key-marker``).
    """
    parts, enc = _listing(
        ("KeyMarker", "VersionIdMarker"),
        ("NextKeyMarker", "NextVersionIdMarker"),
        page=page,
        **listing,
    )
    for record in page.items:
        parts.append(
            "<Version>{}{}{}{}{}{}{}{}</Version>".format(
                _el("Key", enc(record.key)),
                _el("VersionId", "null"),
                _el("IsLatest", "true"),
                _el("LastModified", iso_time(record.last_modified)),
                _el("ETag", record.etag),
                _el("Size", record.size),
                _el("StorageClass", record.storage_class),
                _owner("Owner", owner),
            )
        )
    return _doc("ListVersionsResult", parts)


def initiate_upload(bucket: str, key: str, upload_id: str) -> bytes:
    return _doc(
        "InitiateMultipartUploadResult",
        [_el("Bucket", bucket), _el("Key", key), _el("UploadId", upload_id)],
    )


def complete_upload(location: str, bucket: str, key: str, etag: str) -> bytes:
    """``<CompleteMultipartUploadResult>``; the SDK raises unless ETag is present."""
    return _doc(
        "CompleteMultipartUploadResult",
        [_el("Location", location), _el("Bucket", bucket), _el("Key", key), _el("ETag", etag)],
    )


def copy_result(record: ObjectRecord) -> bytes:
    """``<CopyObjectResult>``; the SDK raises unless ETag is present."""
    parts = [_el("ETag", record.etag), _el("LastModified", iso_time(record.last_modified))]
    if record.crc64:
        parts.append(_el("CRC64", record.crc64))
    return _doc("CopyObjectResult", parts)


def copy_part_result(part: PartRecord) -> bytes:
    """``<CopyPartResult>`` (Upload Part - Copy); the SDK's ``copy()`` reads its ETag."""
    return _doc(
        "CopyPartResult",
        [_el("ETag", part.etag), _el("LastModified", iso_time(part.last_modified))],
    )


def delete_result(deleted: Iterable[str], errors: Iterable[tuple[str, str, str]]) -> bytes:
    """``<DeleteResult>`` with ``Deleted{Key}`` and ``Error{Key, Code, Message}`` entries."""
    parts = [f"<Deleted>{_el('Key', key)}</Deleted>" for key in deleted]
    parts += [
        f"<Error>{_el('Key', key)}{_el('Code', code)}{_el('Message', message)}</Error>"
        for key, code, message in errors
    ]
    return _doc("DeleteResult", parts)


def list_parts(
    *,
    bucket: str,
    upload: UploadRecord,
    parts: list[PartRecord],
    marker: int,
    max_parts: int,
    truncated: bool,
    encoding_type: str,
    owner: str,
) -> bytes:
    """``<ListPartsResult>``."""
    enc = url_encoder(encoding_type)
    children = [_el("Bucket", bucket)]
    if encoding_type:
        children.append(_el("Encoding-type", encoding_type))
    children += [
        _el("Key", enc(upload.key)),
        _el("UploadId", upload.upload_id),
        _owner("Initiator", owner),
        _owner("Owner", owner),
        _el("StorageClass", upload.storage_class),
        _el("PartNumberMarker", marker),
        _el("NextPartNumberMarker", parts[-1].number if parts else marker),
        _el("MaxParts", max_parts),
        _el("IsTruncated", _bool(truncated)),
    ]
    children += [
        "<Part>{}{}{}{}</Part>".format(
            _el("PartNumber", part.number),
            _el("LastModified", iso_time(part.last_modified)),
            _el("ETag", part.etag),
            _el("Size", part.size),
        )
        for part in parts
    ]
    return _doc("ListPartsResult", children)


def list_uploads(
    *,
    bucket: str,
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    max_uploads: int,
    encoding_type: str,
    page: ListPage,
    owner: str,
) -> bytes:
    """``<ListMultipartUploadsResult>``."""
    enc = url_encoder(encoding_type)
    children = [_el("Bucket", bucket)]
    if encoding_type:
        children.append(_el("Encoding-Type", encoding_type))
    children += [
        _el("KeyMarker", enc(key_marker)),
        _el("UploadIdMarker", upload_id_marker),
        _el("Prefix", enc(prefix)),
    ]
    if delimiter:
        children.append(_el("Delimiter", enc(delimiter)))
    children += [_el("MaxUploads", max_uploads), _el("IsTruncated", _bool(page.truncated))]
    if page.truncated and page.items:
        children += [
            _el("NextKeyMarker", enc(page.items[-1].key)),
            _el("NextUploadIdMarker", page.items[-1].upload_id),
        ]
    children += [
        "<Upload>{}{}{}{}{}{}</Upload>".format(
            _el("Key", enc(upload.key)),
            _el("UploadId", upload.upload_id),
            _el("StorageClass", upload.storage_class),
            _owner("Initiator", owner),
            _owner("Owner", owner),
            _el("Initiated", iso_time(upload.initiated)),
        )
        for upload in page.items
    ]
    children += [f"<CommonPrefixes>{_el('Prefix', enc(p))}</CommonPrefixes>" for p in page.prefixes]
    return _doc("ListMultipartUploadsResult", children)


# -- request bodies -----------------------------------------------------------------------------
def _parse(body: bytes, root: str) -> ET.Element:
    try:
        element = ET.fromstring(body)
    except ET.ParseError as err:
        raise MalformedXML() from err
    for node in element.iter():
        node.tag = node.tag.rsplit("}", 1)[-1]  # tolerate an XML namespace
    if element.tag != root:
        raise MalformedXML(f"The root element must be {root}.")
    return element


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """The ``(PartNumber, ETag)`` list of a ``<CompleteMultipartUpload>`` body, in order."""
    parts = []
    for part in _parse(body, "CompleteMultipartUpload").findall("Part"):
        number, etag = part.findtext("PartNumber"), part.findtext("ETag")
        if number is None or etag is None:
            raise MalformedXML("Each Part needs a PartNumber and an ETag.")
        try:
            parts.append((int(number.strip()), etag.strip()))
        except ValueError as err:
            raise MalformedXML("PartNumber must be an integer.") from err
    return parts


def parse_delete(body: bytes) -> tuple[bool, list[str]]:
    """``(quiet, keys)`` of a ``<Delete>`` body (at most 1000 keys)."""
    root = _parse(body, "Delete")
    quiet = (root.findtext("Quiet") or "false").strip().lower() == "true"
    keys = []
    for obj in root.findall("Object"):
        key = obj.findtext("Key")
        if key is None:
            raise MalformedXML("Each Object needs a Key.")
        if obj.find("VersionId") is not None:
            raise BucketVersionNotOpen(f"Object {key!r} names a VersionId: versioning is not open.")
        keys.append(key)
    if not keys or len(keys) > COS_MAX_KEYS:
        raise MalformedXML(f"Delete needs between 1 and {COS_MAX_KEYS} Objects.")
    return quiet, keys
