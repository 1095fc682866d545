"""COS extra ``listing``: listing order and roll-up, shared by GET Bucket and List Object Versions.

Keys are kept sorted; Python's string order is code-point order, which is the UTF-8 byte order
COS lists in. ``max-keys`` counts objects and common prefixes together.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any


@dataclass
class ListPage:
    """One page of a listing: objects (or uploads) and rolled-up common prefixes."""

    items: list[Any]
    prefixes: list[str]
    truncated: bool
    next_marker: str | None


def _successor(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return "\U0010ffff" * 2


def walk(keys: list[str], prefix: str, delimiter: str, marker: str) -> Iterator[tuple[str, bool]]:
    """Yield ``(key, False)`` and ``(common_prefix, True)`` after ``marker``, in order.

    Keys that share a prefix up to the delimiter are rolled up into one common prefix; a common
    prefix at or before the marker (the previous page ended in it) is skipped whole.
    """
    i = bisect_right(keys, marker) if marker else 0
    i = max(i, bisect_left(keys, prefix))
    while i < len(keys):
        key = keys[i]
        if not key.startswith(prefix):
            return
        if delimiter:
            pos = key.find(delimiter, len(prefix))
            if pos >= 0:
                common = key[: pos + len(delimiter)]
                if not (marker and common <= marker):
                    yield common, True
                i = bisect_left(keys, _successor(common), i + 1)
                continue
        yield key, False
        i += 1


def page(walk: Iterator[tuple[str, bool]], limit: int) -> tuple[list[tuple[str, bool]], bool]:
    items = list(islice(walk, limit + 1)) if limit > 0 else []
    return items[:limit], len(items) > limit
