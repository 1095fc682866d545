"""Request counters: how many requests of each kind the emulator served since the last reset.

Benchmarks and tests read them to count what a client really sent (for example LIST requests per
new object) instead of trusting the client's own account. Counting happens once the request is
parsed (its COS operation or API 3.0 action is known), whether it then succeeds or fails.
"""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Thread-safe counters per service (``cos``, ``scf``, ``cls``).

    COS requests are counted twice: by their method family (``GET``, ``PUT``, ``HEAD``,
    ``DELETE``, ``POST`` or ``LIST`` for any listing, the names ``Faults.cos_errors`` matches)
    under ``cos``, and by operation (``get_object``, ``list_objects``...) under
    ``cos_operations``. API 3.0 requests are counted by action under their service.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {}

    def count(self, service: str, name: str) -> None:
        with self._lock:
            self._counts.setdefault(service, Counter())[name] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{service: {name: count}}`` for every service that served a request."""
        with self._lock:
            return {service: dict(counter) for service, counter in self._counts.items()}

    def reset(self) -> None:
        with self._lock:
            self._counts = {}
