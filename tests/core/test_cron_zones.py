"""SCF's cron zone, the legacy 5-field form, and converting a schedule from a DAG's zone.

SCF reads timer crons in ``SCF_CRON_TZ`` (UTC+8, the stricter assumption of
``docs/emulator.md``). ``to_scf_cron(schedule, timezone)`` must give a cron that, read there,
fires at the very instants the schedule fires in its own zone (checked against Airflow's
croniter), or refuse with the reason.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from scf_snova_core.cron import (
    SCF_CRON_TZ,
    CronError,
    numeric_weekdays,
    parse_scf_cron,
    to_scf_cron,
)

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)


def scf_firings(expression: str, count: int, start: datetime = START) -> list[datetime]:
    cron = parse_scf_cron(expression)  # read in SCF's zone
    found, when = [], start
    for _ in range(count):
        when = cron.next_after(when)
        found.append(when)
    return found


def test_scf_reads_crons_at_utc_plus_8_and_the_event_time_stays_utc():
    from scf_snova_core.events import timer_event

    assert SCF_CRON_TZ.utcoffset(None) == timedelta(hours=8)
    fired = parse_scf_cron("0 0 9 * * * *").next_after(datetime(2025, 1, 1, tzinfo=UTC))
    assert fired == datetime(2025, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 at UTC+8
    assert timer_event("t", "", fired)["Time"] == "2025-01-01T01:00:00Z"


def test_the_legacy_five_field_form():
    cron = parse_scf_cron("*/20 9 * * MON-FRI")
    assert cron.expression == "*/20 9 * * MON-FRI"
    assert cron.fields == ("0", "*/20", "9", "*", "*", "MON-FRI", "*")
    assert [
        w.astimezone(SCF_CRON_TZ).strftime("%a %H:%M:%S") for w in scf_firings(str(cron), 4)
    ] == [
        "Wed 09:00:00",  # 2025-01-01 is a Wednesday
        "Wed 09:20:00",
        "Wed 09:40:00",
        "Thu 09:00:00",
    ]
    assert scf_firings("0 9 * * 0", 1)[0].astimezone(SCF_CRON_TZ).strftime("%a") == "Sun"


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("0 9 ? * MON", "only numbers, names and , - * /"),
        ("0 9 L * *", "not a number"),
        ("0 9 15W * *", "not a number"),
        ("0 9 * * 5L", "not a number or a name"),
        ("0 9 * * 5#3", "only numbers, names and , - * /"),
        ("0 9 * * 7", "outside 0-6"),
        ("60 9 * * *", "minute field '60'"),
    ],
)
def test_the_legacy_form_allows_only_its_own_wildcards(expression, why):
    with pytest.raises(CronError, match=re.escape(why)):
        parse_scf_cron(expression)


def test_numeric_weekdays_are_noticed():
    assert numeric_weekdays(parse_scf_cron("0 0 9 * * 1-5 *"))
    assert numeric_weekdays(parse_scf_cron("0 0 9 ? * 5#3 *"))
    assert numeric_weekdays(parse_scf_cron("0 0 9 ? * */2 *"))  # Sun, Tue... or Mon, Wed...?
    assert not numeric_weekdays(parse_scf_cron("0 0 9 ? * FRI#3 *"))
    assert not numeric_weekdays(parse_scf_cron("0 0 9 * * MON-FRI *"))
    assert not numeric_weekdays(parse_scf_cron("0 0 9 * * * *"))


@pytest.mark.parametrize(
    ("schedule", "zone", "expected"),
    [
        ("@daily", "UTC", "0 0 8 * * * *"),
        ("@daily", None, "0 0 8 * * * *"),
        ("@weekly", "UTC", "0 0 8 * * SUN *"),
        ("@hourly", "UTC", "0 0 * * * * *"),
        ("30 20 * * 1-5", "UTC", "0 30 4 * * TUE-SAT *"),
        ("0 9 * * *", "Asia/Shanghai", "0 0 9 * * * *"),
        ("0 9 * * *", "Asia/Kolkata", "0 30 11 * * * *"),
        ("0 9 * * *", "Asia/Kathmandu", "0 15 11 * * * *"),
        ("0 0 1 * *", "Asia/Tokyo", "0 0 23 L * * *"),
        ("0 20 5,10 * *", "UTC", "0 0 4 6,11 * * *"),
        ("0 0 5 * *", "America/Bogota", "0 0 13 5 * * *"),
        ("*/15 * * * *", "Europe/Berlin", "0 */15 * * * * *"),
        ("0 15 10 ? * FRI#3 *", "Asia/Shanghai", "0 15 10 ? * FRI#3 *"),
    ],
)
def test_to_scf_cron_moves_a_schedule_into_scf_zone(schedule, zone, expected):
    assert to_scf_cron(schedule, zone) == expected


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "America/Bogota", "Pacific/Kiritimati"],
)
@pytest.mark.parametrize(
    "crontab",
    [
        "0 0 * * *",
        "30 2 * * 1-5",
        "0 22 * * 0",
        "*/10 9-17 * * *",
        "15 6 2,9,16 * *",
        "0 12 * 1,7 *",
        "0 */6 * * *",
        "45 23 * * 6",
    ],
)
def test_converted_schedules_fire_at_the_same_instants(crontab, zone):
    """Either the converted cron, read in SCF's zone, fires when croniter fires the crontab in
    its zone, or the conversion is refused."""
    start = START.astimezone(ZoneInfo(zone))
    try:
        converted = to_scf_cron(crontab, zone)
    except CronError as err:
        assert "one cron" in str(err)
        return
    expected = croniter(crontab, start).all_next(datetime)
    assert scf_firings(converted, 60, start) == [next(expected) for _ in range(60)]


@pytest.mark.parametrize(
    ("schedule", "zone", "why"),
    [
        ("0 2 * * *", "Europe/Berlin", "daylight saving"),
        ("@daily", "America/New_York", "UTC-05:00, UTC-04:00"),
        ("0 20,2 * * 1", "UTC", "fall on the next or previous day"),
        ("0,45 3 * * *", "Asia/Kolkata", "every combination of some hours and some minutes"),
        ("0 23 28 * *", "UTC", "in the next month in some months"),
        ("0 0 1 2 *", "Asia/Tokyo", "only when every month and year fires"),
        ("0 20 * 1 MON", "UTC", "only for plain weekdays in every month and year"),
        ("0 20 ? * 5L", "UTC", "only for plain weekdays"),
        ("0 0 20 L * ? *", "UTC", "L or W days"),
        ("@daily", "Mars/Olympus_Mons", "unknown time zone"),
    ],
)
def test_what_one_cron_cannot_say_is_refused(schedule, zone, why):
    with pytest.raises(CronError, match=why) as raised:
        to_scf_cron(schedule, zone)
    assert repr(schedule) in str(raised.value) or "time zone" in str(raised.value)


def test_a_tzinfo_is_accepted_as_the_zone():
    assert to_scf_cron("0 9 * * *", ZoneInfo("Asia/Tokyo")) == "0 0 8 * * * *"
    assert to_scf_cron("0 9 * * *", SCF_CRON_TZ) == "0 0 9 * * * *"
