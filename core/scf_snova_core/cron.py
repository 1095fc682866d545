"""SCF timer cron expressions: parse, validate, compute the next firing, convert from crontab.

SCF documents two forms (https://cloud.tencent.com/document/product/583/9708): the recommended
seven space-separated fields, ``second minute hour day month week year``::

    second  0-59                 , - * /
    minute  0-59                 , - * /
    hour    0-23                 , - * /
    day     1-31                 , - * /  ?  L  L-n  LW  nW
    month   1-12 or JAN-DEC      , - * /
    week    0-6 or SUN-SAT       , - * /  ?  L  nL  n#k      (0 = Sunday)
    year    1970-2099            , - * /

and the legacy five fields, ``minute hour day month week``, with only ``, - * /`` and names
(read as second ``0`` and year ``*``).

``a/n`` means "from a, every n". Names are case-insensitive. When both day and week are
restricted they are ORed (a date matches if either matches), the rule Airflow's croniter follows
too; a field is restricted unless it covers its whole range (``*``, ``?``, ``*/1``, ``1-31``).
Tencent's pages disagree on whether weekday ``0`` is Sunday or Monday; it is read as Sunday (the
majority), and what :func:`to_scf_cron` emits names weekdays (``MON-FRI``) instead.

SCF reads the fields in :data:`SCF_CRON_TZ`. :func:`to_scf_cron` converts a schedule written in
another zone (a DAG's) into that zone (:mod:`.cron_shift`).

Pure Python (no Airflow import): the provider and the emulator share it.
"""

from __future__ import annotations

import bisect
import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from .errors import InvalidValueError

__all__ = [
    "AIRFLOW_PRESETS",
    "SCF_CRON_TZ",
    "CronError",
    "ScfCron",
    "parse_scf_cron",
    "to_scf_cron",
]

#: The zone SCF reads timer crons in. No Tencent page names it (the runtime's clock and the timer
#: event's ``Time`` are documented as UTC; the cron examples are written for Beijing users), so it
#: is modelled as China Standard Time, UTC+8 without daylight saving (an assumption recorded in
#: ``docs/emulator.md``). The emulator evaluates timers in it.
SCF_CRON_TZ = timezone(timedelta(hours=8), "UTC+08:00")

