"""COS layer ``models``: buckets, objects, multipart uploads and their parts as plain records.

The rules over them live in :mod:`.backend`; :mod:`.storage` keeps them on disk (as the dicts of
:func:`dataclasses.asdict` and ``to_dict``), and :mod:`.wire` renders them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

_T = TypeVar("_T")


def from_dict(cls: type[_T], value: dict[str, Any]) -> _T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in value.items() if k in names})


@dataclass
class ObjectRecord:
    """One stored object.

    :param key: the object key (no leading ``/``).
    :param size: bytes.
    :param etag: quoted, as COS sends it: ``"<md5>"`` or ``"<md5-of-part-md5s>-<parts>"``.
    :param last_modified: epoch seconds.
    :param content_type: the Content-Type given on upload.
    :param data: the data file name in storage.
    :param crc64: CRC64-ECMA as a decimal string (``x-cos-hash-crc64ecma``).
    :param meta: ``x-cos-meta-*`` headers, names lower-cased, values as sent on the wire.
    :param headers: other stored headers (Cache-Control, Content-Disposition, ...).
    """

    key: str
    size: int
    etag: str
    last_modified: float
    content_type: str
    data: str
    crc64: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"


@dataclass
class PartRecord:
    number: int
    size: int
    md5: str
    last_modified: float

    @property
    def etag(self) -> str:
        return f'"{self.md5}"'


@dataclass
class UploadRecord:
    upload_id: str
    key: str
    initiated: float
    content_type: str
    meta: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    parts: dict[int, PartRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        value = asdict(self)
        del value["parts"]
        return value


@dataclass
class BucketRecord:
    name: str
    region: str
    created: float
    objects: dict[str, ObjectRecord] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # sorted: UTF-8 byte order == code point order
    uploads: dict[str, UploadRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "region": self.region, "created": self.created}
