"""Seed many COS objects into an emulator's storage directory before the emulator starts.

Writing the storage layer's files directly (:mod:`scf_snova_emulator.cos.storage`'s layout:
``data/<id>`` bodies and ``meta/<sha256(key)>.json`` records) takes a fraction of the time of one
PUT per object; an emulator started on the directory then lists them like any other objects.
Benchmarks and tests that need a bucket of 10,000 to 100,000 objects use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path


def seed_objects(
    root: Path,
    bucket: str,
    keys: Sequence[str],
    region: str,
    body: bytes,
    newest: float | None = None,
) -> float:
    """Write ``bucket`` holding ``keys`` (each with ``body``) into the COS storage at ``root``;
    returns the seconds it took.

    :param root: the emulator's COS data directory (``<data_dir>/cos``).
    :param keys: the keys; their modification times are one second apart, the last ``newest``.
    :param region: the bucket's region (the emulator's).
    :param body: every object's bytes.
    :param newest: the last key's POSIX modification time (default: two minutes ago).
    """
    from scf_snova_emulator.cos.storage import CosStorage

    started = time.perf_counter()
    storage = CosStorage(root)
    storage.save_bucket(bucket, {"name": bucket, "region": region, "created": time.time()})
    data_dir = os.fspath(storage.data_path(bucket, "x").parent)
    meta_dir = os.path.join(os.path.dirname(data_dir), "meta")
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    last = int(time.time()) - 120 if newest is None else newest
    count = len(keys)
    for n, key in enumerate(keys):
        data = uuid.uuid4().hex
        with open(os.path.join(data_dir, data), "wb") as out:
            out.write(body)
        record = {
            "key": key,
            "size": len(body),
            "etag": etag,
            "last_modified": float(last - (count - 1 - n)),
            "content_type": "text/csv",
            "data": data,
            "crc64": None,
            "meta": {},
            "headers": {},
            "storage_class": "STANDARD",
        }
        name = hashlib.sha256(key.encode()).hexdigest() + ".json"
        with open(os.path.join(meta_dir, name), "w", encoding="utf-8") as out:
            out.write(json.dumps(record))
    return time.perf_counter() - started
