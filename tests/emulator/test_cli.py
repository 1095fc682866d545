"""``python -m scf_snova_emulator``: starts, prints one ready line, stops on a signal."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest
import requests
from scf_snova_devel.scf_api import call, create_function
from scf_snova_emulator.config import EmulatorConfig
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416.scf_client import ScfClient

READY = re.compile(r"^Emulator ready at http://127\.0\.0\.1:(\d+)\n$")


def read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no output within {timeout} s")
    return process.stdout.readline()


def start(tmp_path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "scf_snova_emulator", "--port", "0", *args]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ),
    )


@pytest.mark.parametrize(
    "stop_signal",
    [pytest.param(signal.SIGTERM, id="SIGTERM"), pytest.param(signal.SIGINT, id="SIGINT")],
)
def test_cli_starts_prints_one_line_and_stops_cleanly(tmp_path, stop_signal):
    data_dir = tmp_path / "data"
    process = start(
        tmp_path,
        "--data-dir",
        str(data_dir),
        "--secret-id",
        "AKIDclitest",
        "--secret-key",
        "cli-secret",
        "--appid",
        "1250000099",
        "--region",
        "ap-shanghai",
        "--status-delay",
        "0",
        "--no-timers",
    )
    try:
        line = read_line(process, timeout=60)
        match = READY.match(line)
        assert match, line
        port = int(match.group(1))
        health = requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=10).json()
        assert (health["region"], health["appid"]) == ("ap-shanghai", "1250000099")
        client = ScfClient(
            credential.Credential("AKIDclitest", "cli-secret"),
            "ap-shanghai",
            ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}")),
        )
        assert create_function(client, "from-cli")["Status"] == "Active"
        assert call(client, "ListFunctions")["TotalCount"] == 1
    finally:
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert stdout == ""  # the ready line was the only output
    assert "cli-secret" not in stderr
    assert (data_dir / "scf" / "state.json").exists()


def test_cli_token_and_replay_flags(tmp_path):
    process = start(tmp_path, "--token", "tok", "--no-timers", "--reject-replays")
    try:
        port = int(READY.match(read_line(process, timeout=60)).group(1))
        settings = requests.get(f"http://127.0.0.1:{port}/_emulator/settings", timeout=10).json()
        assert settings["reject_replays"] is True
        defaults = EmulatorConfig()
        client = ScfClient(
            credential.Credential(defaults.secret_id, defaults.secret_key, "tok"),
            defaults.region,
            ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}")),
        )
        assert call(client, "ListFunctions")["TotalCount"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_cli_help_lists_the_flags():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "scf_snova_emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for flag in ("--data-dir", "--secret-id", "--status-delay", "--no-timers", "--token"):
        assert flag in result.stdout
    assert time.monotonic() - started < 30


def test_python_interpreters_are_given_per_runtime(capsys):
    from scf_snova_emulator.__main__ import parse_args

    args = parse_args(
        ["--python", "Python3.10=/opt/py310/bin/python3.10", "--python", "Python3.7=/p"]
    )
    assert args.interpreters == {"Python3.10": "/opt/py310/bin/python3.10", "Python3.7": "/p"}
    with pytest.raises(SystemExit):
        parse_args(["--python", "/usr/bin/python3.10"])
    assert "--python takes RUNTIME=PATH" in capsys.readouterr().err
