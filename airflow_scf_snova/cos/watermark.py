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

Pure Python: no Airflow and no SDK imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scf_snova_core.objects import COSObject, parse_cos_time

STATE_VERSION = 1


@dataclass(frozen=True)
class Watermark:
    """Objects at or after ``since`` that were already announced.

    :param since: ``None`` before anything was seen: every object is then new.
    :param seen: ``key -> etag`` of the objects modified at or after ``since``.
    """

    since: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON value for the asset state store."""
        return {
            "version": STATE_VERSION,
            "since": self.since.isoformat() if self.since else None,
            "seen": dict(self.seen),
        }

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        """The inverse of :meth:`to_json`; ``None`` for a missing or unknown state."""
        if not isinstance(value, dict) or value.get("version") != STATE_VERSION:
            return None
        since = value.get("since")
        return cls(parse_cos_time(since) if since else None, dict(value.get("seen") or {}))


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

    def __init__(self, old: Watermark, settle: timedelta, announce: bool = True) -> None:
        self.old = old
        self.settle = settle
        self.announce = announce
        self.newest: datetime | None = None
        self._window: dict[str, tuple[str, datetime]] = {}
        self._pruned_at = 0

    def offer(self, obj: COSObject) -> Announcement | None:
        """Record one listed object; returns an :class:`Announcement` when it is new or changed."""
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
        previous = self.old.seen.get(obj.key)
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
            return Watermark(self.old.since, {})
        since = self.newest - self.settle
        if self.old.since is not None and self.old.since > since:
            since = self.old.since
        seen = {key: etag for key, (etag, modified) in self._window.items() if modified >= since}
        return Watermark(since, seen)
