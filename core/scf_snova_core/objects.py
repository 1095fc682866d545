"""One COS object's metadata, the one shape every layer uses: a listing entry, a HEAD answer,
a sensor's XCom, a trigger's event and a load's result all carry a :class:`COSObject` (or its
:meth:`~COSObject.to_dict`).

**One ETag format.** COS sends ETags in double quotes (``"<md5>"``, or ``"<md5>-<parts>"`` for
multipart uploads). Here they are always bare, without the quotes: :class:`COSObject` strips them
(:func:`normalize_etag`), and so do the load ledger and every payload. Only the events built for
SCF functions (:mod:`.events`) quote them again, as COS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .events import cos_event


def normalize_etag(etag: str | None) -> str:
    """An ETag without its surrounding double quotes (COS sends ``"<md5>"``)."""
    return (etag or "").strip().strip('"')


def parse_cos_time(value: str | datetime) -> datetime:
    """A timezone-aware UTC datetime from what COS sends.

    Accepts ``2024-01-01T00:00:00.000Z`` (listings), ``Mon, 01 Jan 2024 00:00:00 GMT`` (the
    ``Last-Modified`` header), any ISO-8601 string, or a datetime (naive means UTC).

    :param value: the timestamp.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        if text[:1].isdigit():
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            moment = parsedate_to_datetime(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class COSObject:
    """One object: the fields a listing and a HEAD request both return.

    :param bucket: the full bucket name, ``name-appid``.
    :param key: the plain object key (no leading slash).
    :param size: bytes.
    :param etag: the ETag without quotes (quotes given are removed): ``<md5>``, or
        ``<md5>-<parts>`` for multipart uploads.
    :param last_modified: UTC, timezone-aware (COS has second resolution).
    """

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", normalize_etag(self.etag))

    @property
    def url(self) -> str:
        """``cos://bucket/key``."""
        return f"cos://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``last_modified`` as an ISO-8601 string), for XCom."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "last_modified": self.last_modified.isoformat(),
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> COSObject:
        """The inverse of :meth:`to_dict`."""
        return cls(
            bucket=value["bucket"],
            key=value["key"],
            size=int(value["size"]),
            etag=value["etag"],
            last_modified=parse_cos_time(value["last_modified"]),
        )

    @classmethod
    def from_head(cls, bucket: str, key: str, headers: dict[str, Any]) -> COSObject:
        """The object a HEAD Object answer describes (``Content-Length``, ``ETag``,
        ``Last-Modified`` headers, as the COS SDK returns them).

        :param bucket: the full bucket name.
        :param key: the key.
        :param headers: the response headers.
        """
        return cls(
            bucket=bucket,
            key=key,
            size=int(headers.get("Content-Length") or 0),
            etag=headers.get("ETag") or "",
            last_modified=parse_cos_time(headers["Last-Modified"]),
        )

    @classmethod
    def from_listing(cls, bucket: str, entry: dict[str, Any]) -> COSObject:
        """The object of one ``Contents`` entry of a GET Bucket (list objects) answer (``Key``,
        ``Size``, ``ETag``, ``LastModified``; the key already URL-decoded if it was encoded).

        :param bucket: the full bucket name.
        :param entry: the entry.
        """
        return cls(
            bucket=bucket,
            key=entry["Key"],
            size=int(entry.get("Size") or 0),
            etag=entry.get("ETag") or "",
            last_modified=parse_cos_time(entry["LastModified"]),
        )

    def to_cos_event(
        self, region: str, event_name: str = "cos:ObjectCreated:Put", **kwargs: Any
    ) -> dict[str, Any]:
        """The event a COS trigger would deliver to an SCF function for this object.

        ``{"Records": [record]}`` (see :func:`scf_snova_core.events.cos_event`), with
        ``eventTime`` set to the object's modification time; a function written for SCF's COS
        trigger can be invoked with it unchanged.

        :param region: the bucket's region, e.g. ``ap-guangzhou``.
        :param event_name: the concrete event name.
        :param kwargs: more :func:`~scf_snova_core.events.cos_event` arguments
            (``function_name``, ``namespace``, ``content_type``...).
        """
        return cos_event(
            bucket=self.bucket,
            key=self.key,
            size=self.size,
            etag=self.etag,
            region=region,
            event_name=event_name,
            event_time=int(self.last_modified.timestamp()),
            **kwargs,
        )
