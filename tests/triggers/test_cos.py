"""COS triggers driven with asyncio against the emulator; polls are stepped by a SleepGate."""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.triggers.base import BaseEventTrigger, TriggerEvent
from scf_snova_core.objects import COSObject
from scf_snova_devel.triggers import FakeClock, MemoryStateStore, NextEvent, SleepGate

from airflow_scf_snova.triggers.cos import (
    COSObjectEventTrigger,
    COSObjectsUnchangedTrigger,
    COSObjectTrigger,
)

MODULE = "airflow_scf_snova.triggers.cos"


# -- serialisation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (
            COSObjectTrigger,
            {
                "bucket": "b",
                "key": None,
                "prefix": "in/",
                "suffix": ".csv",
                "glob": None,
                "regex": None,
                "modified_after": "2024-01-01T00:00:00+00:00",
                "min_size": 1,
                "max_objects": 10,
                "poll_interval": 5.0,
                "tencentcloud_conn_id": "c",
                "region": "ap-shanghai",
                "not_loaded_into": "public.t1",
                "ledger_table": "l",
                "snova_conn_id": "s",
            },
        ),
        (
            COSObjectsUnchangedTrigger,
            {
                "bucket": "b",
                "prefix": "in/",
                "inactivity_period": 60.0,
                "min_objects": 2,
                "allow_delete": False,
                "poll_interval": 5.0,
                "previous": {"count": 1, "digest": "ab"},
                "inactive_for": 3.0,
                "tencentcloud_conn_id": "c",
                "region": None,
            },
        ),
        (
            COSObjectEventTrigger,
            {
                "bucket": "b",
                "prefix": "in/",
                "suffix": None,
                "glob": "in/*.csv",
                "regex": None,
                "min_size": None,
                "poll_interval": 5.0,
                "settle_seconds": 0.0,
                "emit_existing": True,
                "tencentcloud_conn_id": "c",
                "region": None,
            },
        ),
        (
            COSObjectEventTrigger,
            {
                "bucket": "b",
                "prefix": "in/",
                "suffix": ".csv",
                "glob": None,
                "regex": None,
                "min_size": None,
                "poll_interval": 5.0,
                "settle_seconds": 60.0,
                "emit_existing": False,
                "tencentcloud_conn_id": "c",
                "region": None,
                "listing": "ordered",
                "full_listing_interval": 600.0,
            },
        ),
    ],
)
def test_serialize_round_trips(cls, kwargs):
    classpath, serialized = cls(**kwargs).serialize()
    assert classpath == f"{MODULE}.{cls.__name__}"
    assert serialized == kwargs
    assert cls(**serialized).serialize() == (classpath, serialized)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (COSObjectTrigger, {"bucket": "b", "prefix": "in/"}),
        (COSObjectsUnchangedTrigger, {"bucket": "b", "prefix": "in/", "inactivity_period": 60}),
    ],
)
def test_triggers_serialised_with_the_old_poke_interval_still_load(cls, kwargs):
    # A triggerer's database may hold triggers serialised before the rename.
    with pytest.warns(DeprecationWarning, match="'poll_interval'"):
        trigger = cls(**kwargs, poke_interval=7)
    _, serialized = trigger.serialize()
    assert serialized["poll_interval"] == 7.0
    assert "poke_interval" not in serialized


def test_event_trigger_hash_is_stable_and_state_key_ignores_poll_settings():
    a = COSObjectEventTrigger(bucket="b", prefix="in/", poll_interval=5)
    b = COSObjectEventTrigger(bucket="b", prefix="in/", poll_interval=5)
    c = COSObjectEventTrigger(bucket="b", prefix="in/", poll_interval=30)
    assert BaseEventTrigger.hash(*a.serialize()) == BaseEventTrigger.hash(*b.serialize())
    assert a.state_key == c.state_key
    assert a.state_key != COSObjectEventTrigger(bucket="b", prefix="out/").state_key


def test_event_trigger_rejects_bad_patterns_at_parse_time():
    with pytest.raises(ValueError):
        COSObjectEventTrigger(bucket="b", glob="[unterminated")


