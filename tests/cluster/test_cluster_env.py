"""The CeleryExecutor cluster's harness (``scripts/cluster_env.py``): it starts healthy, runs a
task on each worker, keeps the metadata DSN and the connections away from the workers, stops
everything it started, and stops what a killed run left behind.

Only under ``make test-cluster`` (``CLUSTER=1``): a cluster start costs about a minute of two
cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1500)]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A cluster started by a runner process that is then SIGKILLed (its children live on):
    the root and the process groups it recorded in ``pids.json``."""
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
        runner.kill()  # SIGKILL: no clean-up runs
        runner.wait(60)
    yield root, groups


@pytest.fixture(scope="module")
def cluster(killed_run):
    from cluster_env import ClusterEnvironment

    root, _ = killed_run
    env = ClusterEnvironment(root)
    with env:
        yield env


def test_start_stops_a_killed_runs_leftovers(killed_run, cluster):
    _, groups = killed_run
    assert set(groups) >= {"redis", "scheduler", "dag-processor", "triggerer", "api-server"}
    assert {"worker-a", "worker-b"} <= set(groups)
    survivors = {name: pgid for name, pgid in groups.items() if _group_alive(pgid)}
    assert survivors == {}


def test_workers_get_no_metadata_dsn_and_no_connections(cluster):
    for name in cluster.workers:
        env = cluster.worker_env(name)
        assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
        assert not [key for key in env if key.startswith("AIRFLOW_CONN_")]
        assert "AIRFLOW__API_AUTH__JWT_SECRET" not in env
        assert env["AIRFLOW_HOME"] != cluster.central_env["AIRFLOW_HOME"]


def test_a_task_runs_on_each_worker_under_its_own_name(cluster):
    cluster.wait_for_dag("cluster_probe")
    run_id = cluster.trigger("cluster_probe", {"fan": 1})
    assert cluster.wait_for_runs("cluster_probe", [run_id], 600) == {run_id: "success"}
    hosts = dict(
        cluster.metadata_sql(
            "SELECT task_id, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s "
            "AND task_id IN ('on_a', 'on_b')",
            ("cluster_probe", run_id),
        )
    )
    assert hosts == {"on_a": "worker-a", "on_b": "worker-b"}
    # Each worker keeps its task logs in its own home.
    for name, task_id in (("worker-a", "on_a"), ("worker-b", "on_b")):
        logs = cluster.worker_home(name) / "home" / "logs"
        assert [p for p in logs.rglob("*") if f"task_id={task_id}" in str(p)]


def test_stop_leaves_no_process_behind(cluster):
    groups = {name: child.pid for name, child in cluster.procs.items()}
    assert len(groups) == 7
    cluster.stop()
    assert {name: pgid for name, pgid in groups.items() if _group_alive(pgid)} == {}
    assert not (cluster.root / "pids.json").exists()
