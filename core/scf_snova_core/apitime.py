"""Times as the SCF API writes them: ``YYYY-MM-DD HH:MM:SS`` strings in UTC+8 (Beijing time).

The SCF API 3.0 takes and returns times such as ``GetRequestStatus``'s ``StartTime`` and
``EndTime``, ``ListAsyncEvents``' intervals and ``AddTime`` as ``"2017-05-16 20:00:00"``, without a
zone. Tencent's pages show them as Beijing time: the example of
https://cloud.tencent.com/document/api/583/9746 pairs ``"startTime": "2017-09-18 17:14:01"`` with
log lines stamped ``2017-09-18T09:14:01.236Z``. China has no daylight saving time, so the zone is a
fixed offset. CLS takes epoch milliseconds instead (:func:`epoch_ms`).

``GetRequestStatus`` (the ``tencentcloud-sdk-python-scf`` model): ``StartTime`` defaults to 15
minutes before now; with ``StartTime``, ``EndTime`` is required and must be later.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from .limits import REQUEST_STATUS_MAX_WINDOW

#: The zone of the SCF API's time strings.
API_TIMEZONE = timezone(timedelta(hours=8), "UTC+08:00")
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: Seconds of clock skew allowed for between a client and SCF around an invocation's time.
CLOCK_MARGIN = 60.0


def format_api_time(epoch: float) -> str:
    """``epoch`` (seconds) as an SCF API time string, truncated to the second."""
    return datetime.fromtimestamp(math.floor(epoch), API_TIMEZONE).strftime(API_TIME_FORMAT)


def parse_api_time(text: str) -> float:
    """Epoch seconds of an SCF API time string.

    :raises ValueError: not ``YYYY-MM-DD HH:MM:SS``.
    """
    return datetime.strptime(text, API_TIME_FORMAT).replace(tzinfo=API_TIMEZONE).timestamp()


def epoch_ms(epoch: float) -> int:
    """``epoch`` (seconds) in whole milliseconds, as CLS counts time."""
    return int(math.floor(epoch * 1000))


def status_window(invoked_at: float | None, now: float) -> tuple[str, str]:
    """``StartTime`` and ``EndTime`` of a ``GetRequestStatus`` call that finds a run invoked at
    ``invoked_at``: from :data:`CLOCK_MARGIN` before it to :data:`CLOCK_MARGIN` after now, at
    most :data:`~.limits.REQUEST_STATUS_MAX_WINDOW` long; when the invoke time is unknown, that
    whole window up to a margin after now.

    :param invoked_at: when the run was invoked (epoch seconds), or ``None``.
    :param now: epoch seconds.
    """
    end = max(now, invoked_at if invoked_at is not None else now) + CLOCK_MARGIN
    if invoked_at is None:
        start = end - REQUEST_STATUS_MAX_WINDOW
    else:
        start = invoked_at - CLOCK_MARGIN
    end = min(end, math.floor(start) + REQUEST_STATUS_MAX_WINDOW)
    return format_api_time(start), format_api_time(end)
