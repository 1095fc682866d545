"""``COSObjectEventTrigger(listing="ordered")``: polls that list only the keys after the
watermark (COS's ``marker``), and the periodic full listing that catches keys arriving out of
order. Real emulator, real COS SDK; the emulator's request counters count the LIST requests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from conftest import tencentcloud_conn_json
from scf_snova_devel.seeding import seed_objects
from scf_snova_devel.triggers import FakeClock, MemoryStateStore, NextEvent, SleepGate

from airflow_scf_snova.cos.watermark import Watermark, WatermarkScan
from airflow_scf_snova.hooks.cos import COSHook
from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

SEEDED = 10_000
CONN = "cos_incremental"


@pytest.fixture
def seeded(tmp_path, emulator, monkeypatch):
    """An emulator of its own holding a bucket of 10,000 objects under ``big/`` (written through
    the storage layer before it starts), behind the connection :data:`CONN`."""
    from scf_snova_emulator import EmulatorConfig, EmulatorServer

    config = EmulatorConfig(port=0, data_dir=str(tmp_path / "emulator"))
    bucket = f"incremental-{config.appid}"
    keys = [f"big/part-{i:06d}.csv" for i in range(SEEDED)]
    seed_objects(tmp_path / "emulator" / "cos", bucket, keys, config.region, b"a,b\n1,2\n")
    server = EmulatorServer(config).start()
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", tencentcloud_conn_json(server))
    yield server, bucket
    server.stop()


@pytest.fixture
def clocked(monkeypatch) -> tuple[FakeClock, SleepGate]:
    """A fake clock (monotonic and wall) that each poll's sleep advances, and that sleep."""
    clock = FakeClock()
    return clock, SleepGate(clock).install(monkeypatch)


def _lists(server) -> int:
    return server.control.stats().get("cos", {}).get("LIST", 0)


def _ordered(bucket: str, store, clock: FakeClock, conn: str = CONN, **kwargs):
    kwargs = {"prefix": "big/", "poll_interval": 30, "settle_seconds": 0, **kwargs}
    trigger = COSObjectEventTrigger(
        bucket=bucket, listing="ordered", tencentcloud_conn_id=conn, **kwargs
    )
    trigger.asset_state_store = store
    trigger.clock = clock
    trigger.wall_clock = clock
    return trigger


