"""The SCF cron grammar: parsing, next firing, and conversion from crontab and Airflow presets.

The grammar tests read crons in UTC (``tz=UTC``); the zone SCF reads them in, and the conversion
between zones, are tested in ``test_cron_zones.py``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from scf_snova_core.cron import SCF_CRON_TZ, CronError, parse_scf_cron, to_scf_cron

UTC = timezone.utc


def firings(expression: str, start: datetime, count: int, tz=UTC) -> list[datetime]:
    cron = parse_scf_cron(expression, tz=tz)
    found, when = [], start
    for _ in range(count):
        when = cron.next_after(when)
        found.append(when)
    return found


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        pytest.param(
            "*/5 * * * * * *",
            datetime(2024, 3, 1, 0, 0, 58, tzinfo=UTC),
            ["2024-03-01 00:01:00", "2024-03-01 00:01:05", "2024-03-01 00:01:10"],
            id="every-5-seconds",
        ),
        pytest.param(
            "0 15 10 * * MON-FRI *",
            datetime(2024, 1, 5, 10, 15, 0, tzinfo=UTC),  # a Friday, exactly at the firing
            ["2024-01-08 10:15:00", "2024-01-09 10:15:00", "2024-01-10 10:15:00"],
            id="weekdays-strictly-after",
        ),
        pytest.param(
            "0 0 2 1 * * *",
            datetime(2024, 1, 15, tzinfo=UTC),
            ["2024-02-01 02:00:00", "2024-03-01 02:00:00", "2024-04-01 02:00:00"],
            id="monthly",
        ),
        pytest.param(
            "0 */30 9-17 * * * *",
            datetime(2024, 1, 1, 17, 10, tzinfo=UTC),
            ["2024-01-01 17:30:00", "2024-01-02 09:00:00", "2024-01-02 09:30:00"],
            id="office-hours",
        ),
        pytest.param(
            "0 0 0 L * ? *",
            datetime(2024, 1, 31, 12, tzinfo=UTC),
            ["2024-02-29 00:00:00", "2024-03-31 00:00:00", "2024-04-30 00:00:00"],
            id="last-day-of-month",
        ),
        pytest.param(
            "0 0 0 LW * ? *",
            datetime(2024, 3, 1, tzinfo=UTC),  # March 31st 2024 is a Sunday
            ["2024-03-29 00:00:00", "2024-04-30 00:00:00", "2024-05-31 00:00:00"],
            id="last-weekday",
        ),
        pytest.param(
            "0 0 0 1W * ? *",
            datetime(2024, 6, 1, tzinfo=UTC),  # June 1st 2024 is a Saturday -> Monday 3rd
            ["2024-06-03 00:00:00", "2024-07-01 00:00:00", "2024-08-01 00:00:00"],
            id="nearest-weekday",
        ),
        pytest.param(
            "0 0 0 ? * 5#3 *",
            datetime(2024, 3, 1, tzinfo=UTC),
            ["2024-03-15 00:00:00", "2024-04-19 00:00:00", "2024-05-17 00:00:00"],
            id="third-friday",
        ),
        pytest.param(
            "0 0 0 ? * FRIL *",
            datetime(2024, 3, 1, tzinfo=UTC),
            ["2024-03-29 00:00:00", "2024-04-26 00:00:00", "2024-05-31 00:00:00"],
            id="last-friday",
        ),
        pytest.param(
            "0 0 0 13 * 5 *",
            datetime(2024, 9, 1, tzinfo=UTC),  # day and week both restricted: ORed
            [
                "2024-09-06 00:00:00",
                "2024-09-13 00:00:00",
                "2024-09-20 00:00:00",
                "2024-09-27 00:00:00",
                "2024-10-04 00:00:00",
            ],
            id="day-or-week",
        ),
        pytest.param(
            "0 0 12 29 FEB ? 2024-2030",
            datetime(2024, 3, 1, tzinfo=UTC),
            ["2028-02-29 12:00:00"],
            id="names-and-years",
        ),
        pytest.param(
            "30 5/20 * * jan,dec ? *",
            datetime(2024, 11, 30, 23, 59, tzinfo=UTC),
            ["2024-12-01 00:05:30", "2024-12-01 00:25:30", "2024-12-01 00:45:30"],
            id="start-slash-step-and-lowercase-names",
        ),
    ],
)
def test_next_after(expression, start, expected):
    got = firings(expression, start, len(expected))
    assert [w.strftime("%Y-%m-%d %H:%M:%S") for w in got] == expected
    assert all(w.tzinfo == UTC for w in got)


@pytest.mark.parametrize(
    "crontab",
    ["*/7 3-9 * * *", "15 2 1,15 * *", "0 0 */2 * 1", "0 0 1 * MON", "5 4 * 2-11/3 SUN-WED"],
)
def test_converted_crontab_fires_like_airflows_croniter(crontab):
    """Converted from UTC and read in SCF's zone, the cron fires at croniter's instants."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    expected = croniter(crontab, start).all_next(datetime)
    got = firings(to_scf_cron(crontab, "UTC"), start, 40, tz=SCF_CRON_TZ)
    assert got == [next(expected) for _ in range(40)]


