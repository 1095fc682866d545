"""Fixtures shared by the load tests (tests/transfers, tests/reliability): a database handle on
the test's PostgreSQL database, objects stored in the emulator's COS, and a
``COSToSnovaOperator`` run in this process. Registered by ``pytest_plugins`` in tests/conftest.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import psycopg2
import pytest

LEDGER = "airflow_scf_snova_load_ledger"
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

        return COSHook().head_object(bucket, key).etag.strip('"')

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
