"""Load: concurrent load tasks into one table (separate processes), many deferred sensors in one
triggerer loop, many concurrent sync invokes. Expected: no duplicates, no losses, no deadlocks;
the figures measured here go into docs/reliability.md."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
from reliability.observations import record
from reliability.support import PollRecorder, wait_for
from scf_snova_core.ledger import table_lock_key
from scf_snova_devel.scf import delete_quietly, deploy_echo, fast_hook

WAITING_ON_LOCK = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
)
ROWS_PER_OBJECT = 50


def _pool(workers: int, monkeypatch) -> ProcessPoolExecutor:
    """Worker processes forked from a server that imported the provider once and let Airflow
    discover its providers (``pool_warmup``), as a Celery or Local executor's workers have it
    warm: each task still runs in its own process, with its own connections, without paying the
    imports again. The forkserver does not apply ``sys.path``, hence ``PYTHONPATH``."""
    tests_dir = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p)
    )
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["reliability.load_runner", "reliability.pool_warmup"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _concurrent_loads(
    db, emulator, bucket, monkeypatch, objects: int, tasks: int, per_task: int, step: int
):
    from reliability.load_runner import run_load

    db.execute("CREATE TABLE t (id int, payload text)")
    for n in range(objects):
        body = "".join(
            f"{n * ROWS_PER_OBJECT + i},object {n} row {i}\n" for i in range(ROWS_PER_OBJECT)
        )
        emulator.cos.put_object(bucket, f"c/{n:04d}.csv", body.encode())
    conns = {
        "snova_default": os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"],
        "tencentcloud_default": os.environ["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"],
    }
    specs = []
    for t in range(tasks):
        keys = [f"c/{(t * step + j) % objects:04d}.csv" for j in range(per_task)]
        if t % 2:
            keys.reverse()  # half the tasks walk their objects the other way round
        specs.append(
            {
                "operator": {"table": "t", "bucket": bucket, "keys": keys, "method": "copy"},
                "run_id": f"task_{t}",
                "conns": conns,
            }
        )
    listed = {key for spec in specs for key in spec["operator"]["keys"]}
    assert len(listed) == objects  # every object is in some task's list
    lock = table_lock_key("public.t")
    db.execute("SELECT pg_advisory_lock(%s)", (lock,))  # hold every task at its first object
    pool = _pool(tasks, monkeypatch)
    try:
        futures = [pool.submit(run_load, spec) for spec in specs]
        wait_for(
            lambda: db.scalar(WAITING_ON_LOCK) == tasks,
            timeout=300,
            interval=0.2,
            what=f"all {tasks} tasks waiting on the table's load lock",
        )
        released = time.monotonic()
        db.execute("SELECT pg_advisory_unlock(%s)", (lock,))
        outcomes = [f.result(timeout=600) for f in futures]
        wall = time.monotonic() - released
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    failed = [o["error"] for o in outcomes if not o["ok"]]
    assert not failed, failed
    statuses: dict[str, list[str]] = {}
    for outcome in outcomes:
        for result in outcome["result"]:
            statuses.setdefault(result["key"], []).append(result["status"])
    loaded_once = all(s.count("loaded") == 1 for s in statuses.values())
    assert len(statuses) == objects and loaded_once
    rows = objects * ROWS_PER_OBJECT
    assert db.rows("SELECT count(*), count(DISTINCT id) FROM t") == [(rows, rows)]
    assert db.scalar("SELECT count(*) FROM airflow_scf_snova_load_ledger") == objects
    attempts = sum(len(s) for s in statuses.values())
    return {
        "wall": wall,
        "rows": rows,
        "attempts": attempts,
        "skipped": attempts - objects,
        "slowest_task": max(o["seconds"] for o in outcomes),
    }


def test_concurrent_load_tasks_reduced(db, emulator, bucket, monkeypatch):
    figures = _concurrent_loads(
        db, emulator, bucket, monkeypatch, objects=40, tasks=8, per_task=20, step=5
    )
    record(
        "load.concurrent-loads-small",
        f"all 8 tasks held on the table lock at once, then released: {figures['attempts']} "
        f"object attempts, 40 loaded exactly once, {figures['skipped']} skipped; "
        f"{figures['rows']} rows, all distinct; no deadlock; {figures['wall']:.1f} s",
        {"8 tasks x 20 objects (40 distinct): wall seconds": figures["wall"]},
    )


@pytest.mark.soak
def test_twenty_concurrent_load_tasks_over_200_objects(db, emulator, bucket, monkeypatch):
    figures = _concurrent_loads(
        db, emulator, bucket, monkeypatch, objects=200, tasks=20, per_task=20, step=10
    )
    rate = 200 / figures["wall"]
    record(
        "load.concurrent-loads",
        f"all 20 processes held on the table lock at once, then released: 400 attempts, 200 "
        f"objects loaded exactly once, 200 skipped; {figures['rows']} rows, all distinct; no "
        f"deadlock; {figures['wall']:.1f} s ({rate:.0f} objects/s into one table), slowest "
        f"task {figures['slowest_task']:.1f} s (start-up and lock wait included)",
        {
            "20 tasks / 200 objects: wall seconds": figures["wall"],
            "20 tasks / 200 objects: objects per second (one table)": rate,
        },
    )


# -- 50 deferred sensors in one triggerer loop ----------------------------------------------------
def test_fifty_deferred_sensors_on_one_triggerer(emulator, bucket):
    from airflow_scf_snova.triggers.cos import COSObjectTrigger

    count = 50
    triggers = [
        COSObjectTrigger(bucket=bucket, key=f"s/{i:02d}.csv", poll_interval=0.5)
        for i in range(count)
    ]
    recorder = PollRecorder()  # the default size: min(32, cpus + 4) threads, as in a triggerer
    fired: dict[int, tuple[float, dict]] = {}
    done = threading.Event()

    async def first_event(i, trigger):
        async for event in trigger.run():
            fired[i] = (time.monotonic(), event.payload)
            return

    async def triggerer():
        await asyncio.gather(*(first_event(i, t) for i, t in enumerate(triggers)))

    def loop_thread():
        loop = asyncio.new_event_loop()
        loop.set_default_executor(recorder)
        try:
            loop.run_until_complete(triggerer())
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            done.set()

    runner = threading.Thread(target=loop_thread, daemon=True)
    runner.start()
    started = time.monotonic()
    recorder.wait(lambda r: len(r.outcomes) >= 2 * count, 120, "every trigger polling")
    polls_before, waited = len(recorder.outcomes), time.monotonic() - started
    assert fired == {}
    uploaded: dict[int, float] = {}
    for i in range(count):
        emulator.cos.put_object(bucket, f"s/{i:02d}.csv", f"{i}\n".encode())
        uploaded[i] = time.monotonic()
    assert done.wait(120), f"only {len(fired)} of {count} triggers fired"
    runner.join(10)
    assert sorted(fired) == list(range(count))
    for i, (_, payload) in fired.items():
        assert payload["status"] == "success"
        assert [o["key"] for o in payload["objects"]] == [f"s/{i:02d}.csv"]
    latencies = [fired[i][0] - uploaded[i] for i in range(count)]
    failures = [o for _, o in recorder.outcomes if o != "ok"]
    assert failures == []
    poll_rate = polls_before / waited
    p50, p95, worst = (
        statistics.median(latencies),
        _percentile(latencies, 0.95),
        max(latencies),
    )
    record(
        "load.deferred-sensors",
        f"50 of 50 fired once, each with its own object; {len(recorder.outcomes)} polls, 0 "
        f"failed; {poll_rate:.0f} polls/s on {recorder._max_workers} threads; upload-to-event "
        f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {worst:.2f} s (poke interval 0.5 s)",
        {
            "50 triggers: polls per second": poll_rate,
            "50 triggers: upload-to-event p50 seconds": p50,
            "50 triggers: upload-to-event p95 seconds": p95,
        },
    )


# -- 100 concurrent sync invokes -------------------------------------------------------------------
def test_hundred_concurrent_sync_invokes(emulator, unique_name):
    from airflow_scf_snova.hooks.scf import SCFHook

    count = 100
    name = unique_name("many")
    deploy_echo(fast_hook(), name, timeout=60)
    barrier = threading.Barrier(count)

    def invoke(i: int):
        hook = SCFHook()  # one hook (one SDK client) per task, as separate tasks have
        barrier.wait(60)
        started = time.monotonic()
        result = hook.invoke(name, {"i": i}, log_type="None")
        return i, time.monotonic() - started, result

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=count) as pool:
            outcomes = list(pool.map(invoke, range(count)))
        wall = time.monotonic() - started
        runs = emulator.control.invocations(name)
    finally:
        delete_quietly(fast_hook(), name)
    request_ids = set()
    for i, _, result in outcomes:
        assert not result.get("ErrMsg"), result
        body = json.loads(result["RetMsg"])
        assert body["event"] == {"i": i}
        request_ids.add(result["FunctionRequestId"])
    assert len(request_ids) == count
    assert len(runs) == count and {r["status"] for r in runs} == {"success"}
    assert {r["request_id"] for r in runs} == request_ids
    latencies = [seconds for _, seconds, _ in outcomes]
    rate = count / wall
    record(
        "load.sync-invokes",
        f"100 successes, each with its own payload back; 100 distinct request ids; 100 runs "
        f"recorded, all `success`; {wall:.1f} s in all ({rate:.1f} invokes/s, each a new "
        f"Python process); latency p50 {statistics.median(latencies):.2f} s, max "
        f"{max(latencies):.2f} s",
        {
            "100 sync invokes: wall seconds": wall,
            "100 sync invokes: invokes per second": rate,
        },
    )
