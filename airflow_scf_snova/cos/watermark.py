"""A bounded high-water mark of the COS objects an event trigger has already announced.

Remembering every ``key -> etag`` ever seen would grow with the bucket. The watermark instead
keeps an instant ``since`` and the ETags of the objects modified at or after it:

- an object modified **before** ``since`` is old and never announced again;
- an object modified at or after ``since`` is announced unless ``seen`` already holds its key with
  the same ETag (COS timestamps have one-second resolution, so several objects share an instant
  and must be told apart by key, and an overwrite in the same second by ETag);
- after each scan ``since`` moves to ``newest - settle`` (never backwards) and ``seen`` keeps only
  the objects at or after it.

The state is therefore bounded by the objects written during the ``settle`` window before the
newest object (with ``settle=0``: the objects sharing the newest second), not by the bucket.

The price: an object that becomes visible with a modification time older than ``since`` (an
upload that took longer than ``settle`` to become listable after COS stamped its time, or an
object restored with an old timestamp) is never announced. ``settle`` trades state size against
that window. Deletions are not announced.

**Ordered polls** (:class:`OrderedScan`) list only the keys after ``after_key``, the greatest key
listed so far (COS's ``marker``), so that they cost the new objects, not the bucket, when keys
arrive in lexicographic order (date-partitioned paths). They announce every listed object whose
``key -> etag`` is in neither ``seen`` nor ``recent`` and add it to ``recent``; ``since`` and
``seen`` do not move. A full scan (:class:`WatermarkScan`) treats ``seen`` and ``recent`` together
as announced, then clears ``recent`` and moves ``since``: ``recent`` is bounded by the objects
announced between two full scans. An object whose key sorts at or before ``after_key`` when it
appears is left to the next full scan, which announces it when its modification time is at or
after that scan's ``since`` (the ``since`` of the full scan before it).

Pure Python: no Airflow and no SDK imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scf_snova_core.objects import COSObject, parse_cos_time

STATE_VERSION = 2
#: The versions :meth:`Watermark.from_json` reads (1: ``since`` and ``seen`` only).
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Watermark:
    """Objects at or after ``since`` that were already announced.

    :param since: ``None`` before anything was seen: every object is then new.
    :param seen: ``key -> etag`` of the objects modified at or after ``since``.
    :param after_key: the greatest key listed so far; ``None`` until a full scan listed one (an
        ordered poll is then not possible).
    :param recent: ``key -> etag`` announced by ordered polls since the last full scan.
    :param full_at: when the last full scan started (POSIX seconds), ``None`` if unknown.
    """

    since: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)
    after_key: str | None = None
    recent: dict[str, str] = field(default_factory=dict)
    full_at: float | None = None

    @property
    def announced(self) -> dict[str, str]:
        """``seen`` and ``recent`` together (``recent`` is the newer)."""
        return {**self.seen, **self.recent} if self.recent else self.seen

    def to_json(self) -> dict[str, Any]:
        """A JSON value for the asset state store."""
        return {
            "version": STATE_VERSION,
            "since": self.since.isoformat() if self.since else None,
            "seen": dict(self.seen),
            "after_key": self.after_key,
            "recent": dict(self.recent),
            "full_at": self.full_at,
        }

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        """The inverse of :meth:`to_json`; ``None`` for a missing or unknown state. A version 1
        state has no ``after_key``, so its next poll is a full scan."""
        if not isinstance(value, dict) or value.get("version") not in READABLE_VERSIONS:
            return None
        since = value.get("since")
        full_at = value.get("full_at")
        return cls(
            parse_cos_time(since) if since else None,
            dict(value.get("seen") or {}),
            value.get("after_key") or None,
            dict(value.get("recent") or {}),
            float(full_at) if full_at is not None else None,
        )


@dataclass(frozen=True)
class Announcement:
    """An object to announce, and the ETag it had when last announced (if still tracked)."""

    obj: COSObject
    previous_etag: str | None


class WatermarkScan:
    """One pass over a listing: decides what to announce and builds the next watermark.

    :param old: the current watermark.
    :param settle: how far behind the newest object ``since`` trails.
    :param announce: ``False`` to only record the listing (the first scan of a trigger that must
        not announce objects which existed before it started).
    """

    def __init__(
        self,
        old: Watermark,
        settle: timedelta,
        announce: bool = True,
        started_at: float | None = None,
    ) -> None:
        self.old = old
        self.settle = settle
        self.announce = announce
        self.started_at = started_at
        self.newest: datetime | None = None
        self.last_key: str | None = None
        self._announced = old.announced
        self._window: dict[str, tuple[str, datetime]] = {}
        self._pruned_at = 0

    def offer(self, obj: COSObject) -> Announcement | None:
        """Record one listed object; returns an :class:`Announcement` when it is new or changed."""
        self.last_key = _greater(self.last_key, obj.key)
        if self.newest is None or obj.last_modified > self.newest:
            self.newest = obj.last_modified
        if obj.last_modified >= self.newest - self.settle:
            self._window[obj.key] = (obj.etag, obj.last_modified)
            if len(self._window) > 2 * max(self._pruned_at, 512):
                self._prune()
        if not self.announce:
            return None
        since = self.old.since
        if since is not None and obj.last_modified < since:
            return None
        previous = self._announced.get(obj.key)
        if previous == obj.etag:
            return None
        return Announcement(obj, previous)

    def scan(self, objects: Iterable[COSObject]) -> Iterator[Announcement]:
        """:meth:`offer` every object, yielding the announcements."""
        for obj in objects:
            found = self.offer(obj)
            if found is not None:
                yield found

    def _prune(self) -> None:
        assert self.newest is not None
        floor = self.newest - self.settle
        self._window = {k: v for k, v in self._window.items() if v[1] >= floor}
        self._pruned_at = len(self._window)

    def result(self) -> Watermark:
        """The watermark after the scan (call once the listing is exhausted)."""
        if self.newest is None:  # nothing listed: nothing to remember beyond ``since``
            return Watermark(self.old.since, {}, full_at=self.started_at)
        since = self.newest - self.settle
        if self.old.since is not None and self.old.since > since:
            since = self.old.since
        seen = {key: etag for key, (etag, modified) in self._window.items() if modified >= since}
        return Watermark(since, seen, self.last_key, full_at=self.started_at)


class OrderedScan:
    """One ordered poll: the listing after ``old.after_key`` (see the module docstring).

    :param old: the current watermark; its ``after_key`` must be set.
    """

    def __init__(self, old: Watermark) -> None:
        if old.after_key is None:
            raise ValueError("an ordered poll needs the after_key of a full scan")
        self.old = old
        self.last_key: str = old.after_key
        self._announced = old.announced
        self._recent = dict(old.recent)

    def offer(self, obj: COSObject) -> Announcement | None:
        """Record one listed object; returns an :class:`Announcement` when it is new or changed."""
        self.last_key = _greater(self.last_key, obj.key)
        previous = self._announced.get(obj.key)
        if previous == obj.etag:
            return None
        self._recent[obj.key] = obj.etag
        return Announcement(obj, previous)

    def result(self) -> Watermark:
        """The watermark after the poll: ``after_key`` and ``recent`` moved, nothing else."""
        old = self.old
        return Watermark(old.since, old.seen, self.last_key, self._recent, old.full_at)


def _greater(key: str | None, other: str) -> str:
    return other if key is None or other > key else key
