"""Helpers to drive the COS triggers step by step in tests: a controllable sleep, a fake clock
and an in-memory asset state store."""

from __future__ import annotations

import asyncio
import json
import types
from typing import Any

import airflow_scf_snova.triggers.cos as cos_triggers

#: How long a test waits for a trigger to reach its next step before failing.
STEP_TIMEOUT = 20


class SleepGate:
    """Replaces ``asyncio.sleep`` inside :mod:`airflow_scf_snova.triggers.cos` only.

    Records every requested delay (to check that ``poll_interval`` is honoured), advances an
    optional fake clock by it, and blocks until the test calls :meth:`release`, so each poll
    happens exactly when the test says: no real waiting, no timing assumptions.
    """

    def __init__(self, clock: Any = None) -> None:
        self.delays: list[float] = []
        self.clock = clock
        self._sleeping: asyncio.Queue[float] = asyncio.Queue()
        self._release: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.delays.append(delay)
        if self.clock is not None:
            self.clock.now += delay
        await self._sleeping.put(delay)
        await self._release.get()
        return result

    def install(self, monkeypatch) -> SleepGate:
        proxy = types.SimpleNamespace(
            sleep=self.sleep,
            to_thread=asyncio.to_thread,
            get_running_loop=asyncio.get_running_loop,
        )
        monkeypatch.setattr(cos_triggers, "asyncio", proxy)
        return self

    async def wait_sleeping(self) -> float:
        """Wait until the trigger finished a poll and went to sleep."""
        return await asyncio.wait_for(self._sleeping.get(), STEP_TIMEOUT)

    def release(self) -> None:
        """End the current sleep: the trigger polls again."""
        self._release.put_nowait(None)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MemoryStateStore:
    """Stands in for the ``asset_state_store`` the Airflow 3.3 triggerer injects into watchers.

    The real one (``AssetStateStoreAccessors``) talks to the triggerer supervisor over its comms
    channel, which only exists inside a running triggerer; this keeps the same ``aget``/``aset``
    contract and, like the database column, stores values as JSON text.
    """

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.rows[key]) if key in self.rows else default

    async def aset(self, key: str, value: Any) -> None:
        self.rows[key] = json.dumps(value)


class NextEvent:
    """``anext(run)`` as a task, to tell "fired" from "finished a poll quietly"."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.task = asyncio.ensure_future(anext(run))

    async def event(self):
        return await asyncio.wait_for(self.task, STEP_TIMEOUT)

    async def quiet_poll(self, gate: SleepGate) -> None:
        """Assert the trigger finished its poll (went to sleep) without firing."""
        sleeping = asyncio.ensure_future(gate.wait_sleeping())
        done, _ = await asyncio.wait(
            {self.task, sleeping}, timeout=STEP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            sleeping.cancel()
            raise AssertionError(f"trigger fired unexpectedly: {self.task.result()}")
        assert sleeping in done, "trigger neither fired nor slept"

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, StopAsyncIteration):
            pass
        await self.run.aclose()
