"""Times as the SCF API writes them: ``YYYY-MM-DD HH:MM:SS`` strings in UTC+8 (Beijing time).

The SCF API 3.0 takes and returns times such as ``GetRequestStatus``'s ``StartTime`` as
``"2017-05-16 20:00:00"``, without a zone. Tencent's pages show them as Beijing time: the example
of https://cloud.tencent.com/document/api/583/9746 pairs ``"startTime": "2017-09-18 17:14:01"``
with log lines stamped ``2017-09-18T09:14:01.236Z``. China has no daylight saving time, so the
zone is a fixed offset. CLS takes epoch milliseconds instead (:func:`epoch_ms`).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

#: The zone of the SCF API's time strings.
API_TIMEZONE = timezone(timedelta(hours=8), "UTC+08:00")
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


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