# -- COSObjectTrigger ----------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_object_trigger_fires_after_an_upload_and_honours_poll_interval(
    emulator, bucket, monkeypatch
):
    gate = SleepGate().install(monkeypatch)
    emulator.cos.put_object(bucket, "in/decoy.txt", b"x")
    trigger = COSObjectTrigger(bucket=bucket, prefix="in/", suffix=".csv", poll_interval=42)
    nxt = NextEvent(trigger.run())
    try:
        await nxt.quiet_poll(gate)
        emulator.cos.put_object(bucket, "in/data.csv", b"1,2\n")
        gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()
    assert gate.delays == [42]
    assert isinstance(event, TriggerEvent)
    assert event.payload["status"] == "success"
    assert event.payload["truncated"] is False
    [obj] = [COSObject.from_dict(o) for o in event.payload["objects"]]
    assert (obj.bucket, obj.key, obj.size) == (bucket, "in/data.csv", 4)


@pytest.mark.asyncio
async def test_object_trigger_exact_key_and_truncation(emulator, bucket, monkeypatch):
    SleepGate().install(monkeypatch)
    for i in range(3):
        emulator.cos.put_object(bucket, f"k/{i}.csv", b"x")
    event = await anext(COSObjectTrigger(bucket=bucket, key="k/1.csv").run())
    assert [o["key"] for o in event.payload["objects"]] == ["k/1.csv"]
    event = await anext(COSObjectTrigger(bucket=bucket, prefix="k/", max_objects=2).run())
    assert [o["key"] for o in event.payload["objects"]] == ["k/0.csv", "k/1.csv"]
    assert event.payload["truncated"] is True


@pytest.mark.asyncio
async def test_object_trigger_reports_errors_as_events(emulator, unique_name, monkeypatch):
    SleepGate().install(monkeypatch)
    event = await anext(COSObjectTrigger(bucket=unique_name("missing") + "x", prefix="x").run())
    assert event.payload["status"] == "error"
    assert "NoSuchBucket" in event.payload["message"]


@pytest.mark.asyncio
async def test_object_trigger_sits_out_throttling(emulator, bucket, monkeypatch):
    gate = SleepGate().install(monkeypatch)
    emulator.cos.put_object(bucket, "t/a.csv", b"x")
    emulator.faults.cos_errors(2, status=429, operations=["LIST"])  # SlowDown: not retried by SDK
    nxt = NextEvent(COSObjectTrigger(bucket=bucket, prefix="t/", poll_interval=1).run())
    try:
        for _ in range(2):
            await nxt.quiet_poll(gate)
            gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()
    assert event.payload["status"] == "success"

    emulator.faults.cos_errors(5, status=429, operations=["LIST"])
    nxt = NextEvent(COSObjectTrigger(bucket=bucket, prefix="t/", poll_interval=1).run())
    try:
        for _ in range(4):
            await nxt.quiet_poll(gate)
            gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()
    assert event.payload["status"] == "error"
    assert "SlowDown" in event.payload["message"]


# -- COSObjectsUnchangedTrigger ------------------------------------------------------------------
@pytest.mark.asyncio
async def test_unchanged_trigger_waits_for_quiet_on_a_fake_clock(emulator, bucket, monkeypatch):
    clock = FakeClock()
    gate = SleepGate(clock).install(monkeypatch)
    emulator.cos.put_object(bucket, "up/part-0", b"x")
    trigger = COSObjectsUnchangedTrigger(
        bucket=bucket, prefix="up/", inactivity_period=100, min_objects=2, poll_interval=30
    )
    trigger.clock = clock
    start = clock.now
    nxt = NextEvent(trigger.run())
    try:
        await nxt.quiet_poll(gate)  # t=0: first listing, 1 object
        emulator.cos.put_object(bucket, "up/part-1", b"x")
        gate.release()
        await nxt.quiet_poll(gate)  # t=30: changed -> the clock restarts
        for _ in range(3):  # t=60, 90, 120: unchanged for 30, 60, 90 s
            gate.release()
            await nxt.quiet_poll(gate)
        gate.release()
        event = await nxt.event()  # t=150: unchanged for 120 s >= 100
    finally:
        await nxt.close()
    assert event.payload["status"] == "success"
    assert event.payload["count"] == 2
    assert clock.now - start == 150
    assert set(gate.delays) == {30}


