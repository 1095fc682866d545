"""Faults a test can inject into a running emulator (through Python or the control API).

Each fault is a budget: "the next N matching requests" fail or slow down, then service is normal
again. The services ask the injector at the start of each request; everything is thread-safe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Budget:
    count: int = 0
    match: frozenset[str] = field(default_factory=frozenset)

    def take(self, name: str) -> bool:
        if self.count > 0 and (not self.match or name in self.match):
            self.count -= 1
            return True
        return False


class Faults:
    """Injected faults, consumed by the SCF and COS services."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Clear every fault."""
        with self._lock:
            self._throttle = _Budget()
            self._cos_errors = _Budget()
            self._cos_error_status = 503
            self._drops = _Budget()
            self._drop_after = 0
            self._latency: dict[str, float] = {}

    # -- set by tests -------------------------------------------------------------------------
    def throttle(self, count: int, actions: list[str] | tuple[str, ...] | None = None) -> None:
        """The next ``count`` SCF calls (of ``actions``, or any) answer ``RequestLimitExceeded``."""
        with self._lock:
            self._throttle = _Budget(count, frozenset(actions or ()))

    def cos_errors(
        self, count: int, status: int = 503, operations: list[str] | tuple[str, ...] | None = None
    ) -> None:
        """The next ``count`` COS requests (of ``operations`` such as ``GET``/``PUT``/``LIST``)
        answer ``status`` with an error XML body (503 is ``ServiceUnavailable``)."""
        with self._lock:
            self._cos_errors = _Budget(count, frozenset(operations or ()))
            self._cos_error_status = status

    def drop_connections(self, count: int, after_bytes: int = 1024) -> None:
        """The next ``count`` COS object downloads send ``after_bytes`` of the body, then the
        connection is cut."""
        with self._lock:
            self._drops = _Budget(count)
            self._drop_after = after_bytes

    def latency(self, seconds: float, service: str = "all") -> None:
        """Add ``seconds`` before answering each request of ``service`` (``scf``, ``cos``, ``all``);
        ``0`` removes it."""
        with self._lock:
            self._latency[service] = seconds

    # -- consumed by services -----------------------------------------------------------------
    def take_throttle(self, action: str) -> bool:
        with self._lock:
            return self._throttle.take(action)

    def take_cos_error(self, operation: str) -> int | None:
        with self._lock:
            return self._cos_error_status if self._cos_errors.take(operation) else None

    def take_drop(self) -> int | None:
        with self._lock:
            return self._drop_after if self._drops.take("GET") else None

    def delay(self, service: str) -> None:
        with self._lock:
            seconds = self._latency.get(service, 0.0) + self._latency.get("all", 0.0)
        if seconds > 0:
            time.sleep(seconds)

    def snapshot(self) -> dict:
        """The current budgets, for the control API."""
        with self._lock:
            return {
                "throttle": self._throttle.count,
                "cos_errors": self._cos_errors.count,
                "cos_error_status": self._cos_error_status,
                "drops": self._drops.count,
                "drop_after": self._drop_after,
                "latency": dict(self._latency),
            }
