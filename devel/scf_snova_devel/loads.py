"""Fixtures shared by the load tests (tests/transfers, tests/reliability): a database handle on
the test's PostgreSQL database, objects stored in the emulator's COS, a ``COSToSnovaOperator``
run in this process, a COS stream that pauses mid-COPY, a deadline poll, and the task's logs.
Registered by ``pytest_plugins`` in tests/conftest.py; they build on its ``snova_db``,
``emulator`` and ``bucket`` fixtures.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import psycopg2
import pytest
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE

LEDGER = DEFAULT_LEDGER_TABLE
_runs = itertools.count()


class Db:
    """An autocommit psycopg2 connection to the test database, for set-up and assertions."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn = psycopg2.connect(dsn)
        self.conn.autocommit = True

    def execute(self, statement: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)

    def rows(self, statement: str, params: Any = None) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()

    def scalar(self, statement: str, params: Any = None) -> Any:
        return self.rows(statement, params)[0][0]

    def ledger(self, table: str = LEDGER) -> list[tuple]:
        """``(target_table, key, etag, rows)`` of every ledger row."""
        return self.rows(
            f"SELECT target_table, key, etag, rows FROM {table} ORDER BY key, loaded_at"
        )

    def ledger_keys(self, table: str = LEDGER) -> list[str]:
        """The keys in the ledger; none when it does not exist (yet)."""
        if not self.scalar("SELECT to_regclass(%s) IS NOT NULL", (table,)):
            return []
        return [r[0] for r in self.rows(f"SELECT key FROM {table} ORDER BY key")]

    def copy_backends(self) -> list[int]:
        """Backends of other sessions running a COPY in this database."""
        return [
            r[0]
            for r in self.rows(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'COPY %%' AND state = 'active' AND pid <> pg_backend_pid()"
            )
        ]

    def backend_alive(self, pid: int) -> bool:
        return bool(self.rows("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)))

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def db(snova_db):
    handle = Db(snova_db)
    yield handle
    handle.close()


@pytest.fixture
def put(emulator, bucket):
    """``put(key, data)`` stores an object in the test bucket; returns its ETag (no quotes)."""

    def store(key: str, data: bytes | str) -> str:
        body = data.encode("utf-8") if isinstance(data, str) else data
        emulator.cos.put_object(bucket, key, body)
        from airflow_scf_snova.hooks.cos import COSHook

        return COSHook().head_object(bucket, key).etag

    return store


@pytest.fixture
def run_load(emulator, snova_db):
    """``run_load(**operator_kwargs)`` runs a ``COSToSnovaOperator``'s ``execute`` in this
    process (``operator_class=`` for a subclass, ``run_id=`` to fix the run)."""
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    def run(operator_class=COSToSnovaOperator, run_id: str | None = None, **kwargs):
        kwargs.setdefault("task_id", "load")
        op = operator_class(**kwargs)
        return op.execute({"run_id": run_id or f"test_run_{next(_runs)}"})

    return run


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

        def open_object(self, bucket, obj_key, byte_range=None, if_match=None):
            stream = original(self, bucket, obj_key, byte_range, if_match)
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
