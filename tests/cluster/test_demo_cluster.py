"""``make demo-cluster``'s cluster and scenarios at ``--scale ci``, as a test.

One cluster serves every test here, because a start costs about a minute of two cores:

1. ``scripts/cluster_env.py`` starts the cluster in a runner process, which is then SIGKILLed
   (its children live on, as after a killed ``make demo-cluster``);
2. ``scripts/demo_cluster.py --scale ci`` starts on the same root, which must first stop those
   leftovers, runs every scenario and stops everything; its ``report.json`` is what the tests
   read.

Only under ``make test-cluster`` (``CLUSTER=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(2400)]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A cluster started by a runner that is then SIGKILLed (no clean-up runs): its root and
    the process groups it recorded in ``pids.json``."""
    root = tmp_path_factory.mktemp("cluster")
    runner = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "cluster_env.py"), str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        for line in runner.stdout:
            if line.startswith("READY"):
                break
        else:
            pytest.fail(f"the runner exited with {runner.wait()} before READY")
        groups = {e["name"]: e["pgid"] for e in json.loads((root / "pids.json").read_text())}
    finally:
        runner.kill()
        runner.wait(60)
    assert all(_group_alive(pgid) for pgid in groups.values()), "leftovers died on their own"
    return root, groups


@pytest.fixture(scope="module")
def report(killed_run) -> dict:
    root, _ = killed_run
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_cluster.py"), "--root", str(root)]
        + ["--scale", "ci"],
        capture_output=True,
        text=True,
        timeout=2200,
    )
    path = root / "report.json"
    assert path.exists(), (
        f"no report; exit {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    report = json.loads(path.read_text())
    report["_stdout"] = result.stdout
    report["_returncode"] = result.returncode
    report["_root"] = root
    return report


def test_start_stopped_the_killed_runs_leftovers(killed_run, report):
    _, groups = killed_run
    assert {"redis", "scheduler", "dag-processor", "triggerer", "api-server"} <= set(groups)
    assert {"worker-a", "worker-b"} <= set(groups)
    assert {name for name, pgid in groups.items() if _group_alive(pgid)} == set()


def test_stop_left_no_process_behind(report):
    groups = report["process_groups"]
    assert len([n for n in groups if "(last)" not in n]) == 7
    assert {name for name, pgid in groups.items() if _group_alive(pgid)} == set()
    assert not (report["_root"] / "pids.json").exists()


def test_workers_get_no_metadata_dsn_no_connections_no_jwt_secret(report):
    assert report["worker_env_leaks"] == {"worker-a": [], "worker-b": []}


def test_a_task_runs_on_each_worker_under_its_own_name_and_logs_there(report):
    assert report["probe"]["hosts"] == {"on_a": "worker-a", "on_b": "worker-b"}
    for name, task_id in (("worker-a", "on_a"), ("worker-b", "on_b")):
        logs = report["_root"] / name / "home" / "logs"
        assert [p for p in logs.rglob("*") if f"task_id={task_id}" in str(p)], logs


def test_every_scenario_is_ok_and_the_table_is_printed(report):
    failed = {
        name: part["problems"]
        for name, part in report.items()
        if isinstance(part, dict) and not part.get("ok", True)
    }
    assert failed == {}
    assert report["_returncode"] == 0
    assert "| overlapping_imports | ok |" in report["_stdout"]


def test_imports_ran_on_both_workers(report):
    part = report["overlapping_imports"]
    assert set(part["tasks_per_worker"]) == {"worker-a", "worker-b"}
    assert all(t == {"rows": 4000, "ledger": 40} for t in part["rows_per_table"].values())


def test_sensors_fired_once_each(report):
    assert report["deferred_sensors"]["sensors"] == 50
    assert report["deferred_sensors"]["latency_p95_s"] > 0
    assert report["killed_triggerer"]["sensors"] == 20


def test_the_killed_workers_load_was_retried_on_the_other(report):
    part = report["killed_worker"]
    hosts = [t["host"] for t in part["tries"]]
    assert hosts[0] == part["killed"] and hosts[-1] != part["killed"]
    assert part["tries"][-1]["state"] == "success"