FIELD_NAMES = ("second", "minute", "hour", "day", "month", "week", "year")
_BOUNDS = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day": (1, 31),
    "month": (1, 12),
    "week": (0, 6),
    "year": (1970, 2099),
}
_MONTHS = {
    name: i
    for i, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_WEEKDAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
_NAMES = {"month": _MONTHS, "week": _WEEKDAYS}

#: Airflow's cron presets and their SCF equivalents (``@weekly`` is Sunday midnight, as in
#: Airflow).
AIRFLOW_PRESETS = {
    "@yearly": "0 0 0 1 1 * *",
    "@annually": "0 0 0 1 1 * *",
    "@quarterly": "0 0 0 1 */3 * *",
    "@monthly": "0 0 0 1 * * *",
    "@weekly": "0 0 0 * * SUN *",
    "@daily": "0 0 0 * * * *",
    "@midnight": "0 0 0 * * * *",
    "@hourly": "0 0 * * * * *",
}
_UNSCHEDULED = ("@once", "@continuous", "none")


class CronError(InvalidValueError):
    """A cron expression SCF would reject (or that cannot be converted); the message names the
    field and the reason."""


@dataclass(frozen=True)
class _DaySpec:
    values: frozenset[int]
    last_offsets: frozenset[int]  # L (0) and L-n (n)
    last_weekday: bool  # LW
    nearest_weekday: frozenset[int]  # nW

    def matches(self, day: date) -> bool:
        month_len = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.values:
            return True
        if any(day.day == month_len - offset for offset in self.last_offsets):
            return True
        if self.last_weekday and day == _nearest_weekday(day.year, day.month, month_len):
            return True
        return any(
            n <= month_len and day == _nearest_weekday(day.year, day.month, n)
            for n in self.nearest_weekday
        )


@dataclass(frozen=True)
class _WeekSpec:
    values: frozenset[int]
    last: frozenset[int]  # nL: the last <weekday n> of the month
    nth: frozenset[tuple[int, int]]  # n#k: the k-th <weekday n> of the month

    def matches(self, day: date) -> bool:
        weekday = _scf_weekday(day)
        if weekday in self.values:
            return True
        month_len = calendar.monthrange(day.year, day.month)[1]
        if weekday in self.last and day.day + 7 > month_len:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth


def _scf_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7  # Python: Monday=0; SCF: Sunday=0


def _nearest_weekday(year: int, month: int, n: int) -> date:
    """The weekday (Mon-Fri) nearest to day ``n``, without leaving the month (Quartz ``nW``)."""
    target = date(year, month, n)
    month_len = calendar.monthrange(year, month)[1]
    if target.weekday() == 5:  # Saturday -> Friday, or Monday when the 1st
        return target - timedelta(days=1) if n > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday -> Monday, or Friday when the month's last day
        return target + timedelta(days=1) if n < month_len else target - timedelta(days=2)
    return target


@dataclass(frozen=True)
class ScfCron:
    """A parsed, validated SCF cron expression (build it with :func:`parse_scf_cron`).

    :ivar expression: the expression as given (whitespace normalised).
    :ivar tz: the zone the fields are read in.
    :ivar fields: the seven field texts (a legacy 5-field expression gets second ``0`` and
        year ``*``).
    """

    expression: str
    tz: tzinfo
    fields: tuple[str, ...]
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: _DaySpec
    months: frozenset[int]
    weeks: _WeekSpec
    years: tuple[int, ...]
    day_restricted: bool
    week_restricted: bool

    def __str__(self) -> str:
        return self.expression

    def matches_date(self, day: date) -> bool:
        """Whether the day, month, week and year fields allow ``day``."""
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_restricted and self.week_restricted:
            return self.days.matches(day) or self.weeks.matches(day)
        if self.day_restricted:
            return self.days.matches(day)
        if self.week_restricted:
            return self.weeks.matches(day)
        return True

    def matches(self, when: datetime) -> bool:
        """Whether the expression fires at ``when`` (to the second)."""
        local = self._local(when)
        return (
            self.matches_date(local.date())
            and local.hour in self.hours
            and local.minute in self.minutes
            and local.second in self.seconds
        )

    def next_after(self, after: datetime) -> datetime | None:
        """The first firing strictly after ``after``, or ``None`` if there is none before 2100.

        :param after: an aware datetime (converted to :attr:`tz`) or a naive one (read as
            :attr:`tz` wall-clock time).
        :return: an aware datetime in :attr:`tz`.
        """
        start = self._local(after).replace(microsecond=0) + timedelta(seconds=1)
        cursor = start.date()
        while cursor.year <= self.years[-1]:
            if cursor.year not in self.years:
                later = [y for y in self.years if y > cursor.year]
                if not later:
                    return None
                cursor = date(later[0], 1, 1)
                continue
            if cursor.month not in self.months:
                cursor = (
                    date(cursor.year + 1, 1, 1)
                    if cursor.month == 12
                    else date(cursor.year, cursor.month + 1, 1)
                )
                continue
            if self.matches_date(cursor):
                floor = start.time() if cursor == start.date() else time(0, 0, 0)
                found = self._first_time_at_or_after(floor)
                if found is not None:
                    return datetime.combine(cursor, found).replace(tzinfo=self.tz)
            cursor += timedelta(days=1)
        return None

    def _local(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            return when
        return when.astimezone(self.tz).replace(tzinfo=None)

    def _first_time_at_or_after(self, floor: time) -> time | None:
        for hour in self.hours[bisect.bisect_left(self.hours, floor.hour) :]:
            minutes = self.minutes
            if hour == floor.hour:
                minutes = minutes[bisect.bisect_left(minutes, floor.minute) :]
            for minute in minutes:
                seconds = self.seconds
                if hour == floor.hour and minute == floor.minute:
                    seconds = seconds[bisect.bisect_left(seconds, floor.second) :]
                if seconds:
                    return time(hour, minute, seconds[0])
        return None


# -- parsing --------------------------------------------------------------------------------------
_RANGE = re.compile(r"^(?P<start>[A-Za-z0-9]+)(?:-(?P<end>[A-Za-z0-9]+))?(?:/(?P<step>\d+))?$")
_STAR = re.compile(r"^\*(?:/(?P<step>\d+))?$")
#: What a field of the legacy 5-field form may hold: numbers, names and ``, - * /``.
_LEGACY_FIELD = re.compile(r"^[A-Za-z0-9,*/-]+$")


class _FieldError(Exception):
    pass


def _number(field: str, text: str) -> int:
    names = _NAMES.get(field, {})
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None:
        allowed = (
            "a number" if not names else "a number or a name like " + ", ".join(list(names)[:3])
        )
        raise _FieldError(f"{text!r} is not {allowed}")
    low, high = _BOUNDS[field]
    if not low <= value <= high:
        raise _FieldError(f"{value} is outside {low}-{high}")
    return value


def _step(text: str | None) -> int:
    if text is None:
        return 1
    step = int(text)
    if step < 1:
        raise _FieldError("a step must be at least 1")
    return step


def _expand(field: str, term: str) -> set[int]:
    """The values of one plain list element: ``*``, ``*/n``, ``a``, ``a-b``, ``a/n``, ``a-b/n``."""
    low, high = _BOUNDS[field]
    star = _STAR.match(term)
    if star:
        return set(range(low, high + 1, _step(star.group("step"))))
    match = _RANGE.match(term)
    if not match:
        raise _FieldError(f"cannot read {term!r}")
    start = _number(field, match.group("start"))
    step = _step(match.group("step"))
    if match.group("end") is not None:
        end = _number(field, match.group("end"))
        if end < start:
            raise _FieldError(f"range {term!r} runs backwards")
    else:
        end = high if match.group("step") is not None else start
    return set(range(start, end + 1, step))


def _parse_plain(field: str, text: str) -> frozenset[int]:
    values: set[int] = set()
    for term in text.split(","):
        if term in ("?",):
            raise _FieldError("'?' is only allowed in the day and week fields")
        values |= _expand(field, term)
    return frozenset(values)


def _parse_day(text: str, legacy: bool = False) -> tuple[_DaySpec, bool]:
    if legacy:  # no ``?``, ``L`` or ``W`` in the 5-field form
        values = _parse_plain("day", text)
        spec = _DaySpec(values, frozenset(), False, frozenset())
        return spec, values != set(range(1, 32))
    if text == "?":
        return _DaySpec(frozenset(range(1, 32)), frozenset(), False, frozenset()), False
    values: set[int] = set()
    last: set[int] = set()
    last_weekday = False
    nearest: set[int] = set()
    for term in text.split(","):
        upper = term.upper()
        if upper == "L":
            last.add(0)
        elif upper.startswith("L-"):
            offset = upper[2:]
            if not offset.isdigit() or not 0 <= int(offset) <= 30:
                raise _FieldError(f"{term!r}: L-n needs n in 0-30")
            last.add(int(offset))
        elif upper == "LW":
            last_weekday = True
        elif upper.endswith("W"):
            nearest.add(_number("day", upper[:-1]))
        elif "?" in term:
            raise _FieldError("'?' must stand alone")
        else:
            values |= _expand("day", term)
    spec = _DaySpec(frozenset(values), frozenset(last), last_weekday, frozenset(nearest))
    restricted = bool(last or last_weekday or nearest) or values != set(range(1, 32))
    return spec, restricted


def _parse_week(text: str, legacy: bool = False) -> tuple[_WeekSpec, bool]:
    if legacy:  # no ``?``, ``L`` or ``#`` in the 5-field form
        values = _parse_plain("week", text)
        return _WeekSpec(values, frozenset(), frozenset()), values != set(range(7))
    if text == "?":
        return _WeekSpec(frozenset(range(7)), frozenset(), frozenset()), False
    values: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for term in text.split(","):
        upper = term.upper()
        if upper == "L":
            values.add(6)  # Quartz: "L" alone in day-of-week is the last day, Saturday
        elif "#" in upper:
            weekday, _, k = upper.partition("#")
            if not k.isdigit() or not 1 <= int(k) <= 5:
                raise _FieldError(f"{term!r}: n#k needs k in 1-5")
            nth.add((_number("week", weekday), int(k)))
        elif upper.endswith("L"):
            last.add(_number("week", upper[:-1]))
        elif "?" in term:
            raise _FieldError("'?' must stand alone")
        else:
            values |= _expand("week", term)
    spec = _WeekSpec(frozenset(values), frozenset(last), frozenset(nth))
    restricted = bool(last or nth) or values != set(range(7))
    return spec, restricted


def parse_scf_cron(expression: str, tz: tzinfo = SCF_CRON_TZ) -> ScfCron:
    """Parse and validate an SCF cron expression, in either documented form.

    :param expression: 7 fields, e.g. ``"0 */5 * * * * *"`` or ``"0 15 10 ? * MON-FRI *"``, or
        the legacy 5 fields, e.g. ``"*/5 * * * *"`` (only ``, - * /`` and names).
    :param tz: the zone the fields are read in: SCF's (:data:`SCF_CRON_TZ`) unless told.
    :raises CronError: naming the field and what is wrong with it.
    """
    if not isinstance(expression, str):
        raise CronError(f"cron expression must be a string, got {type(expression).__name__}")
    fields = expression.split()
    if len(fields) == 5:
        for name, text in zip(FIELD_NAMES[1:6], fields):
            if not _LEGACY_FIELD.match(text):
                raise CronError(
                    f"cron {expression!r}: {name} field {text!r}: the 5-field form allows only "
                    "numbers, names and , - * /"
                )
        seven = ["0", *fields, "*"]
    elif len(fields) == 7:
        seven = fields
    else:
        raise CronError(
            f"cron {expression!r}: expected 7 fields (second minute hour day month week year) "
            f"or the legacy 5 (minute hour day month week), got {len(fields)}"
        )
    parsed: dict[str, object] = {}
    for name, text in zip(FIELD_NAMES, seven):  # both have 7 items
        try:
            if name == "day":
                parsed[name] = _parse_day(text, legacy=len(fields) == 5)
            elif name == "week":
                parsed[name] = _parse_week(text, legacy=len(fields) == 5)
            else:
                parsed[name] = _parse_plain(name, text)
        except (_FieldError, ValueError) as exc:
            raise CronError(f"cron {expression!r}: {name} field {text!r}: {exc}") from exc
    days, day_restricted = parsed["day"]  # type: ignore[misc]
    weeks, week_restricted = parsed["week"]  # type: ignore[misc]
    return ScfCron(
        expression=" ".join(fields),
        tz=tz,
        fields=tuple(seven),
        seconds=tuple(sorted(parsed["second"])),  # type: ignore[arg-type]
        minutes=tuple(sorted(parsed["minute"])),  # type: ignore[arg-type]
        hours=tuple(sorted(parsed["hour"])),  # type: ignore[arg-type]
        days=days,
        months=parsed["month"],  # type: ignore[arg-type]
        weeks=weeks,
        years=tuple(sorted(parsed["year"])),  # type: ignore[arg-type]
        day_restricted=day_restricted,
        week_restricted=week_restricted,
    )


def numeric_weekdays(cron: ScfCron) -> bool:
    """Whether the week field picks weekdays by number (``1-5``, ``5#3``, ``*/2``), which
    Tencent's pages read differently (0 = Sunday on most, 0 = Monday on one)."""
    return re.search(r"\d", re.sub(r"#\d+", "", cron.fields[5])) is not None


# -- conversion -----------------------------------------------------------------------------------
def _crontab_weekdays(text: str) -> str:
    """Map crontab's Sunday-as-7 onto SCF's 0 (``7`` -> ``0``, ``5-7`` -> ``5-6,0``)."""
    terms = []
    for term in text.split(","):
        match = _RANGE.match(term)
        if match and match.group("start") == "7" and match.group("end") is None:
            if match.group("step"):
                raise CronError(f"day-of-week {term!r}: a step starting at 7 cannot be converted")
            terms.append("0")
        elif match and match.group("end") == "7":
            if match.group("step"):
                raise CronError(
                    f"day-of-week {term!r}: a stepped range ending at 7 (Sunday) cannot be "
                    "converted; list the days instead"
                )
            start = match.group("start")
            terms.append("0" if start == "7" else f"{start}-6,0")
        else:
            terms.append(term)
    return ",".join(terms)


def to_scf_cron(expression: str, timezone: str | tzinfo | None = "UTC") -> str:
    """Convert a schedule written in ``timezone`` into the 7-field SCF cron that fires at the same
    instants when SCF reads it in :data:`SCF_CRON_TZ`, with weekdays named (``MON-FRI``).

    Accepts an Airflow cron preset (``@daily``, ``@hourly``, ...), a 5-field crontab
    (``minute hour day month weekday``; seconds become ``0`` and year ``*``; a weekday of ``7``
    is Sunday), or a 7-field SCF cron, each read in ``timezone``.

    :param expression: the schedule.
    :param timezone: the zone the schedule is written in (a DAG's): an IANA name such as
        ``"Europe/Berlin"``, a ``tzinfo``, or ``None`` for UTC. Give :data:`SCF_CRON_TZ` (or
        ``"Asia/Shanghai"``) for a cron already written for SCF.
    :raises CronError: for what SCF cannot express: ``@once``/``@continuous``/``None``, 6-field
        (Quartz or croniter-with-seconds) expressions, fields SCF's grammar rejects, crons that
        never fire, and schedules one cron in SCF's zone cannot follow (see
        :mod:`.cron_shift`: times crossing midnight on restricted days, daylight saving).
    """
    from .cron_shift import shift_to_scf

    if expression is None or not isinstance(expression, str):
        raise CronError(f"schedule {expression!r} is not a cron expression")
    zone, zone_name = _zone(timezone)
    text = expression.strip()
    lowered = text.lower()
    if lowered in _UNSCHEDULED:
        raise CronError(f"schedule {text!r} has no cron equivalent; SCF timers fire on a cron")
    if text.startswith("@") and lowered not in AIRFLOW_PRESETS:
        raise CronError(
            f"unknown preset {text!r}; known presets: {', '.join(sorted(AIRFLOW_PRESETS))}"
        )
    fields = AIRFLOW_PRESETS.get(lowered, text).split()
    if len(fields) == 7:
        parsed = parse_scf_cron(" ".join(fields), tz=zone)
    elif len(fields) == 6:
        raise CronError(
            f"cron {text!r} has 6 fields: Quartz (seconds first) and croniter (seconds last) "
            "disagree on what they mean; give a 5-field crontab or a 7-field SCF cron"
        )
    elif len(fields) != 5:
        raise CronError(
            f"cron {text!r}: expected 5 fields (crontab) or 7 fields (SCF), got {len(fields)}"
        )
    else:
        minute, hour, day, month, week = fields
        converted = f"0 {minute} {hour} {day} {month} {_crontab_weekdays(week)} *"
        try:
            parsed = parse_scf_cron(converted, tz=zone)
        except CronError as exc:
            raise CronError(f"crontab {text!r} cannot be converted: {exc}") from exc
    _ensure_fires(parsed, text)
    label = f"schedule {text!r} in {zone_name}"
    return _ensure_fires(parse_scf_cron(shift_to_scf(parsed, zone, label, _now())), text)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _zone(value: str | tzinfo | None) -> tuple[tzinfo, str]:
    """``(zone, name)`` of a zone given by IANA name, as a ``tzinfo``, or ``None`` (UTC)."""
    if value is None or (isinstance(value, str) and value.upper() in ("UTC", "ETC/UTC", "Z")):
        return timezone.utc, "UTC"
    if isinstance(value, tzinfo):
        return value, str(getattr(value, "key", None) or getattr(value, "name", None) or value)
    if not isinstance(value, str):
        raise CronError(f"time zone {value!r} is neither a zone name nor a tzinfo")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(value), value
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown time zone {value!r}") from exc


def _ensure_fires(cron: ScfCron, given: str) -> str:
    """``cron``'s expression, unless no instant from now on matches it (``0 0 30 2 *``, a past
    year): such a timer would be created and silently never fire."""
    if cron.next_after(_now()) is None:
        raise CronError(
            f"cron {given!r} never fires: no date from now until 2099 matches its day, month, "
            "week and year fields together"
        )
    return cron.expression
