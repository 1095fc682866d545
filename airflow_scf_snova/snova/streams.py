"""Constant-memory byte streams between COS and ``COPY``.

- :func:`decompressing_reader`: what ``COPY ... FROM STDIN`` reads: the COS object stream,
  gunzipped on the fly when asked (multi-member gzip included);
- :class:`StreamPipe`: a bounded in-memory pipe from ``COPY ... TO STDOUT`` (the writer, on one
  thread) to a multipart upload (the reader, on another). A failure on either side reaches the
  other: a writer that fails calls :meth:`StreamPipe.abort`, and the reader's ``read`` raises
  instead of reporting end-of-stream, so an upload never completes with truncated data.
"""

from __future__ import annotations

import gzip
import threading
from collections import deque
from typing import BinaryIO

from airflow_scf_snova.exceptions import InvalidInputError

#: Bytes the pipe may hold before the writer blocks.
DEFAULT_PIPE_BYTES = 4 * 1024 * 1024


def decompressing_reader(stream: BinaryIO, compression: str | None) -> BinaryIO:
    """``stream`` itself, or a gunzipping reader over it (``read(n)`` pulls compressed bytes
    from ``stream`` only as needed, so memory stays constant).

    :param stream: a readable binary stream.
    :param compression: ``None`` or ``gzip``.
    """
    if compression is None:
        return stream
    if compression == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    raise InvalidInputError(f"unsupported compression {compression!r}")


class PipeClosedError(OSError):
    """Raised to the writer when the reader has gone away (its upload failed)."""


class StreamPipe:
    """A bounded, thread-safe byte pipe with failure propagation in both directions.

    :param max_bytes: bytes held before :meth:`write` blocks (a single larger write is accepted
        whole, so the bound is ``max_bytes`` plus one write).
    """

    def __init__(self, max_bytes: int = DEFAULT_PIPE_BYTES) -> None:
        self._max = max_bytes
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._eof = False
        self._writer_error: BaseException | None = None
        self._reader_error: BaseException | None = None
        self._cond = threading.Condition()
        self.bytes_written = 0

    # -- writer side --------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        """Append ``data``; blocks while the pipe is full.

        :raises PipeClosedError: the reader aborted.
        """
        if not data:
            return 0
        data = bytes(data)
        with self._cond:
            while self._size >= self._max and self._reader_error is None:
                self._cond.wait()
            if self._reader_error is not None:
                raise PipeClosedError(f"the reader failed: {self._reader_error}")
            if self._eof:
                raise ValueError("write to a closed pipe")
            self._chunks.append(data)
            self._size += len(data)
            self.bytes_written += len(data)
            self._cond.notify_all()
        return len(data)

    def flush(self) -> None:
        """Nothing to flush (``gzip.GzipFile`` calls it)."""

    def close(self) -> None:
        """End of data: the reader sees end-of-stream once it has drained the pipe."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self, error: BaseException) -> None:
        """The writer failed: the reader's next ``read`` raises ``error`` (wrapped)."""
        with self._cond:
            self._writer_error = error
            self._eof = True
            self._chunks.clear()
            self._size = 0
            self._cond.notify_all()

    # -- reader side --------------------------------------------------------------------------
    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all remaining when negative), fewer only at end-of-stream.

        :raises OSError: the writer aborted; the data so far is incomplete.
        """
        out: list[bytes] = []
        wanted = size if size is not None and size >= 0 else None
        got = 0
        with self._cond:
            while wanted is None or got < wanted:
                while not self._chunks and not self._eof:
                    self._cond.wait()
                if self._writer_error is not None:
                    raise OSError(f"the data source failed: {self._writer_error}")
                if not self._chunks:
                    break  # end of stream
                chunk = self._chunks.popleft()
                if wanted is not None and got + len(chunk) > wanted:
                    keep = wanted - got
                    self._chunks.appendleft(chunk[keep:])
                    chunk = chunk[:keep]
                self._size -= len(chunk)
                out.append(chunk)
                got += len(chunk)
                self._cond.notify_all()
        return b"".join(out)

    @property
    def reader_failed(self) -> bool:
        """Whether :meth:`reader_abort` was called."""
        return self._reader_error is not None

    def reader_abort(self, error: BaseException) -> None:
        """The reader failed: the writer's next (or blocked) ``write`` raises."""
        with self._cond:
            self._reader_error = error
            self._chunks.clear()
            self._size = 0
            self._cond.notify_all()


class RecordingReader:
    """Wraps a reader and keeps the exception its ``read`` raised.

    psycopg2's ``copy_expert`` turns an exception from ``read`` into a server-side
    ``QueryCanceled: error in .read() call``; this keeps the original for the error report.

    :param stream: the wrapped reader.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.error: BaseException | None = None
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
        except BaseException as err:
            self.error = err
            raise
        self.bytes_read += len(data)
        return data
