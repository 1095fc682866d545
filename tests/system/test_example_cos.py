"""dags/example_cos.py run with ``dag.test()`` against the target (the emulator, or Tencent Cloud
under ``make test-cloud``), in a folder of its scratch bucket; dags/example_cos_event.py parsed
with its AssetWatcher and run by a real triggerer; docs/cos.md kept in step with both."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scf_snova_devel.docs import assert_doc_quotes_dags

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "example_cos.py"
EVENT_DAG_FILE = ROOT / "dags" / "example_cos_event.py"
DOC_FILE = ROOT / "docs" / "cos.md"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def xcoms(run_id: str, dag_id: str) -> dict[tuple[str, str], object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        return {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}


def test_example_dag_runs_end_to_end(airflow_db, target, scratch, capsys):
    from airflow_scf_snova.hooks.cos import COSHook

    bucket, folder = scratch.bucket, scratch.root + "example-cos/"
    prefix = folder + "incoming/"
    hook = COSHook()
    dag = load(DAG_FILE, "example_cos_under_test").dag
    dag_run = dag.test(run_conf={"bucket": bucket, "folder": folder})
    output = capsys.readouterr()
    assert dag_run.state == "success", output.out[-5000:]
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert set(states.values()) == {"success"}, states

    values = xcoms(dag_run.run_id, "example_cos")
    found = values[("wait_for_csv", "return_value")]
    keys = [o["key"] for o in found]
    [new_key] = keys  # loader.log is not a .csv
    assert re.fullmatch(re.escape(prefix) + r"orders-\d{8}\.csv", new_key)
    assert values[("list_csv", "return_value")] == sorted(keys)
    summary = values[("summarise", "return_value")]
    appid, short = target.appid, bucket.rsplit("-", 1)[0]
    assert summary["objects"] == [f"/{appid}/{short}/{k}" for k in keys]
    assert summary["bytes"] == sum(o["size"] for o in found)
    assert values[("cleanup", "return_value")] == 3  # the csv, loader.log and the archive copy
    assert list(hook.iter_objects(bucket, prefix=scratch.root)) == []
    assert target.secret_key not in output.out + output.err


def test_event_dag_parses_with_its_watcher(monkeypatch):
    from airflow.sdk import Asset

    from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

    monkeypatch.setenv("COS_EXAMPLE_BUCKET", "drops-1250000000")
    module = load(EVENT_DAG_FILE, "example_cos_event_under_test")
    [asset] = module.dag.timetable.asset_condition.objects
    assert isinstance(asset, Asset)
    assert asset.uri.startswith("cos://drops-1250000000/incoming")
    [watcher] = asset.watchers
    trigger = watcher.trigger
    assert isinstance(trigger, COSObjectEventTrigger)
    assert (trigger.bucket, trigger.prefix, trigger.suffix) == (
        "drops-1250000000",
        "incoming/",
        ".csv",
    )


def test_event_dag_task_handles_every_triggering_event(monkeypatch):
    """The task body on what the scheduler hands it: several events in one run."""
    from types import SimpleNamespace

    module = load(EVENT_DAG_FILE, "example_cos_event_task_under_test")
    task = module.dag.get_task("process_new_files")

    def event(key: str) -> SimpleNamespace:  # an AssetEvent's fields the task reads
        payload = {"key": key, "url": f"cos://b/{key}", "etag": '"e"', "size": 1}
        return SimpleNamespace(extra={"payload": payload})

    events = {module.incoming_csv: [event("incoming/a.csv"), event("incoming/b.csv")]}
    assert task.python_callable(triggering_asset_events=events) == [
        "incoming/a.csv",
        "incoming/b.csv",
    ]


# -- docs ----------------------------------------------------------------------------------------
def test_docs_quote_the_example_dags_verbatim():
    assert_doc_quotes_dags(DOC_FILE, DAG_FILE, EVENT_DAG_FILE, at_least=8)


# -- a real triggerer ----------------------------------------------------------------------------
WATCHED_DAG = """
import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task
from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

drops = Asset(
    "cos://{bucket}/{root}incoming/",
    watchers=[
        AssetWatcher(
            name="cos_drops",
            trigger=COSObjectEventTrigger(
                bucket="{bucket}", prefix="{root}incoming/", suffix=".csv",
                poll_interval=0.5, settle_seconds=0,
            ),
        )
    ],
)
with DAG(dag_id="cos_watched", schedule=[drops],
         start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False) as dag:
    @task
    def process(): ...
    process()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, what: str, timeout: float):
    """Poll ``predicate`` until it returns something truthy (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_watched_asset_in_a_real_triggerer_survives_a_restart(target, scratch, tmp_path):
    """The real ``airflow triggerer`` runs COSObjectEventTrigger: one asset event per uploaded
    file, queued for the DAG, and the watermark in the real asset state store means a restart
    neither replays nor loses files. (The scheduler and an executor, which would turn the queued
    events into DAG runs, are not started: Airflow's own code, and slow to boot here.)"""
    airflow = str(Path(sys.executable).with_name("airflow"))
    dags = tmp_path / "dags"
    dags.mkdir()
    bucket, root = scratch.bucket, scratch.root
    (dags / "cos_watched.py").write_text(
        WATCHED_DAG.replace("{bucket}", bucket).replace("{root}", root)
    )
    timeout = target.seconds(90)
    db = tmp_path / "airflow.db"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
    }
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]

    def rows(sql: str) -> list[tuple]:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql).fetchall()

    def events() -> list[tuple[str, str]]:
        payloads = [json.loads(e)["payload"] for (e,) in rows("SELECT extra FROM asset_event")]
        return [(p["key"], p["etag"]) for p in payloads]

    def start_triggerer(name: str) -> subprocess.Popen:
        with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own descriptor
            return subprocess.Popen(
                [airflow, "triggerer"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGTERM)  # the process group this test started
        process.wait(60)

    def put(name: str, body: bytes) -> tuple[str, str]:
        """Upload ``<root>incoming/<name>``; returns its key and ETag (no quotes)."""
        key = f"{root}incoming/{name}"
        return key, target.put_object(bucket, key, body).strip('"')

    put("before.csv", b"present before the watcher started")
    first = start_triggerer("triggerer-1")
    try:
        _wait_for(
            lambda: rows("SELECT key FROM asset_state_store"), "the baseline watermark", timeout
        )
        expected = [put("a.csv", b"a")]
        put("notes.txt", b"not a csv")
        expected.append(put("b.csv", b"b"))
        _wait_for(lambda: len(events()) >= 2, "events for a.csv and b.csv", timeout)
    finally:
        stop(first)

    # While no triggerer runs: a new file and an overwrite.
    expected.append(put("a.csv", b"a, version 2"))
    expected.append(put("c.csv", b"c"))
    second = start_triggerer("triggerer-2")
    try:
        _wait_for(lambda: len(events()) >= 4, "events for the changes made while down", timeout)
        expected.append(put("d.csv", b"d"))
        _wait_for(lambda: len(events()) >= 5, "an event for d.csv", timeout)
    finally:
        stop(second)

    assert events() == expected  # nothing replayed, nothing lost, decoys ignored
    [(state,)] = rows("SELECT value FROM asset_state_store")
    assert set(json.loads(state)["seen"]) <= {f"{root}incoming/{n}.csv" for n in "acd"}
    queued = rows("SELECT target_dag_id FROM asset_dag_run_queue")
    assert queued == [("cos_watched",)]
