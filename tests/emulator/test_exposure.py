"""The emulator runs the code it is sent: beyond loopback it listens only with keys of its own.

The default SecretId/SecretKey are printed in this repository's docs, so on a reachable address
they would let anyone run programs on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from scf_snova_emulator import EmulatorConfig, EmulatorServer
from scf_snova_emulator.config import UnsafeExposureError, check_exposure

OWN_ID = "AKIDmy0wnEmulat0rKey0000000000000001"
OWN_KEY = "a-long-secret-only-i-know-0123456789"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "emulator.example.internal"])
def test_beyond_loopback_the_default_keys_are_refused(tmp_path, host):
    with pytest.raises(UnsafeExposureError, match="default SecretId and the default SecretKey"):
        EmulatorServer(EmulatorConfig(host=host, port=0, data_dir=str(tmp_path)))
    assert not any(tmp_path.iterdir())  # refused before anything was created
    short = EmulatorConfig(host=host, secret_id=OWN_ID, secret_key="short")
    with pytest.raises(UnsafeExposureError, match="shorter than 16"):
        check_exposure(short)
    half = EmulatorConfig(host=host, secret_key=OWN_KEY)
    with pytest.raises(UnsafeExposureError, match="default SecretId"):
        check_exposure(half)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_keeps_the_default_keys(host):
    check_exposure(EmulatorConfig(host=host))


def test_beyond_loopback_with_keys_of_its_own_it_serves(tmp_path):
    config = EmulatorConfig(
        host="0.0.0.0", port=0, data_dir=str(tmp_path), secret_id=OWN_ID, secret_key=OWN_KEY
    )
    with EmulatorServer(config) as server:
        health = requests.get(f"http://127.0.0.1:{server.port}/_emulator/health", timeout=10)
        assert health.status_code == 200


def run_cli(tmp_path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI with a non-loopback host; it must exit at once (a timeout would fail the test)."""
    command = [sys.executable, "-m", "scf_snova_emulator", "--port", "0", "--no-timers", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_the_cli_refuses_to_expose_the_default_keys(tmp_path):
    done = run_cli(tmp_path, "--host", "0.0.0.0")
    assert done.returncode == 2
    assert done.stdout == ""  # no ready line
    assert "refusing to listen on '0.0.0.0'" in done.stderr
    assert "--secret-key" in done.stderr


def test_the_cli_takes_its_keys_from_the_environment(tmp_path):
    """Keys in the environment rather than on the command line, where ``ps`` shows them; a short
    key from there is refused like any other, and never printed."""
    done = run_cli(
        tmp_path,
        "--host",
        "0.0.0.0",
        env={"SCF_SNOVA_EMULATOR_SECRET_ID": OWN_ID, "SCF_SNOVA_EMULATOR_SECRET_KEY": "tiny-key"},
    )
    assert done.returncode == 2
    assert "shorter than 16" in done.stderr and "tiny-key" not in done.stderr
    assert "default SecretId" not in done.stderr  # the id came from the environment
