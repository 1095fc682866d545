"""Helpers of the reliability tests: condition waits, a recording executor for
triggers, a watcher over captured task output, and the child-process load runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "load_runner.py"


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    pause = threading.Event()
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or predicate}")
        pause.wait(interval)


class PollRecorder(ThreadPoolExecutor):
    """The default executor of a test's asyncio loop: triggers run their blocking SDK calls here
    (``asyncio.to_thread``), so it sees every poll start and end, with its outcome. Tests wait on
    it ("every trigger polled once", "a poll failed while the emulator was down") instead of
    sleeping."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="poll")
        self.condition = threading.Condition()
        self.started = 0
        self.outcomes: list[tuple[float, str]] = []  # (monotonic time, "ok" | exception name)

    def submit(self, fn, /, *args, **kwargs):
        def run():
            with self.condition:
                self.started += 1
                self.condition.notify_all()
            try:
                result = fn(*args, **kwargs)
            except BaseException as err:
                self._finish(type(err).__name__)
                raise
            self._finish("ok")
            return result

        return super().submit(run)

    def _finish(self, outcome: str) -> None:
        with self.condition:
            self.outcomes.append((time.monotonic(), outcome))
            self.condition.notify_all()

    def wait(self, predicate: Callable[[PollRecorder], bool], timeout: float, what: str) -> None:
        with self.condition:
            if not self.condition.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")

    def failures_since(self, instant: float) -> list[str]:
        return [o for t, o in self.outcomes if t >= instant and o != "ok"]


class OutputWatch:
    """Accumulates what ``capfd`` captured (Airflow's structlog output goes to stdout) and waits
    for a text to appear in it."""

    def __init__(self, capfd) -> None:
        self._capfd = capfd
        self._seen: list[str] = []
        self._lock = threading.Lock()

    def text(self) -> str:
        with self._lock:
            out, err = self._capfd.readouterr()
            self._seen.extend([out, err])
            return "".join(self._seen)

    def wait_for(self, needle: str, timeout: float = 60.0) -> str:
        return wait_for(lambda: needle in self.text(), timeout, 0.05, repr(needle)) and self.text()


# -- the child-process loader --------------------------------------------------------------------
def runner_env(**conns: str) -> dict[str, str]:
    """This process's environment plus ``AIRFLOW_CONN_*`` for the child."""
    env = dict(os.environ)
    for conn_id, value in conns.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
    return env


class LoadProcess:
    """``load_runner.py`` in a child process: a COSToSnovaOperator load, optionally held at a gate
    in the middle of one object's stream (the child prints ``REACHED`` and blocks reading a FIFO,
    which only the test can open)."""

    def __init__(
        self,
        args: dict,
        env: dict[str, str],
        gate_key: str | None = None,
        gate_after: int = 0,
        gate_fifo: Path | None = None,
    ) -> None:
        spec = dict(args)
        if gate_key:
            spec["gate"] = {"key": gate_key, "after": gate_after, "fifo": str(gate_fifo)}
        self.gate_fifo = gate_fifo
        if gate_fifo is not None and not gate_fifo.exists():
            os.mkfifo(gate_fifo)
        self.proc = subprocess.Popen(
            [sys.executable, str(RUNNER), json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._lines: list[str] = []
        self._errors: list[str] = []
        self._reached = threading.Event()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)
            if line.startswith("REACHED"):
                self._reached.set()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._errors.append(line)

    def wait_reached(self, timeout: float = 120.0) -> None:
        if not self._reached.wait(timeout):
            self.proc.kill()
            raise AssertionError(f"the child never reached the gate: {self.stderr_tail()}")

    def release(self) -> None:
        """Open the FIFO's writing end: the child's blocked read returns and it goes on."""
        assert self.gate_fifo is not None
        with open(self.gate_fifo, "w") as fifo:
            fifo.write("go\n")

    def finish(self, timeout: float = 180.0) -> tuple[int, dict | None, str]:
        """Wait for the child; returns ``(exit code, RESULT or ERROR dict, stderr)``."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for reader in self._readers:
            reader.join(10)
        payload = None
        for line in self._lines:
            if line.startswith(("RESULT ", "ERROR ")):
                payload = json.loads(line.split(" ", 1)[1])
        return self.proc.returncode, payload, self.stderr_tail()

    def stderr_tail(self) -> str:
        return "".join(self._errors)[-3000:]


# -- an in-process gate in an object stream ------------------------------------------------------
class StreamGate:
    """Holds the hook's stream of one object after ``after`` bytes until :meth:`release`: the
    one seam that lets a test act at a known point mid-load (the stream stays the real one)."""

    def __init__(self, key: str, after: int) -> None:
        self.key = key
        self.after = after
        self.reached = threading.Event()
        self._open = threading.Event()

    def release(self) -> None:
        self._open.set()

    def wrap(self, stream):
        gate = self

        class Gated:
            def __init__(self) -> None:
                self._read = 0

            def read(self, size: int = -1) -> bytes:
                if self._read >= gate.after and not gate._open.is_set():
                    gate.reached.set()
                    assert gate._open.wait(120), "the test never released the stream"
                data = stream.read(size if size and size > 0 else 65536)
                self._read += len(data)
                return data

            def close(self) -> None:
                stream.close()

            def __enter__(self):
                return self

            def __exit__(self, *exc) -> None:
                stream.close()

        return Gated()

    def install(self, monkeypatch) -> StreamGate:
        from airflow_scf_snova.hooks.cos import COSHook

        original = COSHook.open_object

        def open_object(hook, bucket, key, byte_range=None, if_match=None):
            stream = original(hook, bucket, key, byte_range, if_match)
            return self.wrap(stream) if key == self.key else stream

        monkeypatch.setattr(COSHook, "open_object", open_object)
        return self
