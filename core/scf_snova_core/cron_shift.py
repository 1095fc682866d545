"""Move an SCF cron from the zone it was written in to the zone SCF reads it in
(:data:`~.cron.SCF_CRON_TZ`), so that it fires at the same instants; :func:`~.cron.to_scf_cron`
uses it.

A zone at a fixed offset from SCF's moves every firing by the same amount: the hours move (and,
for zones such as UTC+5:30, the minutes), and a firing that crosses midnight moves to the day
before or after, which the day and week fields must follow. What one cron cannot say is refused
with a :class:`~.cron.CronError` naming the reason:

- times of day that would land on different days, unless every date fires (``0 20,2 * * 1``
  from UTC: 20:00 Monday is 04:00 Tuesday in SCF's zone, 02:00 Monday stays Monday);
- moved times that are not every combination of some hours and some minutes (minutes ``0,45``
  from UTC+5:30 become 02:30 and 03:15 in different hours);
- a day of the month that would cross the month's end (the 28th or later moving forwards, the
  1st moving backwards unless every month and year fires, which ``L`` then expresses), or a day
  or week field using ``L``, ``W``, ``nL`` or ``n#k``;
- weekdays, or every day, that move while the month or year field is restricted (the day before
  Monday the 1st is in the month before);
- a zone whose UTC offset changes (daylight saving) when the schedule is not the same under each
  of its offsets: SCF has no zone setting, so one cron cannot follow both.

The week field is written with weekday names (``MON-FRI``): Tencent's pages disagree on whether
``0`` is Sunday or Monday, names cannot be misread.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

from .cron import _BOUNDS, SCF_CRON_TZ, CronError, ScfCron

__all__ = ["shift_to_scf", "zone_offsets"]

_WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MINUTES_PER_DAY = 24 * 60
#: How far ahead, and how finely, a zone's offsets are looked at: daylight saving changes twice
#: a year and lasts months.
_SAMPLE_SPAN = timedelta(days=2 * 366)
_SAMPLE_STEP = timedelta(hours=6)


def zone_offsets(zone: tzinfo, now: datetime) -> list[timedelta]:
    """The distinct UTC offsets ``zone`` has from ``now`` over the next two years, in the order
    they first occur."""
    found: list[timedelta] = []
    when, end = now.astimezone(timezone.utc), now + _SAMPLE_SPAN
    while when <= end:
        offset = when.astimezone(zone).utcoffset()
        if offset is not None and offset not in found:
            found.append(offset)
        when += _SAMPLE_STEP
    return found


def shift_to_scf(cron: ScfCron, zone: tzinfo, label: str, now: datetime) -> str:
    """The 7-field cron that fires, read in SCF's zone, when ``cron`` fires read in ``zone``.

    :param cron: the schedule, parsed.
    :param zone: the zone it is written in.
    :param label: how messages name the schedule and its zone, e.g. ``"'0 2 * * *' in UTC"``.
    :param now: the instant from which the zone's offsets matter.
    :raises CronError: when one cron cannot express the result (see the module docstring).
    """
    target = SCF_CRON_TZ.utcoffset(None)
    assert target is not None
    results: dict[str, timedelta] = {}
    for offset in zone_offsets(zone, now):
        results.setdefault(_shift(cron, target - offset, label), offset)
    if len(results) > 1:
        offsets = ", ".join(_utc(offset) for offset in results.values())
        raise CronError(
            f"{label}: the zone changes its offset ({offsets}, "
            "daylight saving) while SCF reads every cron at UTC+08:00 all year, so no single cron "
            "fires at the same instants; write the schedule in a zone without daylight saving "
            "(e.g. UTC) or one that does not depend on the hour"
        )
    return next(iter(results))


def _utc(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _shift(cron: ScfCron, delta: timedelta, label: str) -> str:
    """``cron`` with every firing moved by ``delta`` (SCF's offset minus the zone's)."""
    second, minute_text, hour_text, day_text, month_text, week_text, year_text = cron.fields
    seconds = int(delta.total_seconds())
    if seconds % 60:
        raise CronError(f"{label}: the zone's offset is not a whole number of minutes")
    moves: dict[int, set[tuple[int, int]]] = {}
    for hour in cron.hours:
        for minute in cron.minutes:
            carry, moved = divmod(hour * 60 + minute + seconds // 60, _MINUTES_PER_DAY)
            moves.setdefault(carry, set()).add(divmod(moved, 60))
    if _every_date(cron):
        carry, times = 0, set().union(*moves.values())
    elif len(moves) > 1:
        raise CronError(
            f"{label}: in SCF's zone (UTC+08:00) some of its "
            "times fall on the next or previous day and others do not, which one cron cannot "
            "say while its day, week, month or year field is restricted"
        )
    else:
        ((carry, times),) = moves.items()
    hours = {hour for hour, _ in times}
    minutes = {minute for _, minute in times}
    if len(times) != len(hours) * len(minutes):
        raise CronError(
            f"{label}: its times moved to UTC+08:00 are not "
            "every combination of some hours and some minutes, which one cron cannot say"
        )
    if hours != set(cron.hours):
        hour_text = _render("hour", hours)
    if minutes != set(cron.minutes):
        minute_text = _render("minute", minutes)
    weeks = cron.weeks
    week_values, week_last, week_nth = weeks.values, weeks.last, weeks.nth
    if carry:
        if not (cron.day_restricted or cron.week_restricted):  # every day of some months
            raise CronError(
                f"{label}: its times move to the next or previous day in SCF's zone "
                "(UTC+08:00), across the ends of the months or years it is restricted to, "
                "which one cron cannot say"
            )
        day_text = _shift_days(cron, carry, label)
        if cron.week_restricted:
            if week_last or week_nth or not _every_month(cron):
                raise CronError(
                    f"{label}: its weekdays move by a day in "
                    "SCF's zone (UTC+08:00), which one cron can say only for plain weekdays in "
                    "every month and year"
                )
            week_values = frozenset((value + carry) % 7 for value in week_values)
    if cron.week_restricted:
        week_text = _render_week(week_values, week_last, week_nth)
    return " ".join((second, minute_text, hour_text, day_text, month_text, week_text, year_text))


def _full(field: str) -> set[int]:
    low, high = _BOUNDS[field]
    return set(range(low, high + 1))


def _every_month(cron: ScfCron) -> bool:
    return cron.months == _full("month") and set(cron.years) == _full("year")


def _every_date(cron: ScfCron) -> bool:
    return not cron.day_restricted and not cron.week_restricted and _every_month(cron)


def _shift_days(cron: ScfCron, carry: int, label: str) -> str:
    """The day field with every day moved by ``carry`` (+1 or -1) within its month."""
    if not cron.day_restricted:
        return cron.fields[3]
    days = cron.days
    if days.last_offsets or days.last_weekday or days.nearest_weekday:
        raise CronError(
            f"{label}: its days move by a day in SCF's zone "
            "(UTC+08:00), which one cron cannot say for L or W days"
        )
    moved: set[int] = set()
    last = False
    for day in days.values:
        if carry > 0 and day >= 28:
            raise CronError(
                f"{label}: day {day} moves to the next day in "
                "SCF's zone (UTC+08:00), which is in the next month in some months"
            )
        if carry < 0 and day == 1:
            if not _every_month(cron):
                raise CronError(
                    f"{label}: day 1 moves to the last day of "
                    "the month before in SCF's zone (UTC+08:00), which one cron can say only "
                    "when every month and year fires"
                )
            last = True
            continue
        moved.add(day + carry)
    text = _render("day", moved) if moved else ""
    return ",".join(part for part in (text, "L" if last else "") if part)


def _render(field: str, values: set[int]) -> str:
    """A compact field for a set of values: ``*``, ``*/n``, ``a/n``, ``a-b/n`` or a list of
    values and ``a-b`` runs."""
    low, high = _BOUNDS[field]
    ordered = sorted(values)
    if set(ordered) == _full(field):
        return "*"
    if len(ordered) >= 3:
        step = ordered[1] - ordered[0]
        if step > 1 and all(b - a == step for a, b in zip(ordered, ordered[1:])):
            if ordered[-1] + step > high:
                return f"*/{step}" if ordered[0] == low else f"{ordered[0]}/{step}"
            return f"{ordered[0]}-{ordered[-1]}/{step}"
    return ",".join(_runs(ordered, str))


def _runs(ordered: list[int], name) -> list[str]:
    """``a-b`` for runs of three or more consecutive values, the values otherwise."""
    parts: list[str] = []
    start = 0
    for index in range(1, len(ordered) + 1):
        if index < len(ordered) and ordered[index] == ordered[index - 1] + 1:
            continue
        run = ordered[start:index]
        if len(run) >= 3:
            parts.append(f"{name(run[0])}-{name(run[-1])}")
        else:
            parts.extend(name(value) for value in run)
        start = index
    return parts


def _render_week(values, last, nth) -> str:
    """A restricted week field with weekday names: ``MON-FRI``, ``FRIL``, ``FRI#3``."""
    parts = _runs(sorted(values), lambda value: _WEEKDAY_NAMES[value])
    parts += [f"{_WEEKDAY_NAMES[value]}L" for value in sorted(last)]
    parts += [f"{_WEEKDAY_NAMES[value]}#{k}" for value, k in sorted(nth)]
    return ",".join(parts)
