"""Fixtures for the COS <-> Snova transfer tests: a stream that pauses mid-COPY, on top of the
shared ``db``, ``put`` and ``run_load`` (tests/load_fixtures.py: a real PostgreSQL database per
test and the emulator's COS, spoken to by the real SDK through the operators' hooks)."""

from __future__ import annotations

import threading
import time

import pytest


class BlockingStream:
    """Wraps a COS object stream; after ``after_bytes`` it signals ``reached`` and blocks until
    ``gate`` is set. Lets a test act (kill the backend, overwrite the object) at a known point
    mid-COPY: no real part can pause a stream deterministically, hence this wrapper."""

    def __init__(self, stream, after_bytes: int, reached: threading.Event, gate: threading.Event):
        self._stream = stream
        self._after = after_bytes
        self._reached = reached
        self._gate = gate
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        if self._read >= self._after and not self._gate.is_set():
            self._reached.set()
            assert self._gate.wait(60), "test never released the stream"
        data = self._stream.read(size if size and size > 0 else 65536)
        self._read += len(data)
        return data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stream.close()

    def close(self) -> None:
        self._stream.close()


@pytest.fixture
def block_stream(monkeypatch):
    """``block_stream(key, after_bytes)`` makes the hook's ``open_object`` for ``key`` block
    mid-stream; returns ``(reached, gate)`` events."""
    from airflow_scf_snova.hooks.cos import COSHook

    original = COSHook.open_object

    def install(key: str, after_bytes: int):
        reached, gate = threading.Event(), threading.Event()

        def open_object(self, bucket, obj_key, byte_range=None):
            stream = original(self, bucket, obj_key, byte_range)
            if obj_key == key:
                return BlockingStream(stream, after_bytes, reached, gate)
            return stream

        monkeypatch.setattr(COSHook, "open_object", open_object)
        return reached, gate

    yield install
    monkeypatch.setattr(COSHook, "open_object", original)


def _wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    pause = threading.Event()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        pause.wait(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def wait_for():
    """``wait_for(predicate, timeout, what=...)``: poll a condition with a deadline."""
    return _wait_for


@pytest.fixture
def task_logs(capfd, caplog):
    """``task_logs()``: everything logged so far, through any path: Airflow's structlog task
    logger writes to the process's stdout (captured at the file-descriptor level), the stdlib
    ``logging`` records go through ``caplog``."""
    caplog.set_level("DEBUG")
    seen: list[str] = []

    def text() -> str:
        out, err = capfd.readouterr()
        seen.extend([out, err])
        return "".join(seen) + "\n".join(
            f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records
        )

    return text
