"""COS layer ``storage``: bytes and metadata on disk, so that buckets and objects survive a restart
of the emulator.

Layout under ``root``::

    tmp/<uuid>                                  bodies being received (then renamed: atomic)
    buckets/<bucket>/bucket.json                the bucket's own record
    buckets/<bucket>/meta/<sha256(key)>.json    one JSON sidecar per object (holds the key)
    buckets/<bucket>/data/<uuid>                object bodies, immutable once written
    buckets/<bucket>/uploads/<upload id>/upload.json, <n>.json, <n>.part   multipart uploads

Bodies are never held in memory: they are streamed in chunks to a temporary file while their MD5
and CRC64-ECMA are computed, then renamed into place. An object's data file is never rewritten:
an overwrite writes a new file, atomically replaces the sidecar, then removes the old file, so a
reader that already opened the old file keeps reading consistent bytes. Copies are hard links.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .exceptions import BadDigest, InvalidDigest

try:  # crcmod ships with cos-python-sdk-v5 (it checks downloads with it); C-accelerated.
    import crcmod

    _crcmod64: Callable[[Any, int], int] | None = crcmod.mkCrcFun(
        0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True
    )
except ImportError:  # pragma: no cover - the SDK always brings it
    _crcmod64 = None

try:  # The same CRC-64 ("xz" is ECMA-182 reflected, as COS's), ~100x faster, GIL released.
    from fastcrc import crc64 as _fastcrc

    _crc64: Callable[[Any, int], int] | None = _fastcrc.xz
except ImportError:  # pragma: no cover - an emulator dependency; crcmod computes the same value
    _crc64 = _crcmod64

log = logging.getLogger(__name__)

CHUNK = 1 << 20
PIPELINE_MIN = 256 * 1024
#: Hash-and-write workers shared by all requests; each request has at most one chunk in flight.
_WORKERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cos-receive")


class Digests:
    """MD5 and CRC64-ECMA (what COS sends as ``x-cos-hash-crc64ecma``), updated chunk by chunk."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self._crc = 0
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._md5.update(chunk)
        if _crc64 is not None:
            self._crc = _crc64(chunk, self._crc)
        self.size += len(chunk)

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    @property
    def md5_digest(self) -> bytes:
        return self._md5.digest()

    @property
    def crc64(self) -> str | None:
        return str(self._crc) if _crc64 is not None else None


@dataclass
class Staged:
    """A body fully received into ``path`` (not yet part of any bucket)."""

    path: Path
    size: int
    md5: str
    crc64: str | None


def check_content_md5(header: str | None, md5_digest: bytes) -> None:
    """Compare a ``Content-MD5`` header (base64 of the binary MD5) with what was received.

    :raises InvalidDigest: the header is not base64 of 16 bytes.
    :raises BadDigest: it does not match.
    """
    if header is None:
        return
    try:
        sent = base64.b64decode(header.strip(), validate=True)
    except ValueError as err:
        raise InvalidDigest() from err
    if len(sent) != 16:
        raise InvalidDigest()
    if sent != md5_digest:
        raise BadDigest()


def _pipeline(chunks: Iterable[bytes | memoryview], consume: Callable[[Any], Any]) -> None:
    """``consume(chunk)`` for every chunk, in order; a chunk of at least ``PIPELINE_MIN`` bytes
    on a worker thread while the next chunk is produced (one chunk in flight at a time)."""
    pending: Future | None = None
    try:
        for chunk in chunks:
            if pending is not None:
                pending.result()
                pending = None
            if len(chunk) >= PIPELINE_MIN:
                pending = _WORKERS.submit(consume, chunk)
            else:  # small bodies: a thread hand-off would cost more than it saves
                consume(chunk)
    finally:
        if pending is not None:  # never leave a worker writing to a file being closed
            wait([pending])
    if pending is not None:
        pending.result()