def test_no_firing_before_2100():
    started = time.monotonic()
    assert parse_scf_cron("0 0 0 30 2 ? *").next_after(datetime(2024, 1, 1, tzinfo=UTC)) is None
    assert time.monotonic() - started < 5


def test_zone_and_naive_datetimes():
    shanghai = ZoneInfo("Asia/Shanghai")
    cron = parse_scf_cron("0 0 9 * * * *", tz=shanghai)
    nxt = cron.next_after(datetime(2024, 1, 1, 0, 0, tzinfo=UTC))  # 08:00 in Shanghai
    assert nxt == datetime(2024, 1, 1, 9, 0, tzinfo=shanghai)
    assert nxt.astimezone(UTC) == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    naive = parse_scf_cron("0 0 9 * * * *", tz=UTC).next_after(datetime(2024, 1, 1, 9, 0))
    assert naive == datetime(2024, 1, 2, 9, 0, tzinfo=UTC)


def test_matches():
    cron = parse_scf_cron("0 15 10 * * MON-FRI *", tz=UTC)
    assert cron.matches(datetime(2024, 1, 8, 10, 15, tzinfo=UTC))
    assert not cron.matches(datetime(2024, 1, 7, 10, 15, tzinfo=UTC))  # Sunday
    assert not cron.matches(datetime(2024, 1, 8, 10, 15, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("expression", "field", "why"),
    [
        ("0 */5 * * * *", None, "expected 7 fields"),
        ("60 * * * * * *", "second", "outside 0-59"),
        ("0 0 24 * * * *", "hour", "outside 0-23"),
        ("0 0 0 32 * * *", "day", "outside 1-31"),
        ("0 0 0 * 13 * *", "month", "outside 1-12"),
        ("0 0 0 * * 7 *", "week", "outside 0-6"),
        ("0 0 0 * * * 1969", "year", "outside 1970-2099"),
        ("0 0 0 * JANUARY * *", "month", "not a number or a name"),
        ("0 0 0 * * FUNDAY *", "week", "not a number or a name"),
        ("0 0 17-9 * * * *", "hour", "runs backwards"),
        ("*/0 * * * * * *", "second", "at least 1"),
        ("? * * * * * *", "second", "only allowed in the day and week"),
        ("0 0 0 L-31 * * *", "day", "L-n needs n in 0-30"),
        ("0 0 0 * * 5#6 *", "week", "k in 1-5"),
        ("0 0 0 * * H *", "week", "not a number or a name"),
    ],
)
def test_invalid_expressions_name_the_field(expression, field, why):
    with pytest.raises(CronError) as raised:
        parse_scf_cron(expression)
    message = str(raised.value)
    assert why in message
    if field:
        assert f"{field} field" in message
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("@daily", "0 0 0 * * * *"),
        ("@hourly", "0 0 * * * * *"),
        ("@weekly", "0 0 0 * * SUN *"),
        ("@monthly", "0 0 0 1 * * *"),
        ("@yearly", "0 0 0 1 1 * *"),
        ("@quarterly", "0 0 0 1 */3 * *"),
        ("30 2 * * 1-5", "0 30 2 * * MON-FRI *"),
        ("0 0 * * 7", "0 0 0 * * SUN *"),
        ("0 0 * * 5-7", "0 0 0 * * SUN,FRI,SAT *"),
        ("  0  */5 * * * * *  ", "0 */5 * * * * *"),
        ("0 15 10 ? * MON-FRI *", "0 15 10 ? * MON-FRI *"),
        ("0 0 12 ? * 6#3 *", "0 0 12 ? * SAT#3 *"),
        ("0 0 12 ? * 5L *", "0 0 12 ? * FRIL *"),
    ],
)
def test_to_scf_cron_syntax(schedule, expected):
    """Written in SCF's own zone, a schedule is only rewritten: 7 fields, weekdays named."""
    assert to_scf_cron(schedule, SCF_CRON_TZ) == expected


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("@once", "no cron equivalent"),
        ("@continuous", "no cron equivalent"),
        (None, "not a cron expression"),
        ("@fortnightly", "unknown preset"),
        ("0 */5 * * * *", "6 fields"),
        ("*/5 * * *", "expected 5 fields"),
        ("0 0 * * 5-7/2", "cannot be converted"),
        ("0 0 * * H", "cannot be converted"),
        ("0 0 0 * * 7 *", "week field"),
    ],
)
def test_to_scf_cron_rejects_what_scf_cannot_express(schedule, why):
    with pytest.raises(CronError, match=why):
        to_scf_cron(schedule)


def test_every_second_cron_fires_every_second():
    start = datetime(2024, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)
    assert firings("* * * * * * *", start, 3) == [
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]
    assert firings("* * * * * * *", start, 1)[0] - start < timedelta(seconds=1)
