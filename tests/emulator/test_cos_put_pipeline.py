"""PUT Object hashes and writes each large chunk on a worker thread while the next one is
received, through the real SDK, and the stored bytes, ETag and CRC64 stay exact.

Which thread hashes a chunk cannot be seen on the wire, so the first two tests wrap
``Digests.update`` to record the thread that calls it (then run the real update): a spy, not a
replacement.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading

import crcmod
import pytest
from scf_snova_emulator.cos import storage

MiB = 1 << 20
SDK_CRC64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


@pytest.fixture
def hashed_on(monkeypatch):
    """``(thread name, chunk length)`` of every ``Digests.update`` call."""
    calls: list[tuple[str, int]] = []
    real = storage.Digests.update

    def update(self, chunk):
        calls.append((threading.current_thread().name, len(chunk)))
        real(self, chunk)

    monkeypatch.setattr(storage.Digests, "update", update)
    return calls


def _check_stored(cos_client, bucket, key, put, data):
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert put["x-cos-hash-crc64ecma"] == str(SDK_CRC64(data, 0))
    stream = cos_client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream()
    assert stream.read() == data
    stream.release_conn()


def test_large_put_hashes_its_chunks_on_a_worker(cos_client, bucket, hashed_on):
    data = os.urandom(5 * MiB + 123)
    put = cos_client.put_object(Bucket=bucket, Key="large.bin", Body=data)
    _check_stored(cos_client, bucket, "large.bin", put, data)
    assert [length for _, length in hashed_on] == [MiB] * 5 + [123]
    assert all(name.startswith("cos-receive") for name, _ in hashed_on[:5])
    # The short tail is not worth a hand-off: the handler thread hashes it.
    assert not hashed_on[5][0].startswith("cos-receive")


def test_small_put_is_hashed_by_the_handler_thread(cos_client, bucket, hashed_on):
    data = os.urandom(10_000)
    put = cos_client.put_object(Bucket=bucket, Key="small.bin", Body=data)
    _check_stored(cos_client, bucket, "small.bin", put, data)
    assert len(hashed_on) == 1 and not hashed_on[0][0].startswith("cos-receive")


def test_chunked_put_of_many_buffers_stays_exact(cos_client, bucket):
    # Transfer-Encoding: chunked, in pieces that straddle the 1 MiB buffers: a buffer reused
    # while a worker still hashed it would corrupt the ETag or the stored bytes.
    rng = random.Random(18)
    pieces = [rng.randbytes(rng.randrange(1, 700_000)) for _ in range(14)]
    data = b"".join(pieces)
    put = cos_client.put_object(Bucket=bucket, Key="chunked.bin", Body=iter(pieces))
    _check_stored(cos_client, bucket, "chunked.bin", put, data)
