"""OpenLineage events of real DAG runs: dags/example_lineage.py run with ``dag.test()`` in a fresh
interpreter whose ``[openlineage] transport`` writes every event to a file, with the real
listener of ``apache-airflow-providers-openlineage``, against the emulator and a real
PostgreSQL. Assertions are on the datasets and facets in the events.

A fresh interpreter because the provider decides once per process, when its plugin is imported,
whether the listener exists (``[openlineage]`` configured or not), and caches its client; with an
Airflow home and metadata database of its own, migrated there, so that nothing of the session's
database matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scf_snova_devel.scf import delete_quietly

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "example_lineage.py"
DAG_ID = "example_lineage"

RUN_DAG = """
import importlib.util, json, sys
from airflow.utils import db
db.resetdb(skip_init=False)
spec = importlib.util.spec_from_file_location("example_lineage_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test(run_conf=json.loads(sys.argv[2]))
states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
print("RESULT " + json.dumps({"state": str(run.state), "tasks": states}))
"""


def run_with_lineage(tmp_path: Path, conf: dict) -> tuple[dict, list[dict]]:
    """Run the example DAG with the file transport; returns its states and the events."""
    import os

    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "lineage-test",
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN_DAG, str(DAG_FILE), json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line]
    assert done.returncode == 0 and lines, (errors[-20:], done.stderr[-2000:])
    result = json.loads(lines[-1][len("RESULT ") :])
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line]
    return result, events


def event(events: list[dict], task_id: str, event_type: str) -> dict:
    [found] = [
        e
        for e in events
        if e["job"]["name"] == f"{DAG_ID}.{task_id}" and e["eventType"] == event_type
    ]
    return found


def names(datasets: list[dict]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


@pytest.fixture(scope="module")
def lineage_run(emulator, snova_server, new_database, tmp_path_factory):
    """One run of the example DAG for every test of the module (a DAG run takes seconds)."""
    import os
    import uuid

    from airflow_scf_snova.hooks.scf import SCFHook

    tag = uuid.uuid4().hex[:8]
    bucket = f"lineage-{tag}-{emulator.config.appid}"
    emulator.cos.create_bucket(bucket)
    function = f"lineage-{tag}"
    database, dsn = new_database("lineage")
    previous = os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"]
    os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = dsn.replace("postgresql://", "snova://", 1)
    conf = {"bucket": bucket, "folder": "run-1/", "table": "orders", "function": function}
    try:
        result, events = run_with_lineage(tmp_path_factory.mktemp("lineage"), conf)
    finally:
        os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = previous
        new_database.drop(database)
        delete_quietly(SCFHook(), function)  # the DAG deletes it unless it failed first
    parts = urlsplit(dsn)
    return {
        "result": result,
        "events": events,
        "cos": f"cos://{bucket}",
        "postgres": f"postgres://{parts.hostname}:{parts.port}",
        "table": f"{database}.public.orders",
        "function": function,
        "emulator": emulator,
        "secrets": {"SecretKey": emulator.config.secret_key, "database password": parts.password},
    }


@pytest.mark.slow
def test_the_run_succeeds_and_every_task_reports(lineage_run):
    result = lineage_run["result"]
    assert result["state"] == "success", result
    assert set(result["tasks"].values()) == {"success"}, result


@pytest.mark.slow
def test_no_secret_reaches_the_events(lineage_run):
    assert all(lineage_run["secrets"].values())
    text = json.dumps(lineage_run["events"])
    assert [name for name, value in lineage_run["secrets"].items() if value and value in text] == []


@pytest.mark.slow
def test_upload_and_copy_name_cos_objects(lineage_run):
    events, cos = lineage_run["events"], lineage_run["cos"]
    land = event(events, "land_orders", "COMPLETE")
    assert names(land["inputs"]) == []
    assert names(land["outputs"]) == [(cos, "run-1/incoming/orders.csv")]
    stats = land["outputs"][0]["outputFacets"]["outputStatistics"]
    data = "order_id,customer,amount\n1,Ann,9.50\n2,Bo,not-a-number\n3,Cy,0.99\n"
    assert stats["size"] == len(data) - 1  # rendering drops a template's final newline
    archive = event(events, "archive_orders", "COMPLETE")
    assert names(archive["inputs"]) == [(cos, "run-1/incoming/orders.csv")]
    assert names(archive["outputs"]) == [(cos, "run-1/archive/orders.csv")]


@pytest.mark.slow
def test_load_reads_the_prefix_and_overwrites_the_table(lineage_run):
    events, cos, postgres = lineage_run["events"], lineage_run["cos"], lineage_run["postgres"]
    table = lineage_run["table"]
    start = event(events, "load_orders", "START")
    assert names(start["inputs"]) == [(cos, "run-1/incoming")]
    assert names(start["outputs"]) == [(postgres, table)]

    complete = event(events, "load_orders", "COMPLETE")
    assert names(complete["inputs"]) == [(cos, "run-1/incoming")]
    [output] = complete["outputs"]
    assert (output["namespace"], output["name"]) == (postgres, table)
    facets = output["facets"]
    assert [(f["name"], f["type"]) for f in facets["schema"]["fields"]] == [
        ("order_id", "bigint"),
        ("customer", "text"),
        ("amount", "numeric(12,2)"),
    ]
    assert facets["lifecycleStateChange"]["lifecycleStateChange"] == "OVERWRITE"
    lineage = facets["columnLineage"]["fields"]
    assert set(lineage) == {"order_id", "customer", "amount"}
    for column, fields in lineage.items():
        assert [(f["namespace"], f["name"], f["field"]) for f in fields["inputFields"]] == [
            (cos, "run-1/incoming", column)
        ]
    stats = output["outputFacets"]["outputStatistics"]
    assert (stats["rowCount"], stats["fileCount"]) == (2, 1)

    load = complete["run"]["facets"]["tencentCloudSnovaLoad"]
    assert (load["mode"], load["rowsLoaded"], load["rejectedRows"]) == ("replace", 2, 1)
    assert (load["objectsLoaded"], load["objectsSkipped"]) == (1, 0)
    [obj] = load["objects"]
    assert (obj["key"], obj["rows"], obj["rejected"]) == ("run-1/incoming/orders.csv", 2, 1)


@pytest.mark.slow
def test_export_reads_the_table_and_writes_the_object(lineage_run):
    events, cos, postgres = lineage_run["events"], lineage_run["cos"], lineage_run["postgres"]
    table = lineage_run["table"]
    complete = event(events, "export_totals", "COMPLETE")
    [source] = complete["inputs"]
    assert (source["namespace"], source["name"]) == (postgres, table)
    assert [f["name"] for f in source["facets"]["schema"]["fields"]] == [
        "order_id",
        "customer",
        "amount",
    ]
    [output] = complete["outputs"]
    assert (output["namespace"], output["name"]) == (cos, "run-1/exports/totals.csv")
    # the columns as OpenLineage's SQL parser lists them
    assert {f["name"] for f in output["facets"]["schema"]["fields"]} == {"customer", "amount"}
    lineage = output["facets"]["columnLineage"]["fields"]
    assert {
        column: [(f["namespace"], f["name"], f["field"]) for f in fields["inputFields"]]
        for column, fields in lineage.items()
    } == {
        "customer": [(postgres, table, "customer")],
        "amount": [(postgres, table, "amount")],
    }
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 1
    assert "SELECT customer, amount" in complete["job"]["facets"]["sql"]["query"]


@pytest.mark.slow
def test_invoke_reports_the_function_and_its_request_id(lineage_run):
    events, function = lineage_run["events"], lineage_run["function"]
    start = event(events, "notify", "START")
    complete = event(events, "notify", "COMPLETE")
    for reported in (start, complete):
        job = reported["job"]["facets"]["tencentCloudScfFunction"]
        assert (job["functionName"], job["namespace"], job["qualifier"]) == (
            function,
            "default",
            "$LATEST",
        )
        assert job["invocationType"] == "RequestResponse"
    assert "externalQuery" not in start["run"]["facets"]
    query = complete["run"]["facets"]["externalQuery"]
    assert query["source"] == "scf"
    invocation = lineage_run["emulator"].scf.history.get(query["externalQueryId"])
    assert invocation is not None and invocation.function_name == function


@pytest.mark.slow
def test_delete_drops_the_prefix(lineage_run):
    events, cos = lineage_run["events"], lineage_run["cos"]
    complete = event(events, "cleanup", "COMPLETE")
    [dropped] = complete["inputs"]
    assert (dropped["namespace"], dropped["name"]) == (cos, "run-1")
    change = dropped["facets"]["lifecycleStateChange"]
    assert change["lifecycleStateChange"] == "DROP"
    assert change["previousIdentifier"] == {"namespace": cos, "name": "run-1"}
