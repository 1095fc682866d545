"""``COSObjectSensor(not_loaded_into=...)`` and its trigger: wait for the objects a Snova table's
load ledger does not record, against the emulator's COS and a real PostgreSQL, with the ledger
written by real ``COSToSnovaOperator`` loads."""

from __future__ import annotations

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import TaskDeferred
from scf_snova_devel.triggers import NextEvent, SleepGate

from airflow_scf_snova.sensors.cos import COSObjectSensor
from airflow_scf_snova.snova import pending
from airflow_scf_snova.triggers.cos import COSObjectTrigger


@pytest.fixture
def t1(db):
    db.execute("CREATE TABLE t1 (a1 int)")


def _sensor(bucket: str, **kwargs) -> COSObjectSensor:
    kwargs.setdefault("poke_interval", 7)
    kwargs.setdefault("timeout", 300)
    kwargs.setdefault("prefix", "in/")
    kwargs.setdefault("suffix", ".log")
    return COSObjectSensor(task_id="wait", bucket=bucket, **kwargs)


def _found(sensor: COSObjectSensor, context) -> list[tuple[str, str]] | bool:
    """``(key, etag)`` of what a poke returns, or ``False`` while it waits."""
    result = sensor.poke(context)
    if result is False:
        return False
    assert isinstance(result, PokeReturnValue) and result.is_done
    return [(o["key"], o["etag"]) for o in result.xcom_value]


def test_the_sensor_waits_for_objects_not_loaded_yet(db, bucket, t1, put, run_load, context):
    a, b = put("in/a.log", "1\n"), put("in/b.log", "2\n")
    put("in/notes.txt", "not a .log")
    sensor = _sensor(bucket, not_loaded_into="t1")
    # No ledger yet: nothing was loaded, both are pending.
    assert _found(sensor, context) == [("in/a.log", a), ("in/b.log", b)]

    run_load(table="t1", bucket=bucket, prefix="in/", suffix=".log")
    assert _found(sensor, context) is False
    assert _found(_sensor(bucket), context) != []  # without the option, any .log passes
    assert _found(_sensor(bucket, not_loaded_into="public.t1"), context) is False
    assert _found(_sensor(bucket, key="in/a.log", prefix=None, suffix=None,
                          not_loaded_into="t1"), context) is False  # fmt: skip

    # A new object, and an overwrite (a new ETag): both wait to be loaded.
    c = put("in/c.log", "3\n")
    assert _found(sensor, context) == [("in/c.log", c)]
    a2 = put("in/a.log", "10\n11\n")
    assert a2 != a
    assert _found(sensor, context) == [("in/a.log", a2), ("in/c.log", c)]
    # max_objects counts pending objects only: b.log (loaded) does not take a slot.
    assert _found(_sensor(bucket, not_loaded_into="t1", max_objects=1), context) == [
        ("in/a.log", a2)
    ]

    run_load(table="t1", bucket=bucket, prefix="in/", suffix=".log")
    assert _found(sensor, context) is False
    assert db.scalar("SELECT count(*) FROM t1") == 5


def test_the_ledger_is_per_table_and_per_ledger(db, bucket, t1, put, run_load, context):
    db.execute("CREATE TABLE t2 (a1 int)")
    put("in/a.log", "1\n")
    run_load(table="t1", bucket=bucket, prefix="in/", ledger_table="other_ledger")

    assert _found(_sensor(bucket, not_loaded_into="t1", ledger_table="other_ledger"), context) is (
        False
    )
    assert [k for k, _ in _found(_sensor(bucket, not_loaded_into="t1"), context)] == ["in/a.log"]
    assert [
        k for k, _ in _found(_sensor(bucket, not_loaded_into="t2", ledger_table="other_ledger"),
                             context)
    ] == ["in/a.log"]  # fmt: skip
    # A table that does not exist has loaded nothing.
    assert [k for k, _ in _found(_sensor(bucket, not_loaded_into="t_missing"), context)] == [
        "in/a.log"
    ]


def test_the_listing_is_checked_in_batches(db, bucket, t1, put, run_load, context, monkeypatch):
    monkeypatch.setattr(pending, "BATCH_SIZE", 2)
    for i in range(5):
        put(f"in/{i}.log", f"{i}\n")
    run_load(table="t1", bucket=bucket, keys=["in/0.log", "in/1.log", "in/3.log"])
    assert [k for k, _ in _found(_sensor(bucket, not_loaded_into="t1"), context)] == [
        "in/2.log",
        "in/4.log",
    ]


@pytest.mark.asyncio
async def test_the_deferred_sensor_waits_in_the_triggerer_for_a_new_object(
    db, bucket, t1, put, run_load, context, monkeypatch
):
    put("in/a.log", "1\n")
    run_load(table="t1", bucket=bucket, prefix="in/")
    sensor = _sensor(bucket, not_loaded_into="t1", deferrable=True, poke_interval=13)
    with pytest.raises(TaskDeferred) as deferred:  # a.log exists, but is loaded: it defers
        sensor.execute(context)

    # What the triggerer does: rebuild the trigger from its serialised form and run it.
    classpath, kwargs = deferred.value.trigger.serialize()
    assert (kwargs["not_loaded_into"], kwargs["ledger_table"], kwargs["snova_conn_id"]) == (
        "t1",
        "airflow_scf_snova_load_ledger",
        "snova_default",
    )
    gate = SleepGate().install(monkeypatch)
    nxt = NextEvent(COSObjectTrigger(**kwargs).run())
    try:
        await nxt.quiet_poll(gate)
        b = put("in/b.log", "2\n")
        gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()

    result = sensor.resume_execution("execute_complete", {"event": event.payload}, context)
    assert [(o["key"], o["etag"]) for o in result] == [("in/b.log", b)]


def test_the_sensor_logs_what_it_waits_for(bucket, t1, put, run_load, context, capsys):
    put("in/a.log", "1\n")
    run_load(table="t1", bucket=bucket, prefix="in/")
    capsys.readouterr()
    assert _sensor(bucket, not_loaded_into="t1").poke(context) is False
    assert f"No matching object in {bucket} that t1 has not loaded yet" in capsys.readouterr().out
