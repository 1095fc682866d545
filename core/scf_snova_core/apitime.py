"""The ``YYYY-MM-DD HH:MM:SS`` time strings of the SCF API (``GetRequestStatus`` ``StartTime`` and
``EndTime``, ``ListAsyncEvents`` intervals, ``AddTime``...) are in China Standard Time, UTC+8.

Sources: the ``GetRequestStatus`` model of ``tencentcloud-sdk-python-scf`` (``StartTime``
"2017-05-16 20:00:00", default now - 15 min; ``EndTime`` required with ``StartTime`` and later
than it) and the API's own examples, where a request ``startTime`` of ``17:14:01`` comes with log
lines stamped ``09:14:01Z`` (https://cloud.tencent.com/document/api/583/9746).

Pure Python: the provider and the emulator share it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: The zone of the API's time strings (fixed offset: China has no daylight saving time).
API_TIMEZONE = timezone(timedelta(hours=8), "UTC+8")
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: What ``GetRequestStatus`` searches when no ``StartTime`` is sent: the last 15 minutes.
DEFAULT_STATUS_WINDOW = 15 * 60
#: The longest ``StartTime``..``EndTime`` window a client sends.
MAX_STATUS_WINDOW = 24 * 3600


def format_api_time(epoch: float) -> str:
    """``epoch`` (seconds) as the API writes times: ``YYYY-MM-DD HH:MM:SS`` in UTC+8."""
    return datetime.fromtimestamp(epoch, API_TIMEZONE).strftime(API_TIME_FORMAT)


def parse_api_time(text: str) -> float:
    """Epoch seconds of an API time string (UTC+8).

    :raises ValueError: not ``YYYY-MM-DD HH:MM:SS``.
    """
    return datetime.strptime(text, API_TIME_FORMAT).replace(tzinfo=API_TIMEZONE).timestamp()


def status_window(since: float, now: float, margin: float = 60.0) -> tuple[str, str]:
    """The ``(StartTime, EndTime)`` that finds an execution which started at or after ``since``:
    from ``since - margin`` (clock skew between the client and SCF) to ``now + margin``, at most
    :data:`MAX_STATUS_WINDOW` long."""
    start = since - margin
    end = min(max(now, since) + margin, start + MAX_STATUS_WINDOW)
    return format_api_time(start), format_api_time(end)
