"""COS layer ``backend``: the rules over :mod:`.models`: buckets, objects and multipart uploads,
with no HTTP (:mod:`.responses` calls it).

State lives in memory (an index per bucket, keys kept sorted for listings) and is written through
to :class:`~.storage.CosStorage` on every change, from which it is rebuilt on start. One lock
guards the index; request bodies are received *before* taking it, so a slow upload never blocks
other requests. Limits (keys per page, part sizes and numbers) are :mod:`scf_snova_core.limits`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import asdict
from typing import BinaryIO

from scf_snova_core.limits import COS_MAX_KEYS, COS_MAX_PARTS, COS_MIN_PART_SIZE
from scf_snova_core.names import FULL_BUCKET
from scf_snova_core.objects import normalize_etag

from .exceptions import (
    BucketAlreadyExists,
    BucketNotEmpty,
    EntityTooSmall,
    InvalidArgument,
    InvalidBucketName,
    InvalidPart,
    InvalidPartOrder,
    MalformedXML,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
)
from .listing import ListPage, page, walk
from .models import BucketRecord, ObjectRecord, PartRecord, UploadRecord, from_dict
from .storage import CosStorage, Staged


class CosBackend:
    """All buckets of one emulator.

    :param storage: where bytes and records are persisted.
    """

    def __init__(self, storage: CosStorage) -> None:
        self.storage = storage
        self._lock = threading.RLock()
        self._buckets: dict[str, BucketRecord] = {}
        self._load()

    def _load(self) -> None:
        for saved in self.storage.load():
            bucket = from_dict(BucketRecord, saved["bucket"])
            for value in saved["objects"]:
                record = from_dict(ObjectRecord, value)
                bucket.objects[record.key] = record
            bucket.keys = sorted(bucket.objects)
            for entry in saved["uploads"]:
                upload = from_dict(UploadRecord, entry["upload"])
                for value in entry["parts"]:
                    part = from_dict(PartRecord, value)
                    upload.parts[part.number] = part
                bucket.uploads[upload.upload_id] = upload
            self._buckets[bucket.name] = bucket

    def reset(self) -> None:
        """Forget every bucket, object and upload, on disk too."""
        with self._lock:
            self.storage.wipe()
            self._buckets.clear()

    # -- buckets --------------------------------------------------------------------------------
    def bucket(self, name: str, region: str | None = None) -> BucketRecord:
        """The bucket ``name``.

        :param region: when given, a bucket in another region does not exist (as on COS, where
            the regional endpoint only serves its own buckets).
        :raises NoSuchBucket: if it does not exist (there).
        """
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None or (region is not None and bucket.region != region):
                raise NoSuchBucket()
            return bucket

    def create_bucket(self, name: str, region: str, exist_ok: bool = False) -> BucketRecord:
        """:raises BucketAlreadyExists: if it exists and not ``exist_ok``."""
        if not FULL_BUCKET.match(name):
            raise InvalidBucketName()
        with self._lock:
            existing = self._buckets.get(name)
            if existing is not None:
                if exist_ok:
                    return existing
                raise BucketAlreadyExists()
            bucket = BucketRecord(name=name, region=region, created=time.time())
            self.storage.save_bucket(name, bucket.to_dict())
            self._buckets[name] = bucket
            return bucket

    def delete_bucket(self, name: str, region: str | None = None) -> None:
        """Delete an empty bucket (unfinished multipart uploads go with it).

        :raises BucketNotEmpty: if it still holds objects.
        """
        with self._lock:
            bucket = self.bucket(name, region)
            if bucket.objects:
                raise BucketNotEmpty()
            del self._buckets[name]
            self.storage.remove_bucket(name)

    # -- objects --------------------------------------------------------------------------------
    def _commit(self, bucket: BucketRecord, record: ObjectRecord) -> None:
        """Make ``record`` the current version of its key (lock held)."""
        self.storage.save_object(bucket.name, record.key, asdict(record))
        old = bucket.objects.get(record.key)
        bucket.objects[record.key] = record
        if old is None:
            insort(bucket.keys, record.key)
        elif old.data != record.data:
            self.storage.remove_data(bucket.name, old.data)

    def put_object(
        self,
        bucket_name: str,
        key: str,
        staged: Staged,
        *,
        content_type: str,
        meta: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        region: str | None = None,
    ) -> ObjectRecord:
        """Store a received body as ``key``, replacing any previous object.

        :param staged: the body, already received (see :meth:`CosStorage.receive`); consumed.
        """
        with self._lock:
            try:
                bucket = self.bucket(bucket_name, region)
            except NoSuchBucket:
                self.storage.discard(staged)
                raise
            record = ObjectRecord(
                key=key,
                size=staged.size,
                etag=f'"{staged.md5}"',
                last_modified=time.time(),
                content_type=content_type,
                data=self.storage.adopt(bucket_name, staged),
                crc64=staged.crc64,
                meta=dict(meta or {}),
                headers=dict(headers or {}),
            )
            self._commit(bucket, record)
            return record

    def head_object(self, bucket_name: str, key: str, region: str | None = None) -> ObjectRecord:
        """:raises NoSuchKey: if there is no such object."""
        with self._lock:
            record = self.bucket(bucket_name, region).objects.get(key)
            if record is None:
                raise NoSuchKey()
            return record

    def open_object(
        self, bucket_name: str, key: str, region: str | None = None
    ) -> tuple[ObjectRecord, BinaryIO]:
        """The record and an open file of its body (consistent even if overwritten meanwhile)."""
        with self._lock:
            record = self.head_object(bucket_name, key, region)
            return record, self.storage.open(bucket_name, record.data)

    def delete_object(
        self, bucket_name: str, key: str, region: str | None = None
    ) -> ObjectRecord | None:
        """Delete ``key``; returns what was deleted, ``None`` if it did not exist."""
        with self._lock:
            bucket = self.bucket(bucket_name, region)
            record = bucket.objects.pop(key, None)
            if record is None:
                return None
            del bucket.keys[bisect_left(bucket.keys, key)]
            self.storage.remove_object(bucket_name, key)
            self.storage.remove_data(bucket_name, record.data)
            return record

    def copy_object(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        replace: tuple[str, dict[str, str], dict[str, str]] | None = None,
        region: str | None = None,
        source_region: str | None = None,
        check: Callable[[ObjectRecord], None] | None = None,
    ) -> ObjectRecord:
        """Copy an object (same account, same emulator).

        :param replace: ``(content_type, meta, headers)`` for ``x-cos-metadata-directive:
            Replaced``; ``None`` keeps the source's.
        :param source_region: the source bucket's region, when the request names it.
        :param check: called with the source's record before copying; may raise to refuse.
        """
        with self._lock:
            source = self.head_object(src_bucket, src_key, source_region)
            if check is not None:
                check(source)
            bucket = self.bucket(dst_bucket, region)
            content_type, meta, headers = replace or (
                source.content_type,
                source.meta,
                source.headers,
            )
            record = ObjectRecord(
                key=dst_key,
                size=source.size,
                etag=source.etag,
                last_modified=time.time(),
                content_type=content_type,
                data=self.storage.link(src_bucket, source.data, dst_bucket),
                crc64=source.crc64,
                meta=dict(meta),
                headers=dict(headers),
            )
            self._commit(bucket, record)
            return record

    def list_objects(
        self,
        bucket_name: str,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = COS_MAX_KEYS,
        region: str | None = None,
    ) -> ListPage:
        """A page of the bucket, in UTF-8 lexical order after ``marker``.

        ``max_keys`` counts objects and common prefixes together. ``next_marker`` is set whenever
        the page is truncated (COS does so even without a delimiter).
        """
        with self._lock:
            bucket = self.bucket(bucket_name, region)
            items, truncated = page(walk(bucket.keys, prefix, delimiter, marker), max_keys)
            return ListPage(
                items=[bucket.objects[name] for name, common in items if not common],
                prefixes=[name for name, common in items if common],
                truncated=truncated,
                next_marker=items[-1][0] if truncated and items else None,
            )

    # -- multipart uploads ----------------------------------------------------------------------
    def initiate_upload(
        self,
        bucket_name: str,
        key: str,
        *,
        content_type: str,
        meta: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        region: str | None = None,
    ) -> UploadRecord:
        with self._lock:
            bucket = self.bucket(bucket_name, region)
            now = time.time()
            # Time-ordered ids, so that the SDK's "last upload of this key" is the newest.
            upload_id = f"{time.time_ns():020d}{secrets.token_hex(16)}"
            upload = UploadRecord(
                upload_id=upload_id,
                key=key,
                initiated=now,
                content_type=content_type,
                meta=dict(meta or {}),
                headers=dict(headers or {}),
            )
            self.storage.save_upload(bucket_name, upload_id, upload.to_dict())
            bucket.uploads[upload_id] = upload
            return upload

    def upload(
        self, bucket_name: str, key: str, upload_id: str, region: str | None = None
    ) -> UploadRecord:
        """:raises NoSuchUpload: unknown id, or an id of another key."""
        with self._lock:
            upload = self.bucket(bucket_name, region).uploads.get(upload_id)
            if upload is None or upload.key != key:
                raise NoSuchUpload()
            return upload

    @staticmethod
    def part_number(value: str) -> int:
        """:raises InvalidArgument: unless 1 <= value <= COS_MAX_PARTS (10,000)."""
        try:
            number = int(value)
        except ValueError as err:
            raise InvalidArgument("partNumber must be an integer.") from err
        if not 1 <= number <= COS_MAX_PARTS:
            raise InvalidArgument(f"partNumber must be between 1 and {COS_MAX_PARTS}.")
        return number

    def upload_part(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        number: int,
        staged: Staged,
        region: str | None = None,
    ) -> PartRecord:
        """Store part ``number`` (replacing an earlier upload of the same number)."""
        with self._lock:
            try:
                upload = self.upload(bucket_name, key, upload_id, region)
            except (NoSuchBucket, NoSuchUpload):
                self.storage.discard(staged)
                raise
            part = PartRecord(number, staged.size, staged.md5, time.time())
            self.storage.save_part(bucket_name, upload_id, staged, asdict(part))
            upload.parts[number] = part
            return part

    def abort_upload(
        self, bucket_name: str, key: str, upload_id: str, region: str | None = None
    ) -> None:
        with self._lock:
            self.upload(bucket_name, key, upload_id, region)
            del self._buckets[bucket_name].uploads[upload_id]
            self.storage.remove_upload(bucket_name, upload_id)

    def complete_upload(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        parts: list[tuple[int, str]],
        region: str | None = None,
    ) -> ObjectRecord:
        """Assemble the listed parts into the object ``key``.

        :param parts: ``(part number, ETag)`` in the order the client listed them.
        :raises MalformedXML: no parts.
        :raises InvalidPartOrder: part numbers not strictly ascending.
        :raises InvalidPart: a part was not uploaded, or its ETag differs.
        :raises EntityTooSmall: a part other than the last is under 1 MB.
        """
        if not parts:
            raise MalformedXML("CompleteMultipartUpload needs at least one Part.")
        numbers = [number for number, _ in parts]
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise InvalidPartOrder()
        with self._lock:
            bucket = self.bucket(bucket_name, region)
            upload = self.upload(bucket_name, key, upload_id, region)
            chosen = []
            for number, etag in parts:
                part = upload.parts.get(number)
                if part is None or normalize_etag(etag).lower() != part.md5:
                    raise InvalidPart()
                chosen.append(part)
            if any(part.size < COS_MIN_PART_SIZE for part in chosen[:-1]):
                raise EntityTooSmall()
            # Claim the upload, so that a concurrent Complete or Abort sees NoSuchUpload.
            del bucket.uploads[upload_id]
        paths = [self.storage.part_path(bucket_name, upload_id, p.number) for p in chosen]
        try:
            staged = self.storage.concatenate(paths)
        except BaseException:
            with self._lock:
                bucket.uploads[upload_id] = upload
            raise
        digest = hashlib.md5(b"".join(bytes.fromhex(p.md5) for p in chosen)).hexdigest()
        with self._lock:
            if self._buckets.get(bucket_name) is not bucket:  # the bucket went meanwhile
                self.storage.discard(staged)
                raise NoSuchBucket()
            record = ObjectRecord(
                key=key,
                size=staged.size,
                etag=f'"{digest}-{len(chosen)}"',
                last_modified=time.time(),
                content_type=upload.content_type,
                data=self.storage.adopt(bucket_name, staged),
                crc64=staged.crc64,
                meta=dict(upload.meta),
                headers=dict(upload.headers),
            )
            self._commit(bucket, record)
            self.storage.remove_upload(bucket_name, upload_id)
            return record

    def list_parts(
        self,
        bucket_name: str,
        key: str,
        upload_id: str,
        marker: int = 0,
        max_parts: int = 1000,
        region: str | None = None,
    ) -> tuple[UploadRecord, list[PartRecord], bool]:
        """Parts after part number ``marker``; returns ``(upload, parts, truncated)``."""
        with self._lock:
            upload = self.upload(bucket_name, key, upload_id, region)
            after = [upload.parts[n] for n in sorted(upload.parts) if n > marker]
            return upload, after[:max_parts], len(after) > max_parts

    def list_uploads(
        self,
        bucket_name: str,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
        region: str | None = None,
    ) -> ListPage:
        """Unfinished multipart uploads, ordered by (key, upload id); when truncated,
        ``next_marker`` is the last key and ``items[-1].upload_id`` the next upload-id marker."""
        with self._lock:
            bucket = self.bucket(bucket_name, region)
            ordered = sorted(bucket.uploads.values(), key=lambda u: (u.key, u.upload_id))
        items: list[UploadRecord] = []
        prefixes: list[str] = []
        truncated = False
        for upload in ordered:
            if not upload.key.startswith(prefix):
                continue
            if key_marker and (
                upload.key < key_marker
                or (upload.key == key_marker and upload.upload_id <= upload_id_marker)
            ):
                continue
            common = None
            if delimiter:
                pos = upload.key.find(delimiter, len(prefix))
                if pos >= 0:
                    common = upload.key[: pos + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        continue
            if len(items) + len(prefixes) >= max_uploads:
                truncated = True
                break
            if common is not None:
                prefixes.append(common)
            else:
                items.append(upload)
        next_marker = items[-1].key if truncated and items else None
        return ListPage(items, prefixes, truncated, next_marker)
