"""COS sensors against the emulator: pokes, deferral round trips, quiescence on a fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from scf_snova_core.events import object_key_from_record
from scf_snova_devel.triggers import FakeClock, NextEvent, SleepGate

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.sensors.cos import COSObjectSensor, COSObjectsUnchangedSensor
from airflow_scf_snova.triggers.cos import COSObjectsUnchangedTrigger, COSObjectTrigger


def _sensor(bucket: str, **kwargs) -> COSObjectSensor:
    kwargs.setdefault("poke_interval", 7)
    kwargs.setdefault("timeout", 300)
    return COSObjectSensor(task_id="wait", bucket=bucket, **kwargs)


# -- COSObjectSensor: poke mode ------------------------------------------------------------------
def test_poke_succeeds_only_after_the_upload(emulator, bucket, context):
    for key in ["snova/a.txt", "snova2/b.log", "other/snova/c.log"]:
        emulator.cos.put_object(bucket, key, b"decoy")
    sensor = _sensor(bucket, prefix="snova/", suffix=".log")
    assert sensor.poke(context) is False
    assert context["ti"].xcom == {}

    emulator.cos.put_object(bucket, "snova/sub/d.log", b"0123456789")
    result = sensor.poke(context)
    assert isinstance(result, PokeReturnValue) and result.is_done
    [obj] = result.xcom_value
    assert (obj["bucket"], obj["key"], obj["size"]) == (bucket, "snova/sub/d.log", 10)

    [event] = context["ti"].xcom["cos_events"]
    [record] = event["Records"]
    appid, short = emulator.config.appid, bucket.rsplit("-", 1)[0]
    assert record["cos"]["cosObject"]["key"] == f"/{appid}/{short}/snova/sub/d.log"
    # One ETag format (no quotes) in XCom; the COS event quotes it, as COS does.
    assert '"' not in obj["etag"]
    assert record["cos"]["cosObject"]["meta"]["ETag"] == f'"{obj["etag"]}"'
    assert record["cos"]["cosObject"]["size"] == 10
    assert record["cos"]["cosBucket"] == {
        "name": short,
        "appid": appid,
        "region": record["cos"]["cosBucket"]["region"],
        "cosRegion": emulator.config.region,
        "s3Region": emulator.config.region,
    }
    assert record["event"]["eventName"] == "cos:ObjectCreated:Put"
    assert isinstance(record["event"]["eventTime"], int)
    assert object_key_from_record(record) == (bucket, "snova/sub/d.log")


def test_exact_key_min_size_and_modified_after(emulator, bucket, context):
    sensor = _sensor(bucket, key="in/file name+中.csv", min_size=5)
    assert sensor.poke(context) is False
    emulator.cos.put_object(bucket, "in/file name+中.csv", b"1234")
    assert sensor.poke(context) is False  # too small
    emulator.cos.put_object(bucket, "in/file name+中.csv", b"12345")
    assert sensor.poke(context).xcom_value[0]["key"] == "in/file name+中.csv"

    future = _sensor(bucket, prefix="in/", modified_after="2999-01-01T00:00:00+00:00")
    assert future.poke(context) is False
    for blank in ("", "None", None):  # a manual run renders {{ data_interval_start }} as None
        assert _sensor(bucket, prefix="in/", modified_after=blank).poke(context)


def test_glob_and_max_objects(emulator, bucket, context, capsys):
    for i in range(5):
        emulator.cos.put_object(bucket, f"g/{i}.csv", b"x")
    emulator.cos.put_object(bucket, "g/deep/9.csv", b"x")
    result = _sensor(bucket, glob="g/*.csv", max_objects=3).poke(context)
    assert [o["key"] for o in result.xcom_value] == ["g/0.csv", "g/1.csv", "g/2.csv"]
    assert len(context["ti"].xcom["cos_events"]) == 3
    assert "More than 3 objects match" in capsys.readouterr().out  # Airflow logs to stdout


def test_start_after_is_templated_and_lists_from_the_marker(emulator, bucket, context):
    day_before = [f"d/2024-06-01/p-{i:04d}.csv" for i in range(1001)]  # more than one page
    for key in [*day_before, "d/2024-06-02/a.csv", "d/2024-06-03/b.csv"]:
        emulator.cos.put_object(bucket, key, b"x")
    sensor = _sensor(bucket, prefix="d/", start_after="d/{{ ds }}/", deferrable=True)
    sensor.render_template_fields({"ds": "2024-06-02"})
    emulator.control.reset_stats()
    result = sensor.poke(context)
    lists = emulator.control.stats()["cos"]["LIST"]
    assert [o["key"] for o in result.xcom_value] == ["d/2024-06-02/a.csv", "d/2024-06-03/b.csv"]
    assert lists == 1  # listed from the marker: the 1,001 keys before it were never sent

    sensor = _sensor(bucket, prefix="d/", start_after="d/2024-06-04/", deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["start_after"] == "d/2024-06-04/"
    assert COSObjectTrigger(**kwargs)._selection().start_after == "d/2024-06-04/"
    unset = _sensor(bucket, prefix="d/", start_after="None")  # a blank template
    assert unset._selection().start_after is None


def test_invalid_arguments(context):
    with pytest.raises(InvalidInputError):
        COSObjectSensor(task_id="x", bucket="b", key="k", prefix="p")
    with pytest.raises(InvalidInputError):
        COSObjectSensor(task_id="x", bucket="b", key="k", start_after="a")
    with pytest.raises(InvalidInputError):
        COSObjectSensor(task_id="x", bucket="b", prefix="p", max_objects=0)
    with pytest.raises(InvalidInputError):
        _sensor("b", regex="(").poke(context)


# -- COSObjectSensor: deferrable -----------------------------------------------------------------
@pytest.mark.asyncio
async def test_deferral_round_trip(emulator, bucket, context, monkeypatch):
    sensor = _sensor(bucket, prefix="d/", suffix=".csv", deferrable=True, poke_interval=13)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, COSObjectTrigger)
    assert trigger.poll_interval == 13
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=300)

    # What the triggerer does: rebuild the trigger from its serialised form and run it.
    classpath, kwargs = trigger.serialize()
    gate = SleepGate().install(monkeypatch)
    nxt = NextEvent(COSObjectTrigger(**kwargs).run())
    try:
        await nxt.quiet_poll(gate)
        emulator.cos.put_object(bucket, "d/arrived.csv", b"a,b\n")
        gate.release()
        event = await nxt.event()
    finally:
        await nxt.close()
    assert gate.delays == [13]

    result = sensor.resume_execution("execute_complete", {"event": event.payload}, context)
    assert [o["key"] for o in result] == ["d/arrived.csv"]
    assert context["ti"].xcom["cos_events"][0]["Records"][0]["cos"]["cosObject"]["size"] == 4


def test_deferrable_sensor_returns_at_once_when_objects_exist(emulator, bucket, context):
    emulator.cos.put_object(bucket, "now/x.csv", b"x")
    result = _sensor(bucket, prefix="now/", deferrable=True).execute(context)
    assert [o["key"] for o in result] == ["now/x.csv"]


def test_error_events_timeouts_and_soft_fail(context):
    sensor = _sensor("b", prefix="x/", deferrable=True)
    with pytest.raises(AirflowException, match="boom"):
        sensor.resume_execution(
            "execute_complete", {"event": {"status": "error", "message": "boom"}}, context
        )
    timeout = {"error": TriggerFailureReason.TRIGGER_TIMEOUT}
    with pytest.raises(AirflowSensorTimeout):
        sensor.resume_execution(TRIGGER_FAIL_REPR, timeout, context)
    soft = _sensor("b", prefix="x/", deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.resume_execution(TRIGGER_FAIL_REPR, timeout, context)
    with pytest.raises(AirflowSkipException):
        soft.resume_execution(
            "execute_complete", {"event": {"status": "error", "message": "boom"}}, context
        )


# -- COSObjectsUnchangedSensor -------------------------------------------------------------------
def test_unchanged_sensor_with_a_controllable_clock(emulator, bucket, context):
    clock = FakeClock()
    sensor = COSObjectsUnchangedSensor(
        task_id="quiet",
        bucket=bucket,
        prefix="up/",
        inactivity_period=60,
        min_objects=2,
        clock=clock,
    )
    assert sensor.mode == "poke"
    emulator.cos.put_object(bucket, "up/0", b"x")
    assert sensor.poke(context) is False  # first look
    clock.now += 100
    assert sensor.poke(context) is False  # quiet, but only 1 of 2 objects
    emulator.cos.put_object(bucket, "up/1", b"x")
    assert sensor.poke(context) is False  # changed: the clock restarts
    clock.now += 59
    assert sensor.poke(context) is False
    emulator.cos.put_object(bucket, "up/1", b"x, rewritten")  # an overwrite is activity too
    assert sensor.poke(context) is False
    clock.now += 59
    assert sensor.poke(context) is False
    clock.now += 1
    assert sensor.poke(context) is True


def test_unchanged_sensor_deletions(emulator, bucket, context):
    for key in ("del/a", "del/b"):
        emulator.cos.put_object(bucket, key, b"x")
    strict = COSObjectsUnchangedSensor(
        task_id="strict",
        bucket=bucket,
        prefix="del/",
        inactivity_period=10,
        allow_delete=False,
        clock=FakeClock(),
    )
    strict.poke(context)
    emulator.cos.delete_object(bucket, "del/a")
    with pytest.raises(AirflowException, match="deleted"):
        strict.poke(context)
    with pytest.raises(ValueError):
        COSObjectsUnchangedSensor(task_id="r", bucket="b", prefix="p", mode="reschedule")


@pytest.mark.asyncio
async def test_unchanged_sensor_deferral_round_trip(emulator, bucket, context, monkeypatch):
    clock = FakeClock()
    emulator.cos.put_object(bucket, "q/a", b"x")
    sensor = COSObjectsUnchangedSensor(
        task_id="quiet",
        bucket=bucket,
        prefix="q/",
        inactivity_period=60,
        deferrable=True,
        poke_interval=20,
        timeout=600,
        clock=clock,
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, COSObjectsUnchangedTrigger)
    assert (trigger.poll_interval, trigger.previous["count"]) == (20, 1)
    assert deferred.value.timeout == timedelta(seconds=600)

    gate = SleepGate(clock).install(monkeypatch)
    resumed = COSObjectsUnchangedTrigger(**trigger.serialize()[1])
    resumed.clock = clock
    nxt = NextEvent(resumed.run())
    try:
        for _ in range(3):  # t = 0, 20, 40 (the first listing matches the sensor's: no change)
            await nxt.quiet_poll(gate)
            gate.release()
        event = await nxt.event()  # t = 60
    finally:
        await nxt.close()
    assert event.payload["status"] == "success"
    assert sensor.execute_complete(context, event.payload) is None
    with pytest.raises(AirflowException, match="gone"):
        sensor.execute_complete(context, {"status": "error", "message": "gone"})
