"""The emulator's CRC64-ECMA (``x-cos-hash-crc64ecma``) comes from ``fastcrc``; it must equal
the ``crcmod`` function the COS SDK checks downloads with, chunk by chunk as bodies arrive."""

from __future__ import annotations

import random

import crcmod
import fastcrc
from scf_snova_emulator.cos import storage

#: What cos-python-sdk-v5 checks downloads with (qcloud_cos/resumable_downloader.py: crcmod.
#: mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xffffffffffffffff, rev=True)).
SDK_CRC64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


def test_digests_use_fastcrc():
    assert storage._crc64 is fastcrc.crc64.xz


def test_check_value():
    # The catalogue's check value of CRC-64/XZ (CRC-64 ECMA-182, reflected).
    assert storage._crc64(b"123456789", 0) == SDK_CRC64(b"123456789", 0) == 0x995DC9BBDF1939FA


def test_chained_over_random_chunks_equals_crcmod():
    rng = random.Random(18)
    for _ in range(40):
        data = rng.randbytes(rng.randrange(0, 300_000))
        cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(0, 6)))
        digests = storage.Digests()
        buffer = memoryview(bytearray(len(data) or 1))  # chunks arrive as views of a buffer
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            buffer[: end - start] = data[start:end]
            digests.update(buffer[: end - start])
        assert digests.crc64 == str(SDK_CRC64(data, 0))
        assert digests.size == len(data)
