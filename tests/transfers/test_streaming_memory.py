"""Loads and exports stream: Python's peak memory (all threads, including the in-process
emulator's, measured with tracemalloc) does not grow with the object's size and stays well below
it."""

from __future__ import annotations

import tracemalloc

import pytest

MiB = 1024 * 1024
ROW = "x" * 90
ROWS = {"small.csv": 40_000, "large.csv": 160_000}  # about 4 MB and 16 MB


def _peak(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _export(bucket: str, rows: int):
    from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

    return SnovaToCOSOperator(
        task_id="export",
        sql=f"SELECT * FROM t1 ORDER BY a1 LIMIT {rows}",
        bucket=bucket,
        key=f"out-{rows}.csv",
        part_size=MiB,
    ).execute({})


@pytest.mark.slow
def test_load_and_export_memory_does_not_grow_with_size(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    for key, rows in ROWS.items():
        put(key, "".join(f"{i},{ROW}\n" for i in range(rows)).encode())
    put("warm-up.csv", "0,warm\n")
    run_load(table="t1", bucket=bucket, keys=["warm-up.csv"])  # first-use imports, caches
    _export(bucket, 1)

    load = {k: _peak(lambda k=k: run_load(table="t1", bucket=bucket, keys=[k])) for k in ROWS}
    export = {n: _peak(lambda n=n: _export(bucket, n)) for n in ROWS.values()}

    assert db.scalar("SELECT count(*) FROM t1") == sum(ROWS.values()) + 1
    large_bytes = ROWS["large.csv"] * (len(ROW) + 7)
    assert load["large.csv"] < load["small.csv"] + 2 * MiB, load
    assert load["large.csv"] < large_bytes / 2, load
    assert export[ROWS["large.csv"]] < export[ROWS["small.csv"]] + 2 * MiB, export
    assert export[ROWS["large.csv"]] < large_bytes / 2, export
