"""Fixtures of the reliability tests: a database handle, objects in the emulator's COS, a load
run in this process, and captured task output."""

from __future__ import annotations

import itertools

import pytest
from reliability.support import Db, OutputWatch

_runs = itertools.count()


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
    """``run_load(**kwargs)``: a ``COSToSnovaOperator``'s ``execute`` in this process."""
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    def run(run_id: str | None = None, **kwargs):
        kwargs.setdefault("task_id", "load")
        return COSToSnovaOperator(**kwargs).execute({"run_id": run_id or f"run_{next(_runs)}"})

    return run


@pytest.fixture
def output(capfd):
    """Everything written to stdout/stderr (Airflow's task logger writes to stdout)."""
    return OutputWatch(capfd)
