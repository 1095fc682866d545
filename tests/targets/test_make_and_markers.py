"""``make test-cloud`` and the markers, offline, in real subprocesses (``make``, ``pytest``):
without the cloud variables the target stops before installing anything and says why; ``make
-n`` only prints; ``make test`` never selects the cloud; in cloud mode ``emulator_only`` tests are
skipped (and ``make test-cloud`` deselects them), on the emulator ``cloud_only`` ones are; a
selected but unconfigured cloud skips everything, saying why; no report shows a secret. Nothing
here reaches the network: every test these runs select is skipped before its fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scf_snova_devel.cloud import REQUIRED, SWITCH

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "probe-Secret-Key-0123456789"
PASSWORD = "probe-db-password-42"
CLOUD = {
    "TENCENTCLOUD_SECRET_ID": "AKIDprobe000000000000000000000000",
    "TENCENTCLOUD_SECRET_KEY": SECRET_KEY,
    "TENCENTCLOUD_REGION": "ap-guangzhou",
    "TENCENTCLOUD_APPID": "1250000000",
    "SCF_SNOVA_TEST_BUCKET": "scratch-1250000000",
    "SNOVA_TEST_DSN": f"postgresql://loader:{PASSWORD}@192.0.2.1:5436/dw",  # TEST-NET: unused
}
EXTERNAL = "tests/system/test_snova_external_table.py"
SEED_EMULATOR_ONLY = (
    "tests/system/test_seed_dags.py::"
    "test_the_functions_external_table_branch_refuses_prefix_collisions_and_hides_secrets"
)


def environ(**extra: str) -> dict[str, str]:
    """This process's environment without any cloud variable, plus ``extra``."""
    names = {*REQUIRED, SWITCH, "TENCENTCLOUD_SESSION_TOKEN", "PYTEST_ADDOPTS"}
    return {**{k: v for k, v in os.environ.items() if k not in names}, **extra}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def pytest_run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:randomly", *args], env)


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@needs_make
def test_make_test_cloud_without_credentials_says_why_and_stops():
    done = run(["make", "-s", "test-cloud"], environ())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "make test-cloud: skipped: the cloud target needs variables that are not set: "
        + ", ".join(f"{name} ({what})" for name, what in REQUIRED.items())
        + " (see docs/cloud-tests.md; `make test` uses the emulator)"
    ]
    assert done.stderr == ""  # nothing was installed, nothing ran


@needs_make
def test_make_test_cloud_with_a_malformed_variable_names_it_not_the_secret():
    done = run(["make", "-s", "test-cloud"], environ(**{**CLOUD, "TENCENTCLOUD_APPID": "x"}))
    assert done.returncode == 0, done.stderr
    assert "make test-cloud: skipped: the cloud target needs TENCENTCLOUD_APPID of digits" in (
        done.stdout
    )
    assert SECRET_KEY not in done.stdout + done.stderr


@needs_make
def test_make_n_test_cloud_only_prints_and_make_test_never_selects_the_cloud():
    done = run(["make", "-n", "test-cloud"], environ(**CLOUD))
    assert done.returncode == 0, done.stderr
    # make -n runs the line that calls make (the check, then a make -n of the run), nothing else
    assert (
        "make test-cloud: Tencent Cloud ap-guangzhou (APPID 1250000000, SecretId AKID...0000"
        in done.stdout
    )
    assert 'SCF_SNOVA_TEST_CLOUD=1 .venv/bin/pytest tests/system -m "not emulator_only"' in (
        done.stdout
    )
    assert SECRET_KEY not in done.stdout + done.stderr and PASSWORD not in done.stdout
    plain = run(["make", "-n", "test"], environ(**CLOUD, **{SWITCH: "1"}))
    [pytest_line] = [line for line in plain.stdout.splitlines() if "bin/pytest" in line]
    assert pytest_line.startswith("env -u SCF_SNOVA_TEST_CLOUD .venv/bin/pytest")


def test_on_the_cloud_emulator_only_tests_are_skipped_and_deselected():
    env = environ(**CLOUD, **{SWITCH: "1"})
    done = pytest_run("tests/system/test_demo.py", SEED_EMULATOR_ONLY, env=env)
    assert "2 skipped" in done.stdout, done.stdout[-3000:]
    assert "emulator_only: make demo is offline" in done.stdout
    assert "emulator_only: plain PostgreSQL rejects the cos_ext DDL" in done.stdout
    assert done.stdout.count("the target is not the emulator") == 2
    listed = pytest_run("--collect-only", "-m", "not emulator_only", "tests/system", env=env)
    assert "3 deselected" in listed.stdout, listed.stdout[-3000:]
    assert "test_demo_runs_the_seed_workflows" not in listed.stdout


def test_on_the_emulator_cloud_only_tests_are_skipped():
    done = pytest_run(EXTERNAL, env=environ())
    assert "3 skipped" in done.stdout, done.stdout[-3000:]
    assert done.stdout.count("cloud_only: Snova's segments read and write COS") == 1  # grouped
    assert "the target is not Tencent Cloud (make test-cloud)" in done.stdout


def test_a_cloud_asked_for_but_not_configured_skips_everything_saying_why():
    pure = "tests/system/test_seed_dags.py::test_the_secret_scan_catches_what_it_is_meant_to"
    done = pytest_run(pure, env=environ(**{SWITCH: "1", "TENCENTCLOUD_REGION": "ap-guangzhou"}))
    assert "1 skipped" in done.stdout, done.stdout[-3000:]
    assert "SCF_SNOVA_TEST_CLOUD=1 selects Tencent Cloud, but the cloud target needs" in (
        done.stdout
    )
    assert "TENCENTCLOUD_SECRET_ID (the API key's SecretId)" in done.stdout


def test_no_report_shows_the_targets_secrets():
    env = environ(**CLOUD, **{SWITCH: "1"}, PROBE_KEY=SECRET_KEY, PROBE_PASSWORD=PASSWORD)
    done = pytest_run("tests/targets/probe_secret_failure.py", env=env)
    assert "1 failed" in done.stdout, done.stdout[-3000:]
    assert "the key was ***" in done.stdout and "connecting with ***" in done.stdout
    assert SECRET_KEY not in done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr
