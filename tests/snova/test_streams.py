"""The streaming helpers between COS and COPY: bounded pipe with failure propagation, gzip."""

from __future__ import annotations

import gzip
import io
import threading

import pytest

from airflow_scf_snova.snova.streams import (
    PipeClosedError,
    RecordingReader,
    StreamPipe,
    decompressing_reader,
)


def test_reads_return_exactly_the_requested_size_until_the_end():
    pipe = StreamPipe()
    for chunk in (b"abc", b"defgh", b"ij"):
        pipe.write(chunk)
    pipe.close()
    assert [pipe.read(4), pipe.read(4), pipe.read(4), pipe.read(4)] == [
        b"abcd",
        b"efgh",
        b"ij",
        b"",
    ]


def test_the_writer_blocks_while_the_pipe_is_full():
    pipe = StreamPipe(max_bytes=8)
    pipe.write(b"12345678")
    started, finished = threading.Event(), threading.Event()

    def writer():
        started.set()
        pipe.write(b"9")
        finished.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(5)
    assert not finished.wait(0.2)  # still blocked: the pipe holds max_bytes
    assert pipe.read(4) == b"1234"
    assert finished.wait(5)
    thread.join(5)
    pipe.close()
    assert pipe.read() == b"56789"


def test_a_failed_writer_makes_the_reader_raise_instead_of_ending():
    pipe = StreamPipe()
    pipe.write(b"partial")
    pipe.abort(RuntimeError("query failed"))
    with pytest.raises(OSError, match="query failed"):
        pipe.read(100)


def test_a_failed_reader_unblocks_and_fails_the_writer():
    pipe = StreamPipe(max_bytes=4)
    pipe.write(b"1234")
    outcome = {}

    def writer():
        try:
            pipe.write(b"5")
        except PipeClosedError as err:
            outcome["error"] = err

    thread = threading.Thread(target=writer)
    thread.start()
    pipe.reader_abort(RuntimeError("upload denied"))
    thread.join(5)
    assert "upload denied" in str(outcome["error"]) and pipe.reader_failed


def test_gzip_reader_streams_multi_member_files():
    data = gzip.compress(b"a,1\n" * 1000) + gzip.compress(b"b,2\n")
    reader = decompressing_reader(io.BytesIO(data), "gzip")
    out = b"".join(iter(lambda: reader.read(100), b""))
    assert out == b"a,1\n" * 1000 + b"b,2\n"
    assert decompressing_reader(io.BytesIO(b"x"), None).read() == b"x"


def test_recording_reader_keeps_the_original_error():
    class Broken:
        def read(self, size):
            raise ConnectionResetError("peer reset")

    reader = RecordingReader(Broken())
    with pytest.raises(ConnectionResetError):
        reader.read(10)
    assert isinstance(reader.error, ConnectionResetError)
