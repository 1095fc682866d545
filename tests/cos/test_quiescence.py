"""The upload-complete decision, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scf_snova_core.objects import COSObject

from airflow_scf_snova.cos.quiescence import (
    InactivityTracker,
    ListingSnapshot,
    ObjectsDeletedError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _snap(*pairs: tuple[str, str]) -> ListingSnapshot:
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return ListingSnapshot.of(COSObject("b-1", k, 1, e, when) for k, e in pairs)


def test_snapshot_sees_new_keys_and_overwrites():
    base = _snap(("a", '"1"'))
    assert base.count == 1
    assert _snap(("a", '"1"')) == base
    assert _snap(("a", '"2"')) != base
    assert _snap(("a", '"1"'), ("b", '"1"')).count == 2
    assert ListingSnapshot.from_dict(base.to_dict()) == base


def test_waits_for_the_full_inactivity_period_after_the_last_change():
    clock = FakeClock()
    tracker = InactivityTracker(60, min_objects=2, clock=clock)
    assert not tracker.observe(_snap(("a", "1")))  # first look starts the clock
    clock.now += 59
    assert not tracker.observe(_snap(("a", "1"), ("b", "1")))  # a change restarts it
    clock.now += 59
    assert not tracker.observe(_snap(("a", "1"), ("b", "1")))
    assert tracker.inactive_for == 59
    clock.now += 1
    assert tracker.observe(_snap(("a", "1"), ("b", "1")))


def test_too_few_objects_keeps_waiting():
    clock = FakeClock()
    tracker = InactivityTracker(10, min_objects=3, clock=clock)
    tracker.observe(_snap(("a", "1")))
    clock.now += 100
    assert not tracker.observe(_snap(("a", "1")))


def test_deletions_restart_the_clock_or_fail():
    clock = FakeClock()
    tracker = InactivityTracker(10, clock=clock)
    tracker.observe(_snap(("a", "1"), ("b", "1")))
    clock.now += 9
    assert not tracker.observe(_snap(("a", "1")))
    clock.now += 9
    assert not tracker.observe(_snap(("a", "1")))
    strict = InactivityTracker(10, allow_delete=False, clock=clock)
    strict.observe(_snap(("a", "1"), ("b", "1")))
    with pytest.raises(ObjectsDeletedError):
        strict.observe(_snap(("a", "1")))


def test_resume_carries_the_elapsed_quiet_time():
    clock = FakeClock()
    first = InactivityTracker(60, clock=clock)
    first.observe(_snap(("a", "1")))
    clock.now += 40
    resumed = InactivityTracker(
        60, clock=clock, previous=first.previous, inactive_for=first.inactive_for
    )
    clock.now += 19
    assert not resumed.observe(_snap(("a", "1")))
    clock.now += 1
    assert resumed.observe(_snap(("a", "1")))
