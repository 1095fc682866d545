"""One HTTP request and its response, as the emulated services see them.

The services never touch sockets directly: they read the request through an :class:`Exchange`
(headers, query, a streamed body) and answer through :meth:`Exchange.respond`, which always sends
``Content-Length`` so that HTTP/1.1 keep-alive (used by both Tencent SDKs) stays in sync.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import BinaryIO
from urllib.parse import parse_qsl, unquote

CHUNK = 1 << 20


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
        data = self._rfile.read(min(len(buffer), self._left))
        if not data:
            self._done = True
            return 0
        n = len(data)
        buffer[:n] = data
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
    def body_chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Stream the request body; it never sits in memory as a whole."""
        self._body_read = True
        if self._remaining is None:
            while True:
                data = self._body.read(chunk_size)
                if not data:
                    return
                yield data
        while self._remaining > 0:
            data = self._body.read(min(chunk_size, self._remaining))
            if not data:
                raise ConnectionError("client closed the connection mid-body")
            self._remaining -= len(data)
            yield data

    def read_body(self) -> bytes:
        """The whole request body (for small API payloads only)."""
        return b"".join(self.body_chunks())

    def drain(self) -> None:
        """Discard any unread body so that the next request on this connection parses."""
        if not self._body_read or self._remaining:
            for _ in self.body_chunks():
                pass

    # -- response -----------------------------------------------------------------------------
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
        if self.responded:
            raise RuntimeError("response already sent")
        self.responded = True
        self.drain()
        handler = self._handler
        if isinstance(body, bytes | bytearray):
            content_length = len(body)
            chunks: Iterable[bytes] = [bytes(body)] if body else []
        elif hasattr(body, "read"):
            chunks = iter(lambda: body.read(CHUNK), b"")  # type: ignore[union-attr]
        else:
            chunks = body  # type: ignore[assignment]
        if content_length is None:
            raise ValueError("content_length is required for a streamed body")
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        if self.method == "HEAD":
            return
        if drop_after is None:
            for chunk in chunks:
                handler.wfile.write(chunk)
            return
        sent = 0
        for chunk in chunks:
            room = drop_after - sent
            if room <= 0:
                break
            handler.wfile.write(chunk[:room])
            sent += min(room, len(chunk))
        handler.wfile.flush()
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
