"""GetRequestStatus searches a time window, as SCF does: by default the last 15 minutes; with
StartTime, an EndTime is required, later than it, at most a day after it; times are UTC+8."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from scf_snova_core.apitime import format_api_time
from scf_snova_devel.scf_api import call, create_function, error_code, invoke


@pytest.fixture
def run(scf_client, unique_name):
    """A finished run: ``(function name, request id, start time in epoch seconds)``."""
    name = unique_name("status")
    create_function(scf_client, name)
    before = time.time()
    rid = invoke(scf_client, name)["FunctionRequestId"]
    return name, rid, before


def status(client, name: str, rid: str, **window) -> dict:
    return call(
        client, "GetRequestStatus", {"FunctionName": name, "FunctionRequestId": rid, **window}
    )


def test_without_start_time_only_the_last_15_minutes_are_searched(
    emulator, scf_client, run, monkeypatch
):
    name, rid, started = run
    assert status(scf_client, name, rid)["TotalCount"] == 1
    responses = emulator.scf.responses
    monkeypatch.setattr(responses, "clock", lambda: started + 15 * 60 + 5)  # 15 min later
    assert status(scf_client, name, rid)["TotalCount"] == 0
    # An explicit window still finds it.
    found = status(
        scf_client,
        name,
        rid,
        StartTime=format_api_time(started - 1),
        EndTime=format_api_time(started + 16 * 60),
    )
    assert found["TotalCount"] == 1


def test_a_window_finds_only_runs_that_started_in_it(scf_client, run):
    name, rid, started = run
    around = {"StartTime": format_api_time(started - 60), "EndTime": format_api_time(started + 60)}
    assert status(scf_client, name, rid, **around)["Data"][0]["RequestId"] == rid
    before = {
        "StartTime": format_api_time(started - 3600),
        "EndTime": format_api_time(started - 60),
    }
    assert status(scf_client, name, rid, **before)["TotalCount"] == 0
    # The strings are UTC+8: the same window written in UTC is eight hours off.
    utc = {
        "StartTime": datetime.fromtimestamp(started - 60, timezone.utc).strftime("%F %T"),
        "EndTime": datetime.fromtimestamp(started + 60, timezone.utc).strftime("%F %T"),
    }
    assert status(scf_client, name, rid, **utc)["TotalCount"] == 0
    # The response's StartTime is UTC+8 too.
    shown = status(scf_client, name, rid)["Data"][0]["StartTime"]
    assert shown in (format_api_time(started), format_api_time(started + 1))


@pytest.mark.parametrize(
    ("window", "code"),
    [
        pytest.param({"StartTime": "2030-01-01 00:00:00"}, "StartTimeOrEndTime", id="no end"),
        pytest.param(
            {"StartTime": "2030-01-01 00:00:00", "EndTime": "2030-01-01 00:00:00"},
            "StartTime",
            id="end not later",
        ),
        pytest.param(
            {"StartTime": "2030-01-01 00:00:00", "EndTime": "2030-01-02 00:00:01"},
            "StartTime",
            id="over a day",
        ),
        pytest.param(
            {"StartTime": "2030-01-01T00:00:00", "EndTime": "2030-01-02 00:00:00"},
            "StartTime",
            id="bad start",
        ),
        pytest.param(
            {"StartTime": "2030-01-01 00:00:00", "EndTime": "tomorrow"}, "DateTime", id="bad end"
        ),
    ],
)
def test_bad_windows_are_refused(scf_client, run, window, code):
    name, rid, _ = run
    params = {"FunctionName": name, "FunctionRequestId": rid, **window}
    assert error_code(scf_client, "GetRequestStatus", params) == f"InvalidParameterValue.{code}"


def test_a_one_day_window_is_accepted(scf_client, run):
    name, rid, started = run
    day = {
        "StartTime": format_api_time(started - 10),
        "EndTime": format_api_time(started - 10 + 24 * 3600),
    }
    assert status(scf_client, name, rid, **day)["TotalCount"] == 1