async def _events(nxt: NextEvent, gate: SleepGate, release: bool = True) -> tuple[list, NextEvent]:
    """Release one poll (unless it is the first, which starts at once) and collect its events
    until the trigger sleeps again."""
    if release:
        gate.release()
    found = []
    while True:
        sleeping = asyncio.ensure_future(gate.wait_sleeping())
        done, _ = await asyncio.wait(
            {nxt.task, sleeping}, timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        if nxt.task in done:
            sleeping.cancel()
            found.append(nxt.task.result().payload)
            nxt = NextEvent(nxt.run)
            continue
        assert sleeping in done, "the trigger neither fired nor slept"
        return found, nxt


@pytest.mark.asyncio
async def test_an_ordered_poll_lists_only_the_new_keys(seeded, clocked):
    server, bucket = seeded
    clock, gate = clocked
    store = MemoryStateStore()
    nxt = NextEvent(_ordered(bucket, store, clock).run())
    try:
        server.control.reset_stats()
        await nxt.quiet_poll(gate)  # the first poll is a full listing: the baseline
        assert _lists(server) == SEEDED // 1000  # 10 pages of 1,000
        new = {
            f"big/zzz-{i}.csv": server.cos.put_object(bucket, f"big/zzz-{i}.csv", b"n")
            for i in range(5)
        }
        server.control.reset_stats()
        events, nxt = await _events(nxt, gate)
        lists = _lists(server)  # a full listing would be 11 pages (10,005 objects)
    finally:
        await nxt.close()
    assert sorted((e["key"], e["etag"]) for e in events) == sorted(
        (k, v.strip('"')) for k, v in new.items()
    )
    assert lists == 1
    state = Watermark.from_json(await store.aget(_state_key(bucket)))
    assert state is not None
    assert state.after_key == "big/zzz-4.csv"
    assert set(state.recent) == set(new)


def _state_key(bucket: str) -> str:
    return COSObjectEventTrigger(bucket=bucket, prefix="big/").state_key


def _put_many(emulator, bucket: str, keys) -> dict[str, str]:
    return {key: emulator.cos.put_object(bucket, key, key.encode()).strip('"') for key in keys}


def _keys_etags(events) -> list[tuple[str, str]]:
    return sorted((e["key"], e["etag"]) for e in events)


def _small_watcher(emulator, bucket: str, clock: FakeClock, **kwargs):
    """Ten objects ``a/0500`` to ``a/0509`` (their ETags) and an ordered watcher on ``a/``."""
    old = _put_many(emulator, bucket, [f"a/{i:04d}" for i in range(500, 510)])
    store = MemoryStateStore()
    return old, _ordered(bucket, store, clock, "tencentcloud_default", prefix="a/", **kwargs)


@pytest.mark.asyncio
async def test_an_out_of_order_key_is_announced_by_the_next_full_listing_every_poll(
    emulator, bucket, clocked
):
    clock, gate = clocked
    _, trigger = _small_watcher(emulator, bucket, clock, full_listing_interval=0)
    nxt = NextEvent(trigger.run())
    try:
        await nxt.quiet_poll(gate)  # the baseline
        late = _put_many(emulator, bucket, ["a/0001", "a/0600"])
        first, nxt = await _events(nxt, gate)
        again, nxt = await _events(nxt, gate)
    finally:
        await nxt.close()
    assert _keys_etags(first) == sorted(late.items())
    assert again == []


@pytest.mark.asyncio
async def test_an_out_of_order_key_waits_for_the_scheduled_full_listing(emulator, bucket, clocked):
    clock, gate = clocked
    old, trigger = _small_watcher(emulator, bucket, clock, full_listing_interval=3600)
    nxt = NextEvent(trigger.run())
    try:
        await nxt.quiet_poll(gate)  # the baseline (a full listing)
        late = _put_many(emulator, bucket, ["a/0001"])  # sorts first
        late["a/0505"] = emulator.cos.put_object(bucket, "a/0505", b"v2").strip('"')  # overwrite
        in_order = _put_many(emulator, bucket, ["a/0600"])
        emulator.control.reset_stats()
        ordered, nxt = await _events(nxt, gate)  # after the watermark only
        ordered_lists = emulator.control.stats()["cos"]["LIST"]
        quiet, nxt = await _events(nxt, gate)
        clock.now += 3600  # the full listing is due (no sleeping: the clock is injected)
        full, nxt = await _events(nxt, gate)
        after, nxt = await _events(nxt, gate)
        clock.now += 3600
        full_again, nxt = await _events(nxt, gate)
    finally:
        await nxt.close()
    assert _keys_etags(ordered) == sorted(in_order.items())
    assert ordered_lists == 1
    assert quiet == []
    assert _keys_etags(full) == sorted(late.items())
    assert {e["key"]: e["previous_etag"] for e in full} == {"a/0001": None, "a/0505": old["a/0505"]}
    assert after == full_again == []


@pytest.mark.asyncio
async def test_a_version_1_watermark_loads_and_its_first_poll_is_full(seeded, clocked):
    server, bucket = seeded
    clock, gate = clocked
    hook = COSHook(tencentcloud_conn_id=CONN)
    scan = WatermarkScan(Watermark(), timedelta(0), announce=False)
    list(scan.scan(hook.iter_objects(bucket, prefix="big/")))
    v1 = scan.result().to_json()
    store = MemoryStateStore()
    await store.aset(
        _state_key(bucket), {"version": 1, "since": v1["since"], "seen": v1["seen"]}
    )  # what a release without listing modes stored
    # While no trigger runs: one key in order, one out of order.
    new = _put_many(server, bucket, ["big/part-000005-late.csv", "big/zzz-new.csv"])
    nxt = NextEvent(_ordered(bucket, store, clock).run())
    server.control.reset_stats()
    try:
        first, nxt = await _events(nxt, gate, release=False)
        first_lists = _lists(server)
        server.control.reset_stats()
        second, nxt = await _events(nxt, gate)
        second_lists = _lists(server)
    finally:
        await nxt.close()
    assert _keys_etags(first) == sorted(new.items())  # nothing older is announced again
    assert first_lists == SEEDED // 1000 + 1  # a full listing (10,002 objects)
    assert second == []
    assert second_lists == 1  # then ordered
    assert (await store.aget(_state_key(bucket)))["version"] == 2


@pytest.mark.asyncio
async def test_a_restart_from_the_saved_state_replays_nothing(seeded, clocked):
    server, bucket = seeded
    clock, gate = clocked
    store = MemoryStateStore()
    nxt = NextEvent(_ordered(bucket, store, clock).run())
    try:
        await nxt.quiet_poll(gate)  # the baseline
        new = _put_many(server, bucket, [f"big/zzz-{i}.csv" for i in range(3)])
        announced, nxt = await _events(nxt, gate)
    finally:
        await nxt.close()  # the triggerer stops
    assert _keys_etags(announced) == sorted(new.items())

    nxt = NextEvent(_ordered(bucket, store, clock).run())  # a new instance, the same store
    server.control.reset_stats()
    try:
        await nxt.quiet_poll(gate)  # ordered: after_key came back with the state
        restart_lists = _lists(server)
        clock.now += 3600  # a full listing: the announced keys came back in `recent`
        full, nxt = await _events(nxt, gate)
    finally:
        await nxt.close()
    assert restart_lists == 1
    assert full == []
