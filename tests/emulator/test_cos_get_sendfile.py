"""GET Object sends the body with one ``sendfile`` from the stored file, through the real SDK.

The SDK cannot tell a ``sendfile`` from chunked writes: the bytes on the wire are the same. The
only observable difference is the system call the emulator makes, so these tests spy on
``socket.socket.sendfile`` on the server side (calls on sockets bound to the emulator's port).
The spy records its arguments and then runs the real ``sendfile``, so every byte still travels
through the kernel to the real ``CosS3Client``; nothing is replaced. They also count calls of
the chunked path (``scf_snova_emulator.http.read_range``), which only the ``drop_after`` fault
may use.
"""

from __future__ import annotations

import os
import socket

import pytest
from scf_snova_emulator import http

MiB = 1 << 20
SIZE = 24 * MiB + 12_345  # many 1 MiB chunks, and not a whole number of them


@pytest.fixture
def spy(emulator, monkeypatch):
    """``spy.sendfile``: ``(offset, count, sent)`` of each server-side ``sendfile``;
    ``spy.chunked``: ``(start, length)`` of each chunked body."""

    class Spy:
        sendfile: list[tuple[int, int | None, int]] = []
        chunked: list[tuple[int, int]] = []

    real_sendfile, real_read_range = socket.socket.sendfile, http.read_range

    def sendfile(sock, file, offset=0, count=None):
        sent = real_sendfile(sock, file, offset, count)
        if sock.getsockname()[1] == emulator.port:
            Spy.sendfile.append((offset, count, sent))
        return sent

    def read_range(file, start, length):
        Spy.chunked.append((start, length))
        return real_read_range(file, start, length)

    monkeypatch.setattr(socket.socket, "sendfile", sendfile)
    monkeypatch.setattr(http, "read_range", read_range)
    return Spy


@pytest.fixture
def stored(cos_client, bucket):
    data = os.urandom(SIZE)
    cos_client.put_object(Bucket=bucket, Key="big.bin", Body=data)
    return data


def _read_all(response) -> bytes:
    stream = response["Body"].get_raw_stream()
    body = stream.read()
    stream.release_conn()
    return body


def test_large_get_is_one_sendfile_of_the_whole_file(cos_client, bucket, stored, spy):
    body = _read_all(cos_client.get_object(Bucket=bucket, Key="big.bin"))
    assert body == stored
    assert spy.sendfile == [(0, SIZE, SIZE)]
    assert spy.chunked == []


def test_range_get_is_one_sendfile_from_the_offset(cos_client, bucket, stored, spy):
    start, end = 3 * MiB + 7, 17 * MiB + 100
    response = cos_client.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={start}-{end}")
    assert response["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert _read_all(response) == stored[start : end + 1]
    count = end - start + 1
    assert spy.sendfile == [(start, count, count)]
    # An open-ended range: from the offset to the end.
    response = cos_client.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={end}-")
    assert _read_all(response) == stored[end:]
    assert spy.sendfile[1] == (end, SIZE - end, SIZE - end)
    assert spy.chunked == []


def test_keep_alive_connection_serves_the_next_request_after_a_sendfile(
    cos_client, bucket, stored, spy
):
    # The body must end exactly at Content-Length: the next request on the pooled connection
    # parses, and sees its own answer.
    for _ in range(3):
        assert _read_all(cos_client.get_object(Bucket=bucket, Key="big.bin")) == stored
        assert cos_client.head_object(Bucket=bucket, Key="big.bin")["Content-Length"] == str(SIZE)
    assert [count for _, count, _ in spy.sendfile] == [SIZE] * 3


def test_dropped_connection_still_cuts_the_body(emulator, cos_client, bucket, stored, spy):
    emulator.faults.drop_connections(1, after_bytes=3 * MiB + 5)
    stream = cos_client.get_object(Bucket=bucket, Key="big.bin")["Body"].get_raw_stream()
    received = bytearray()
    with pytest.raises(Exception, match="IncompleteRead"):
        while chunk := stream.read(MiB):
            received += chunk
    assert bytes(received) == stored[: 3 * MiB + 5]
    assert spy.sendfile == []
    assert spy.chunked == [(0, SIZE)]
    # The fault is spent: the next GET is whole, and sent by sendfile again.
    assert _read_all(cos_client.get_object(Bucket=bucket, Key="big.bin")) == stored
    assert spy.sendfile == [(0, SIZE, SIZE)]
