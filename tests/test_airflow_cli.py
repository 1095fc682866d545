"""What a user does after ``pip install``: the provider is listed and both connection types work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    """A user's own AIRFLOW_HOME, migrated with the real CLI (independent of the session DB)."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    _airflow(env, "db", "migrate")
    return env


def _airflow(env: dict, *args: str) -> str:
    result = subprocess.run([AIRFLOW, *args], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def _airflow_json(env: dict, *args: str):
    # Airflow can write start-up log lines to stdout before the JSON document.
    lines = _airflow(env, *args, "-o", "json").splitlines()
    return json.loads(next(line for line in lines if line.startswith("[")))


def test_providers_list_shows_the_provider(airflow_env):
    providers = _airflow_json(airflow_env, "providers", "list")
    ours = [p for p in providers if p["package_name"] == "airflow-scf-snova"]
    assert len(ours) == 1


def test_connections_add_accepts_both_types_with_their_fields(airflow_env):
    uri = (
        "tencentcloud://AKIDcli:cli-secret@/?region=ap-shanghai&appid=1250000000"
        "&namespace=etl&endpoint=http%3A%2F%2F127.0.0.1%3A9100"
    )
    _airflow(airflow_env, "connections", "add", "tc_cli", "--conn-uri", uri)
    snova_args = ["--conn-type", "snova", "--conn-host", "10.0.0.5", "--conn-port", "5436"]
    snova_args += [
        "--conn-login",
        "scf_visit",
        "--conn-password",
        "pw",
        "--conn-schema",
        "postgres",
    ]
    _airflow(airflow_env, "connections", "add", "snova_cli", *snova_args)
    tc = _airflow_json(airflow_env, "connections", "get", "tc_cli")[0]
    assert tc["conn_type"] == "tencentcloud" and tc["login"] == "AKIDcli"
    assert {k: str(v) for k, v in tc["extra_dejson"].items()} == {
        "region": "ap-shanghai",
        "appid": "1250000000",
        "namespace": "etl",
        "endpoint": "http://127.0.0.1:9100",
    }
    snova = _airflow_json(airflow_env, "connections", "get", "snova_cli")[0]
    assert (snova["conn_type"], snova["schema"], snova["port"]) == ("snova", "postgres", "5436")
