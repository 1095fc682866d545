"""The event trigger's bounded high-water mark."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from scf_snova_core.objects import COSObject

from airflow_scf_snova.cos.watermark import OrderedScan, Watermark, WatermarkScan

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _obj(key: str, etag: str, seconds: int) -> COSObject:
    return COSObject("b-1250000000", key, 1, etag, T0 + timedelta(seconds=seconds))


def _poll(state: Watermark, objects, settle: int = 0, announce: bool = True):
    scan = WatermarkScan(state, timedelta(seconds=settle), announce=announce)
    found = [(a.obj.key, a.previous_etag) for a in scan.scan(objects)]
    return found, scan.result()


def test_first_scan_can_record_without_announcing():
    found, state = _poll(Watermark(), [_obj("a", "1", 0), _obj("b", "1", 5)], announce=False)
    assert found == []
    assert state.since == T0 + timedelta(seconds=5)
    assert state.seen == {"b": "1"}


def test_announces_new_and_changed_objects_once():
    listing = [_obj("a", "1", 0), _obj("b", "1", 5)]
    found, state = _poll(Watermark(), listing)
    assert found == [("a", None), ("b", None)]
    found, state = _poll(state, listing)  # nothing new: nothing fires, however often we look
    assert found == []
    listing = [_obj("a", "1", 0), _obj("b", "1", 5), _obj("c", "1", 5)]  # same second as b
    found, state = _poll(state, listing)
    assert found == [("c", None)]
    listing = [_obj("a", "1", 0), _obj("b", "2", 5), _obj("c", "1", 5)]  # b overwritten, same s
    found, state = _poll(state, listing)
    assert found == [("b", "1")]
    listing = [_obj("a", "2", 9), _obj("b", "2", 5), _obj("c", "1", 5)]  # a overwritten later
    found, state = _poll(state, listing)
    assert found == [("a", None)]
    assert _poll(state, listing)[0] == []


def test_state_is_bounded_by_the_settle_window_not_the_bucket():
    listing = [_obj(f"k{i:05d}", "1", i) for i in range(5000)]
    found, state = _poll(Watermark(), listing, settle=10)
    assert len(found) == 5000
    assert len(state.seen) == 11  # objects modified in [newest - 10 s, newest]
    assert len(json.dumps(state.to_json())) < 1000
    late = [*listing, _obj("late", "1", 4995)]  # inside the settle window: still announced
    assert _poll(state, late, settle=10)[0] == [("late", None)]
    too_late = [*listing, _obj("too-late", "1", 100)]  # older than the window: the trade-off
    assert _poll(state, too_late, settle=10)[0] == []


def test_watermark_never_moves_backwards_and_survives_json():
    _, state = _poll(Watermark(), [_obj("a", "1", 50)])
    _, after_delete = _poll(state, [_obj("old", "1", 10)])
    assert after_delete.since == state.since
    restored = Watermark.from_json(json.loads(json.dumps(state.to_json())))
    assert restored == state
    assert Watermark.from_json(None) is None
    assert Watermark.from_json({"version": 99}) is None
    _, empty = _poll(Watermark(), [])
    assert empty == Watermark()


def _ordered(state: Watermark, objects):
    scan = OrderedScan(state)
    found = [(a.obj.key, a.previous_etag) for a in map(scan.offer, objects) if a is not None]
    return found, scan.result()


def test_ordered_polls_keep_since_and_the_full_scan_absorbs_recent():
    listing = [_obj("a/1", "1", 0), _obj("a/2", "1", 5)]
    _, full = _poll(Watermark(), listing, announce=False)
    assert full.after_key == "a/2"
    found, state = _ordered(full, [_obj("a/3", "1", 9)])  # what a listing after a/2 returns
    assert found == [("a/3", None)]
    assert (state.since, state.seen, state.after_key) == (full.since, full.seen, "a/3")
    assert state.recent == {"a/3": "1"}
    assert _ordered(state, [])[1] == state  # nothing new: nothing changes
    # The next full scan: a/3 counts as announced, the out-of-order a/0 is new, recent empties.
    found, after = _poll(state, [_obj("a/0", "1", 9), *listing, _obj("a/3", "1", 9)])
    assert found == [("a/0", None)]
    assert after.recent == {} and after.after_key == "a/3" and "a/3" in after.seen
    assert Watermark.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_a_version_1_state_reads_without_after_key():
    v1 = {"version": 1, "since": T0.isoformat(), "seen": {"a": "1"}}
    state = Watermark.from_json(v1)
    assert state == Watermark(T0, {"a": "1"})
    assert state.after_key is None  # so the trigger's next poll is a full scan
    with pytest.raises(ValueError):
        OrderedScan(state)
