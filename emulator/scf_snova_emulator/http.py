"""One HTTP request and its response, as the emulated services see them.

The services never touch sockets directly: they read the request through an :class:`Exchange`
(headers, query, a streamed body) and answer through :meth:`Exchange.respond` (or
:meth:`Exchange.respond_file` for a byte range of a file), which always send ``Content-Length`` so
that HTTP/1.1 keep-alive (used by both Tencent SDKs) stays in sync.

Bodies move without per-byte Python work: a request body is read into two reused buffers, a file
body is sent by the kernel (``sendfile``) straight from the page cache to the socket.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import BinaryIO
from urllib.parse import parse_qsl, unquote

CHUNK = 1 << 20


def read_range(file: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    """Yield ``length`` bytes of ``file`` from ``start``, a chunk at a time (fewer when the file
    ends first)."""
    file.seek(start)
    left = length
    while left > 0:
        chunk = file.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


class _ChunkedReader(io.RawIOBase):
    """Decode a ``Transfer-Encoding: chunked`` request body."""

    def __init__(self, rfile: BinaryIO) -> None:
        self._rfile = rfile
        self._left = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._done:
            return 0
        if self._left == 0:
            line = self._rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                self._done = True
                return 0
            self._left = size
        n = self._rfile.readinto(memoryview(buffer)[: min(len(buffer), self._left)])
        if not n:
            self._done = True
            return 0
        self._left -= n
        if self._left == 0:
            self._rfile.readline(3)
        return n


def _origin_form(target: str) -> str:
    """The path and query of a request target: an absolute-form target
    (``http://host/path?query``, what a client sends to a proxy) loses its scheme and authority,
    as RFC 7230 section 5.3.2 asks servers to accept; the Host header still routes it."""
    for scheme in ("http://", "https://"):
        if target[: len(scheme)].lower() == scheme:
            rest = target[len(scheme) :]
            slash = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=-1)
            if slash < 0:
                return "/"
            return rest[slash:] if rest[slash] == "/" else "/" + rest[slash:]
    return target


class Exchange:
    """A request received by the emulator, with the means to answer it exactly once.

    :ivar method: ``GET``, ``PUT``, ...
    :ivar raw_path: the path exactly as sent (still percent-encoded), without the query.
    :ivar path: ``raw_path`` percent-decoded (UTF-8).
    :ivar raw_query: the query string exactly as sent.
    :ivar query: decoded query parameters; a parameter sent without a value maps to ``""``.
    :ivar headers: the request headers (case-insensitive ``get``).
    :ivar host: the Host header.
    :ivar client_ip: the peer address.
    """

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler
        self.method: str = handler.command
        self.raw_path, _, self.raw_query = _origin_form(handler.path).partition("?")
        self.path: str = unquote(self.raw_path)
        self.query: dict[str, str] = dict(parse_qsl(self.raw_query, keep_blank_values=True))
        self.headers = handler.headers
        self.host: str = handler.headers.get("Host", "")
        self.client_ip: str = handler.client_address[0]
        self.responded = False
        self._body_read = False
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._body: BinaryIO = io.BufferedReader(_ChunkedReader(handler.rfile))
            self._remaining: int | None = None
        else:
            self._body = handler.rfile
            self._remaining = int(handler.headers.get("Content-Length") or 0)

    # -- request body -------------------------------------------------------------------------
    def body_chunks(self, chunk_size: int = CHUNK) -> Iterator[memoryview]:
        """Stream the request body; it never sits in memory as a whole.

        The chunks are views of two buffers used in turn: a chunk stays unchanged until the chunk
        after the next one is asked for. Copy (``bytes(chunk)``) what must be kept longer.
        """
        self._body_read = True
        if self._remaining == 0:  # most requests: no buffer to allocate
            return
        size = min(chunk_size, self._remaining or chunk_size)
        views: list[memoryview] = []
        turn = 0
        while self._remaining is None or self._remaining > 0:
            if len(views) <= turn:  # the second buffer only for a body of more than one chunk
                views.append(memoryview(bytearray(size)))
            view, turn = views[turn], 1 - turn
            if self._remaining is None:
                n = self._body.readinto(view)
                if not n:
                    return
            else:
                n = self._body.readinto(view[: min(size, self._remaining)])
                if not n:
                    raise ConnectionError("client closed the connection mid-body")
                self._remaining -= n
            yield view[:n]

    def read_body(self) -> bytes:
        """The whole request body (for small API payloads only)."""
        return b"".join(bytes(chunk) for chunk in self.body_chunks())

    def drain(self) -> None:
        """Discard any unread body so that the next request on this connection parses."""
        if not self._body_read or self._remaining:
            for _ in self.body_chunks():
                pass

    # -- response -----------------------------------------------------------------------------
    def _send_head(self, status: int, headers: dict[str, str] | None, content_length: int) -> bool:
        """Send the status line and headers; ``False`` when no body may follow (HEAD)."""
        if self.responded:
            raise RuntimeError("response already sent")
        self.responded = True
        self.drain()
        handler = self._handler
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        return self.method != "HEAD"

    def _cut(self) -> None:
        """Close the connection now (the client sees fewer body bytes than announced)."""
        handler = self._handler
        handler.wfile.flush()
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def respond(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: bytes | Iterable[bytes] | BinaryIO = b"",
        content_length: int | None = None,
        drop_after: int | None = None,
    ) -> None:
        """Send the status, the headers and the body.

        :param status: the HTTP status code.
        :param headers: response headers, sent with the casing given.
        :param body: bytes, an iterable of byte chunks, or a binary file to stream.
        :param content_length: required when ``body`` is not ``bytes``.
        :param drop_after: fault injection: announce the full length, send only this many body
            bytes, then cut the TCP connection (a connection dropped mid-body).
        """
        if isinstance(body, bytes | bytearray):
            content_length = len(body)
            chunks: Iterable[bytes] = [bytes(body)] if body else []
        elif hasattr(body, "read"):
            chunks = iter(lambda: body.read(CHUNK), b"")  # type: ignore[union-attr]
        else:
            chunks = body  # type: ignore[assignment]
        if content_length is None:
            raise ValueError("content_length is required for a streamed body")
        if not self._send_head(status, headers, content_length):
            return
        wfile = self._handler.wfile
        if drop_after is None:
            for chunk in chunks:
                wfile.write(chunk)
            return
        sent = 0
        for chunk in chunks:
            room = drop_after - sent
            if room <= 0:
                break
            wfile.write(chunk[:room])
            sent += min(room, len(chunk))
        self._cut()

    def respond_file(
        self,
        status: int,
        headers: dict[str, str] | None,
        file: BinaryIO,
        offset: int,
        length: int,
        drop_after: int | None = None,
    ) -> None:
        """Send the status, the headers and ``length`` bytes of ``file`` from ``offset``.

        The body goes out with one ``socket.sendfile`` (``os.sendfile``: the kernel copies from
        the page cache to the socket, the GIL is released), so serving a large object costs no
        Python work per chunk. The response headers are already on the wire by then: the
        handler's ``wfile`` is unbuffered and ``end_headers`` flushed them.

        :param status: the HTTP status code.
        :param headers: response headers, sent with the casing given.
        :param file: a binary file with a real descriptor.
        :param offset: where the body starts in ``file``.
        :param length: the body's length (the ``Content-Length``).
        :param drop_after: fault injection, as for :meth:`respond`: the body is then streamed in
            chunks and the connection cut after this many bytes.
        """
        if drop_after is not None:
            self.respond(status, headers, read_range(file, offset, length), length, drop_after)
            return
        if not self._send_head(status, headers, length):
            return
        sent = self._handler.connection.sendfile(file, offset, length) if length else 0
        if sent < length:  # the file ended early: never leave the client waiting for the rest
            self._cut()
