"""Moving object bytes: the download stream and the multipart upload :class:`COSHook` drives.

- :class:`ObjectStream` reads a GET response straight from its socket, so a download of any size
  runs in constant memory (the SDK's own ``Body.read()`` hands out 1 KB at a time);
- :class:`MultipartUpload` is one multipart upload in progress (parts may be sent from several
  threads); the hook completes it, or aborts it when anything fails, so no partial object ever
  appears.

The part rules come from :mod:`scf_snova_core.limits` (the COS multipart rules).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, BinaryIO

from scf_snova_core.limits import COS_MAX_PART_SIZE, COS_MAX_PARTS, COS_MIN_PART_SIZE
from scf_snova_core.objects import normalize_etag

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    TencentCloudError,
    TencentCloudNetworkError,
)

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.cos import COSHook


class MultipartUpload:
    """One multipart upload in progress (parts may be sent from several threads).

    :param hook: the hook whose client and error translation the calls use.
    :param full: the full bucket name.
    :param key: the object key.
    :param upload_id: the ``UploadId`` COS gave the upload.
    """

    def __init__(self, hook: COSHook, full: str, key: str, upload_id: str) -> None:
        self.hook = hook
        self.full = full
        self.key = key
        self.upload_id = upload_id
        self.parts: dict[int, str] = {}
        self.etag = ""

    def part(self, number: int, data: bytes) -> None:
        with self.hook._translate(f"upload part {number}", self.full, self.key):
            headers = self.hook.conn.upload_part(
                Bucket=self.full,
                Key=self.key,
                Body=data,
                PartNumber=number,
                UploadId=self.upload_id,
            )
        self.parts[number] = headers["ETag"]

    def send_file(self, source: str, size: int, part_size: int, max_concurrency: int) -> None:
        """Upload a local file of ``size`` bytes in parts of ``part_size``, ``max_concurrency``
        parts in flight at once. Parts are read inside the workers, so at most that many parts
        are in memory."""
        count = -(-size // part_size)

        def send_part(number: int) -> None:
            with open(source, "rb") as handle:
                handle.seek((number - 1) * part_size)
                self.part(number, handle.read(part_size))

        pool = ThreadPoolExecutor(max_workers=max(1, max_concurrency))
        try:
            futures = [pool.submit(send_part, number) for number in range(1, count + 1)]
            for future in futures:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def send_stream(self, first: bytes, stream: BinaryIO, part_size: int) -> None:
        """Upload ``first``, then the rest of ``stream``, one part of ``part_size`` bytes at a
        time (one part in memory).

        :raises InvalidInputError: the stream needs more than 10,000 parts.
        """
        number, chunk = 1, first
        while chunk:
            if number > COS_MAX_PARTS:
                raise InvalidInputError(
                    f"stream for {self.full}/{self.key} exceeds {COS_MAX_PARTS} parts of "
                    f"{part_size} bytes"
                )
            self.part(number, chunk)
            chunk = read_exactly(stream, part_size)
            number += 1

    def complete(self) -> None:
        parts = [{"PartNumber": n, "ETag": self.parts[n]} for n in sorted(self.parts)]
        with self.hook._translate("complete multipart upload", self.full, self.key):
            result = self.hook.conn.complete_multipart_upload(
                Bucket=self.full,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Part": parts},
            )
        self.etag = normalize_etag(result.get("ETag"))

    def abort(self) -> None:
        try:
            with self.hook._translate("abort multipart upload", self.full, self.key):
                self.hook.conn.abort_multipart_upload(
                    Bucket=self.full, Key=self.key, UploadId=self.upload_id
                )
        except TencentCloudError:
            self.hook.log.warning(
                "Could not abort multipart upload %s of %s/%s", self.upload_id, self.full, self.key
            )


class ObjectStream(io.RawIOBase):
    """A raw binary stream over the urllib3 response of a GET (no 1 KB chunking, no buffering
    beyond the socket's). Wrapped in :class:`io.BufferedReader` by :meth:`COSHook.open_object`.

    :param raw: the urllib3 response.
    :param where: ``bucket/key``, for error messages.
    :param scrub: removes secrets from an error message.
    """

    def __init__(self, raw: Any, where: str, scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._raw = raw
        self._where = where
        self._scrub = scrub

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed COS object stream")
        view = memoryview(buffer).cast("B")
        try:
            data = self._raw.read(len(view))
        except Exception as err:  # urllib3 ProtocolError/IncompleteRead, socket errors
            raise TencentCloudNetworkError(
                "ClientError", self._scrub(f"reading {self._where} failed: {err}")
            ) from err
        count = len(data)
        view[:count] = data
        return count

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                release = getattr(self._raw, "release_conn", None)
                if release is not None:
                    release()
        super().close()


def check_part_size(part_size: int) -> int:
    """``part_size`` if COS accepts parts of that many bytes (1 MiB to 5 GiB).

    :raises InvalidInputError: outside those bounds.
    """
    if not COS_MIN_PART_SIZE <= part_size <= COS_MAX_PART_SIZE:
        raise InvalidInputError(
            f"part size must be between {COS_MIN_PART_SIZE} and {COS_MAX_PART_SIZE} bytes, "
            f"got {part_size}"
        )
    return part_size


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of the stream (``read`` may return short)."""
    chunks: list[bytes] = []
    missing = size
    while missing > 0:
        chunk = stream.read(missing)
        if not chunk:
            break
        if isinstance(chunk, str):
            raise InvalidInputError("upload_fileobj needs a binary stream, got text")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """``items`` in lists of ``size`` (the last one shorter), consumed lazily."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