def _key_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class CosStorage:
    """Everything the COS emulator keeps on disk.

    :param root: the directory; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._buckets = self.root / "buckets"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._buckets.mkdir(parents=True, exist_ok=True)

    # -- paths ----------------------------------------------------------------------------------
    def _bucket_dir(self, bucket: str) -> Path:
        return self._buckets / bucket

    def _upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self._bucket_dir(bucket) / "uploads" / upload_id

    def _meta_path(self, bucket: str, key: str) -> Path:
        return self._bucket_dir(bucket) / "meta" / f"{_key_id(key)}.json"

    def data_path(self, bucket: str, data: str) -> Path:
        return self._bucket_dir(bucket) / "data" / data

    def part_path(self, bucket: str, upload_id: str, number: int) -> Path:
        return self._upload_dir(bucket, upload_id) / f"{number}.part"

    # -- JSON ----------------------------------------------------------------------------------
    def _write_json(self, path: Path, value: dict[str, Any]) -> None:
        tmp = self._tmp / f"{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    @staticmethod
    def _read_json(path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("COS emulator: ignoring unreadable %s", path)
            return None

    # -- bodies ---------------------------------------------------------------------------------
    def receive(
        self, chunks: Iterable[bytes | memoryview], content_md5: str | None = None
    ) -> Staged:
        """Stream ``chunks`` into a temporary file, hashing as they arrive.

        A large chunk is hashed and written on a worker thread while the next one is received
        (MD5, the CRC and the write release the GIL), so a PUT costs about its hashing alone.

        :param chunks: the body, e.g. ``Exchange.body_chunks()``. A chunk must stay unchanged
            until the chunk after the next one is asked for (two alternating buffers do).
        :param content_md5: the request's ``Content-MD5`` header, checked when given.
        :raises BadDigest: or InvalidDigest, when ``content_md5`` does not match; nothing is kept.
        """
        path = self._tmp / uuid.uuid4().hex
        digests = Digests()
        try:
            with open(path, "wb") as out:
                _pipeline(chunks, lambda chunk: (digests.update(chunk), out.write(chunk)))
            check_content_md5(content_md5, digests.md5_digest)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, digests.size, digests.md5, digests.crc64)

    def concatenate(self, paths: Iterable[Path]) -> Staged:
        """Join multipart parts into one temporary file, streaming."""
        out_path = self._tmp / uuid.uuid4().hex
        digests = Digests()
        try:
            with open(out_path, "wb") as out:
                for path in paths:
                    with open(path, "rb") as part:
                        for chunk in iter(lambda p=part: p.read(CHUNK), b""):
                            digests.update(chunk)
                            out.write(chunk)
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise
        return Staged(out_path, digests.size, digests.md5, digests.crc64)

    def discard(self, staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def adopt(self, bucket: str, staged: Staged) -> str:
        """Move a staged body into ``bucket``; returns its data file name."""
        data = uuid.uuid4().hex
        os.replace(staged.path, self.data_path(bucket, data))
        return data

    def link(self, src_bucket: str, src_data: str, dst_bucket: str) -> str:
        """Give ``dst_bucket`` its own name for an existing (immutable) body: a hard link, or a
        streamed copy where links are not possible."""
        data = uuid.uuid4().hex
        src, dst = self.data_path(src_bucket, src_data), self.data_path(dst_bucket, data)
        try:
            os.link(src, dst)
        except OSError:
            tmp = self._tmp / data
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        return data

    def open(self, bucket: str, data: str) -> BinaryIO:
        return open(self.data_path(bucket, data), "rb")

    def remove_data(self, bucket: str, data: str) -> None:
        self.data_path(bucket, data).unlink(missing_ok=True)

    # -- records --------------------------------------------------------------------------------
    def save_bucket(self, bucket: str, record: dict[str, Any]) -> None:
        base = self._bucket_dir(bucket)
        for sub in ("meta", "data", "uploads"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        self._write_json(base / "bucket.json", record)

    def remove_bucket(self, bucket: str) -> None:
        # Rename first so that a crash half-way never leaves a half-deleted bucket that loads.
        base = self._bucket_dir(bucket)
        trash = self._tmp / f"deleted-{uuid.uuid4().hex}"
        try:
            os.replace(base, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def save_object(self, bucket: str, key: str, record: dict[str, Any]) -> None:
        self._write_json(self._meta_path(bucket, key), record)

    def remove_object(self, bucket: str, key: str) -> None:
        self._meta_path(bucket, key).unlink(missing_ok=True)

    def save_upload(self, bucket: str, upload_id: str, record: dict[str, Any]) -> None:
        directory = self._upload_dir(bucket, upload_id)
        directory.mkdir(parents=True, exist_ok=True)
        self._write_json(directory / "upload.json", record)

    def save_part(
        self, bucket: str, upload_id: str, staged: Staged, record: dict[str, Any]
    ) -> None:
        """Move a staged body in as part ``record["number"]``, replacing an earlier upload of it."""
        number = int(record["number"])
        os.replace(staged.path, self.part_path(bucket, upload_id, number))
        self._write_json(self._upload_dir(bucket, upload_id) / f"{number}.json", record)

    def remove_upload(self, bucket: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(bucket, upload_id), ignore_errors=True)

    # -- startup / reset ------------------------------------------------------------------------
    def load(self) -> list[dict[str, Any]]:
        """Everything on disk, for the models to rebuild their state after a restart.

        Returns one dict per bucket: ``{"bucket": {...}, "objects": [...], "uploads": [{"upload":
        {...}, "parts": [...]}]}``. Leftover temporary files and data files that no sidecar
        references (a crash between writing and committing) are removed.
        """
        for leftover in self._tmp.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        result = []
        for base in sorted(p for p in self._buckets.iterdir() if p.is_dir()):
            bucket = self._read_json(base / "bucket.json")
            if bucket is None:
                continue
            objects = [
                record
                for record in map(self._read_json, sorted((base / "meta").glob("*.json")))
                if record is not None
            ]
            referenced = {record["data"] for record in objects}
            for data in (base / "data").iterdir():
                if data.name not in referenced:
                    data.unlink(missing_ok=True)
            uploads = []
            for directory in sorted(p for p in (base / "uploads").iterdir() if p.is_dir()):
                upload = self._read_json(directory / "upload.json")
                if upload is None:
                    continue
                parts = [
                    part
                    for path in directory.glob("*.json")
                    if path.name != "upload.json"
                    for part in [self._read_json(path)]
                    if part is not None and (directory / f"{part['number']}.part").exists()
                ]
                uploads.append({"upload": upload, "parts": parts})
            result.append({"bucket": bucket, "objects": objects, "uploads": uploads})
        return result

    def wipe(self) -> None:
        """Remove every bucket, object and upload."""
        for base in list(self._buckets.iterdir()):
            self.remove_bucket(base.name)
