"""The emulator restarted while deferred sensors wait: a second EmulatorServer on the same port
and data directory takes over, and the triggers (run as a triggerer runs them, in an asyncio loop
whose blocking calls go to a thread pool) keep polling and succeed."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from reliability.observations import record
from reliability.support import PollRecorder
from scf_snova_emulator import EmulatorConfig, EmulatorServer


class Restartable:
    """An emulator that can be stopped and replaced by a new one on the same port and data."""

    def __init__(self, data_dir: str, status_delay: float) -> None:
        self.data_dir = data_dir
        self.status_delay = status_delay
        self.server = self._start(0)
        self.port = self.server.port

    def _start(self, port: int) -> EmulatorServer:
        config = EmulatorConfig(
            port=port, data_dir=self.data_dir, status_delay=self.status_delay, timers=False
        )
        return EmulatorServer(config).start()

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        self.server = self._start(self.port)


@pytest.fixture
def restartable(tmp_path, monkeypatch):
    from conftest import tencentcloud_conn_json

    emu = Restartable(str(tmp_path / "emulator"), status_delay=3.0)
    monkeypatch.setenv("AIRFLOW_CONN_RESTART_EMU", tencentcloud_conn_json(emu.server))
    yield emu
    emu.stop()


class TriggerThread:
    """Runs one trigger to its first event in a fresh event loop on a background thread."""

    def __init__(self, trigger) -> None:
        self.trigger = trigger
        self.recorder = PollRecorder(max_workers=4)
        self.event = None
        self.error: BaseException | None = None
        self.fired_at = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(self.recorder)
        try:
            self.event = loop.run_until_complete(self._first())
            self.fired_at = time.monotonic()
        except BaseException as err:
            self.error = err
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _first(self):
        async for event in self.trigger.run():
            return event
        return None

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the trigger never fired"
        if self.error is not None:
            raise self.error


def _ok_polls(recorder: PollRecorder) -> int:
    return sum(1 for _, outcome in recorder.outcomes if outcome == "ok")


def test_cos_sensor_survives_an_emulator_restart(restartable):
    from airflow_scf_snova.triggers.cos import COSObjectTrigger

    bucket = f"restart-{uuid.uuid4().hex[:8]}-{restartable.server.config.appid}"
    restartable.server.cos.create_bucket(bucket)
    runner = TriggerThread(
        COSObjectTrigger(
            bucket=bucket, key="late.csv", poll_interval=0.2, tencentcloud_conn_id="restart_emu"
        )
    )
    runner.recorder.wait(lambda r: _ok_polls(r) >= 2, 60, "two polls while the emulator is up")
    restartable.stop()
    stopped = time.monotonic()
    runner.recorder.wait(
        lambda r: bool(r.failures_since(stopped)), 90, "a poll failing while the emulator is down"
    )
    failures = runner.recorder.failures_since(stopped)
    restartable.restart()
    restarted = time.monotonic()
    restartable.server.cos.put_object(bucket, "late.csv", b"id\n1\n")
    runner.join(120)
    event = runner.event.payload
    assert event["status"] == "success"
    assert [o["key"] for o in event["objects"]] == ["late.csv"]
    down = restarted - stopped
    record(
        "faults.restart-cos-sensor",
        f"{len(failures)} poll(s) failed while down ({', '.join(sorted(set(failures)))}, after "
        f"the SDK's own retries); down {down:.1f} s; fired "
        f"{runner.fired_at - restarted:.1f} s after the restart with late.csv",
        {"COS sensor: seconds from restart to event": runner.fired_at - restarted},
    )


def test_scf_status_wait_survives_an_emulator_restart(restartable, output):
    from scf_snova_devel.scf import ECHO_DIR

    from airflow_scf_snova.hooks.scf import SCFHook
    from airflow_scf_snova.scf.packaging import package_directory
    from airflow_scf_snova.triggers.scf import SCFFunctionStateTrigger

    hook = SCFHook(tencentcloud_conn_id="restart_emu")
    name = f"restart-{uuid.uuid4().hex[:8]}"
    hook.create_function(
        name,
        hook.zip_code(package_directory(ECHO_DIR).data),
        handler="index.main_handler",
        runtime="Python3.9",
    )
    runner = TriggerThread(
        SCFFunctionStateTrigger(
            function_name=name, poll_interval=0.2, timeout=120, tencentcloud_conn_id="restart_emu"
        )
    )
    runner.recorder.wait(lambda r: _ok_polls(r) >= 1, 60, "a poll seeing Creating")
    assert "is Creating" in output.wait_for(f"SCF function {name} is Creating", 30)
    restartable.stop()
    stopped = time.monotonic()
    output.wait_for("SCF GetFunction failed with ClientNetworkError; retry 1", 60)
    restartable.restart()
    restarted = time.monotonic()
    runner.join(120)
    event = runner.event.payload
    assert (event["status"], event["function_status"]) == ("success", "Active")
    retries = output.text().count("SCF GetFunction failed with ClientNetworkError")
    assert SCFHook(tencentcloud_conn_id="restart_emu").get_function_status(name) == "Active"
    record(
        "faults.restart-scf-sensor",
        f"stopped while `Creating`; {retries} `GetFunction` call(s) refused and retried by the "
        f"hook; down {restarted - stopped:.1f} s; success event (Active) "
        f"{runner.fired_at - restarted:.1f} s after the restart",
        {"SCF status wait: seconds from restart to event": runner.fired_at - restarted},
    )


def test_a_stopped_emulator_answers_no_kept_alive_connection(tmp_path):
    """Both SDKs keep connections alive: a stopped emulator must not go on serving them
    (a client would keep talking to the old instance past a restart)."""
    import requests

    server = EmulatorServer(EmulatorConfig(port=0, data_dir=str(tmp_path), timers=False)).start()
    session = requests.Session()
    url = f"{server.endpoint}/_emulator/health"
    try:
        assert session.get(url, timeout=5).json()["status"] == "ok"
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url, timeout=5)
