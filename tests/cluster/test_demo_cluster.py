"""``make demo-cluster``'s scenarios on the same cluster, at ``--scale ci``
(``scripts/demo_cluster.py``): its report must show every scenario ok, with the figures that
make it so.

Only under ``make test-cluster`` (``CLUSTER=1``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo-cluster")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo_cluster.py"), "--root", str(root)]
        + ["--scale", "ci"],
        capture_output=True,
        text=True,
        timeout=1700,
    )
    path = root / "report.json"
    assert path.exists(), f"no report; exit {result.returncode}:\n{result.stdout[-4000:]}"
    report = json.loads(path.read_text())
    report["_stdout"] = result.stdout
    report["_returncode"] = result.returncode
    return report


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
