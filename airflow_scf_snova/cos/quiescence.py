"""Deciding that uploads under a COS prefix have finished: nothing changed for a while.

A listing is summarised as a :class:`ListingSnapshot` (object count plus a digest of every
``key, etag, size``), computed in one streaming pass, so the state is a few bytes whatever the
number of objects and can travel in trigger kwargs. :class:`InactivityTracker` compares successive
snapshots against an injectable clock. Pure Python: no Airflow and no SDK imports.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from scf_snova_core.objects import COSObject


@dataclass(frozen=True)
class ListingSnapshot:
    """What a listing looked like: object count and a digest of keys, ETags and sizes.

    :param count: number of objects.
    :param digest: hex SHA-256 over ``key, etag, size`` of every object in listing (key) order.
    """

    count: int
    digest: str

    @classmethod
    def of(cls, objects: Iterable[COSObject]) -> ListingSnapshot:
        """Summarise a listing in constant memory (consumes the iterable once)."""
        digest = hashlib.sha256()
        count = 0
        for obj in objects:
            digest.update(f"{obj.key}\0{obj.etag}\0{obj.size}\n".encode())
            count += 1
        return cls(count, digest.hexdigest())

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "digest": self.digest}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> ListingSnapshot | None:
        return None if not value else cls(int(value["count"]), str(value["digest"]))


class ObjectsDeletedError(Exception):
    """Raised when objects disappeared and deletions are not allowed."""


class InactivityTracker:
    """Succeeds once the listing stayed identical for ``inactivity_period`` seconds and holds at
    least ``min_objects`` objects.

    - The first observation starts the clock.
    - Any change (a new object, an overwrite, a size change) restarts the clock.
    - Fewer objects than before restarts the clock when ``allow_delete``, and raises
      :class:`ObjectsDeletedError` otherwise. (A deletion balanced by an upload in the same
      interval counts as a change, not a deletion: the tracker keeps a digest, not the key set.)
    - Quiet for long enough but with fewer than ``min_objects`` objects: keep waiting.

    :param inactivity_period: seconds without changes.
    :param min_objects: objects that must be present.
    :param allow_delete: whether a shrinking listing is acceptable.
    :param clock: seconds, monotonic; injectable for tests (default :func:`time.monotonic`).
    :param previous: the last snapshot, when resuming.
    :param inactive_for: seconds already spent without changes, when resuming.
    """

    def __init__(
        self,
        inactivity_period: float,
        min_objects: int = 1,
        allow_delete: bool = True,
        clock: Callable[[], float] | None = None,
        previous: ListingSnapshot | None = None,
        inactive_for: float = 0.0,
    ) -> None:
        if inactivity_period < 0:
            raise ValueError("inactivity_period must be >= 0")
        if min_objects < 0:
            raise ValueError("min_objects must be >= 0")
        self.inactivity_period = float(inactivity_period)
        self.min_objects = min_objects
        self.allow_delete = allow_delete
        self.clock = clock or time.monotonic
        self.previous = previous
        self._last_activity = self.clock() - inactive_for if previous is not None else None

    @property
    def inactive_for(self) -> float:
        """Seconds since the last change (0 before the first observation)."""
        if self._last_activity is None:
            return 0.0
        return max(0.0, self.clock() - self._last_activity)

    def observe(self, current: ListingSnapshot) -> bool:
        """Record a listing; ``True`` once the prefix counts as complete.

        :raises ObjectsDeletedError: objects disappeared and ``allow_delete`` is false.
        """
        now = self.clock()
        previous, self.previous = self.previous, current
        if previous is None:
            self._last_activity = now
            return False
        if current.count < previous.count and not self.allow_delete:
            raise ObjectsDeletedError(
                f"{previous.count - current.count} object(s) were deleted "
                f"({previous.count} -> {current.count}) and allow_delete is False"
            )
        if current != previous:
            self._last_activity = now
            return False
        assert self._last_activity is not None
        if now - self._last_activity < self.inactivity_period:
            return False
        return current.count >= self.min_objects