@pytest.mark.asyncio
async def test_unchanged_trigger_resumes_sensor_state(emulator, bucket, monkeypatch):
    from airflow_scf_snova.cos.quiescence import ListingSnapshot
    from airflow_scf_snova.hooks.cos import COSHook

    clock = FakeClock()
    gate = SleepGate(clock).install(monkeypatch)
    emulator.cos.put_object(bucket, "r/a", b"x")
    snapshot = ListingSnapshot.of(COSHook().iter_objects(bucket, prefix="r/"))
    trigger = COSObjectsUnchangedTrigger(
        bucket=bucket,
        prefix="r/",
        inactivity_period=60,
        poll_interval=10,
        previous=snapshot.to_dict(),
        inactive_for=55,
    )
    trigger.clock = clock
    nxt = NextEvent(trigger.run())
    try:
        await nxt.quiet_poll(gate)  # unchanged for 55 s
        gate.release()
        event = await nxt.event()  # unchanged for 65 s
    finally:
        await nxt.close()
    assert event.payload["status"] == "success"


@pytest.mark.asyncio
async def test_unchanged_trigger_fails_on_deletion_when_not_allowed(emulator, bucket, monkeypatch):
    gate = SleepGate(FakeClock()).install(monkeypatch)
    for key in ("del/a", "del/b"):
        emulator.cos.put_object(bucket, key, b"x")
    trigger = COSObjectsUnchangedTrigger(
        bucket=bucket, prefix="del/", inactivity_period=100, allow_delete=False, poll_interval=5
    )
    nxt = NextEvent(trigger.run())
    try:
        await nxt.quiet_poll(gate)
        emulator.cos.delete_object(bucket, "del/a")
        gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()
    assert event.payload["status"] == "error"
    assert "allow_delete" in event.payload["message"]


# -- COSObjectEventTrigger -----------------------------------------------------------------------
def _watcher(bucket: str, store: MemoryStateStore | None, **kwargs) -> COSObjectEventTrigger:
    trigger = COSObjectEventTrigger(
        bucket=bucket, prefix="in/", suffix=".csv", poll_interval=15, settle_seconds=0, **kwargs
    )
    trigger.asset_state_store = store  # what the 3.3 triggerer injects for a watched asset
    return trigger


@pytest.mark.asyncio
async def test_event_trigger_fires_once_per_upload_and_survives_a_restart(
    emulator, bucket, monkeypatch
):
    gate = SleepGate().install(monkeypatch)
    store = MemoryStateStore()
    emulator.cos.put_object(bucket, "in/existing.csv", b"old")
    emulator.cos.put_object(bucket, "in/ignored.txt", b"x")

    first = NextEvent(_watcher(bucket, store).run())
    try:
        await first.quiet_poll(gate)  # first start: existing objects are recorded, not announced
        assert store.rows  # the baseline is durable at once
        etags = {
            key: emulator.cos.put_object(bucket, key, key.encode()).strip('"')
            for key in ("in/a.csv", "in/b.csv")
        }
        gate.release()
        events = [await first.event()]
        first = NextEvent(first.run)
        events.append(await first.event())
        first = NextEvent(first.run)
        await first.quiet_poll(gate)  # the rest of the poll fires nothing
        gate.release()
        await first.quiet_poll(gate)  # nor does the next one: objects that stay never re-fire
    finally:
        await first.close()  # the triggerer stops
    assert [(e.payload["key"], e.payload["etag"]) for e in events] == sorted(etags.items())
    assert all(e.payload["previous_etag"] is None for e in events)
    assert events[0].payload["url"] == f"cos://{bucket}/in/a.csv"

    # While the triggerer is down, one file arrives and one is overwritten.
    c_etag = emulator.cos.put_object(bucket, "in/c.csv", b"c").strip('"')
    b_etag = emulator.cos.put_object(bucket, "in/b.csv", b"b, second version").strip('"')
    second = NextEvent(_watcher(bucket, store).run())  # a new instance, the same state store
    try:
        replayed = [await second.event()]
        second = NextEvent(second.run)
        replayed.append(await second.event())
        second = NextEvent(second.run)
        await second.quiet_poll(gate)
    finally:
        await second.close()
    assert [(e.payload["key"], e.payload["etag"]) for e in replayed] == [
        ("in/b.csv", b_etag),
        ("in/c.csv", c_etag),
    ]
    assert replayed[0].payload["previous_etag"] == etags["in/b.csv"]
    assert all(d == 15 for d in gate.delays)


