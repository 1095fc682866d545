"""The event trigger's bounded high-water mark."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from scf_snova_core.objects import COSObject

from airflow_scf_snova.cos.watermark import Watermark, WatermarkScan

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
