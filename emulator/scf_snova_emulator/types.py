"""Values that cross from one emulated service to another (COS notifies SCF)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObjectEvent:
    """An object was created or removed in an emulated COS bucket.

    :param event_name: the concrete COS event, e.g. ``cos:ObjectCreated:Put``,
        ``cos:ObjectCreated:CompleteMultipartUpload``, ``cos:ObjectRemove:Delete``.
    :param bucket: the full bucket name, ``name-appid``.
    :param key: the plain object key (not URL-encoded, no leading slash).
    :param size: object size in bytes (0 for removals).
    :param etag: the ETag as COS sends it, with the double quotes.
    :param content_type: the stored Content-Type.
    :param meta: the stored ``x-cos-meta-*`` headers, keys in lower case.
    :param request_id: the ``x-cos-request-id`` of the request that caused the event.
    :param source_ip: the client address.
    :param authorization: the Authorization header of that request.
    :param event_time: epoch seconds.
    """

    event_name: str
    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    request_id: str
    event_time: int
    source_ip: str = "127.0.0.1"
    authorization: str = ""
    meta: dict[str, str] = field(default_factory=dict)