class SyncOnlyStateStore(MemoryStateStore):
    """Airflow 3.3.0's accessor: ``get`` and ``set``, no ``aget``/``aset`` (added later)."""

    aget = aset = None

    def get(self, key: str, default=None):
        return json.loads(self.rows[key]) if key in self.rows else default

    def set(self, key: str, value) -> None:
        self.rows[key] = json.dumps(value)


@pytest.mark.asyncio
async def test_event_trigger_keeps_its_watermark_in_a_sync_only_store(
    emulator, bucket, monkeypatch
):
    gate = SleepGate().install(monkeypatch)
    store = SyncOnlyStateStore()
    emulator.cos.put_object(bucket, "in/existing.csv", b"old")
    first = NextEvent(_watcher(bucket, store).run())
    try:
        await first.quiet_poll(gate)  # the baseline, written with set()
    finally:
        await first.close()
    assert store.rows
    etag = emulator.cos.put_object(bucket, "in/new.csv", b"new").strip('"')  # while it is down
    second = NextEvent(_watcher(bucket, store).run())  # read back with get()
    try:
        event = await second.event()
    finally:
        await second.close()
    assert (event.payload["key"], event.payload["etag"]) == ("in/new.csv", etag)


@pytest.mark.asyncio
async def test_event_trigger_emit_existing_and_memory_only_mode(emulator, bucket, monkeypatch):
    gate = SleepGate().install(monkeypatch)
    emulator.cos.put_object(bucket, "in/existing.csv", b"x")
    nxt = NextEvent(_watcher(bucket, None, emit_existing=True).run())  # no store injected
    try:
        event = await nxt.event()
        nxt = NextEvent(nxt.run)
        await nxt.quiet_poll(gate)
        emulator.cos.put_object(bucket, "in/new.csv", b"x")
        gate.release()
        second = await nxt.event()
    finally:
        await nxt.close()
    assert event.payload["key"] == "in/existing.csv"
    assert second.payload["key"] == "in/new.csv"


class _SharedWatcherStore(MemoryStateStore):
    """What the 3.3 accessor does when one trigger watches several assets: no single slot."""

    async def aget(self, key, default=None):
        raise ValueError("Task has 2 concrete inlets and outlets")

    async def aset(self, key, value):
        raise AssertionError("must not be called")


@pytest.mark.asyncio
async def test_event_trigger_shared_by_assets_falls_back_to_memory(emulator, bucket, monkeypatch):
    gate = SleepGate().install(monkeypatch)
    nxt = NextEvent(_watcher(bucket, _SharedWatcherStore()).run())
    try:
        await nxt.quiet_poll(gate)
        emulator.cos.put_object(bucket, "in/x.csv", b"x")
        gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()
    assert event.payload["key"] == "in/x.csv"


@pytest.mark.asyncio
async def test_event_trigger_never_turns_errors_into_events(
    emulator, bucket, unique_name, monkeypatch
):
    gate = SleepGate().install(monkeypatch)
    store = MemoryStateStore()
    missing = NextEvent(_watcher(unique_name("nobucket"), store).run())
    try:
        await missing.quiet_poll(gate)
        gate.release()
        await missing.quiet_poll(gate)
    finally:
        await missing.close()
    assert store.rows == {}

    emulator.cos.put_object(bucket, "in/a.csv", b"x")
    nxt = NextEvent(_watcher(bucket, store).run())
    try:
        await nxt.quiet_poll(gate)  # baseline
        emulator.cos.put_object(bucket, "in/b.csv", b"x")
        emulator.faults.cos_errors(1, status=403, operations=["LIST"])
        gate.release()
        await nxt.quiet_poll(gate)  # the listing failed: no event, state unchanged
        gate.release()
        event = await asyncio.wait_for(nxt.event(), 20)  # next poll catches up
    finally:
        await nxt.close()
    assert event.payload["key"] == "in/b.csv"
