"""dags/example_scf.py run with ``dag.test()`` against the target (the emulator, or Tencent Cloud
under ``make test-cloud``), and docs/scf.md kept in step with it."""

from __future__ import annotations

import importlib.util
import json

import pytest
from scf_snova_devel.cleanup import delete_function
from scf_snova_devel.docs import assert_doc_quotes_dags
from scf_snova_devel.scf import ROOT

from airflow_scf_snova.links.scf import console_region

DAG_FILE = ROOT / "dags" / "example_scf.py"
DOC_FILE = ROOT / "docs" / "scf.md"
DB_PASSWORD = "Snova-pw-91c2e7"


def load_dag():
    spec = importlib.util.spec_from_file_location("example_scf_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def xcoms(run_id: str) -> dict[tuple[str, str], object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids="example_scf")).all()
        return {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}


@pytest.fixture
def snova_password(monkeypatch):
    # The DAG hands the snova_default password to the function; no database is contacted.
    monkeypatch.setenv(
        "AIRFLOW_CONN_SNOVA_DEFAULT", f"postgresql://loader:{DB_PASSWORD}@127.0.0.1:5436/dw"
    )
    return DB_PASSWORD


def trigger_of(event: dict) -> str:
    """Which trigger sent an event: SCF's timer event has ``Type`` Timer, a COS event
    ``Records``."""
    return "timer" if event.get("Type") == "Timer" else "cos" if "Records" in event else "api"


def test_example_dag_runs_end_to_end(
    airflow_db, target, scratch, unique_name, snova_password, capsys, caplog
):
    hook = target.scf
    bucket, prefix = scratch.bucket, scratch.root + "incoming/"
    function_name = unique_name("example")
    try:
        dag_run = load_dag().test(
            run_conf={
                "function_name": function_name,
                "bucket": bucket,
                "prefix": prefix,
                "cleanup": False,
            }
        )
        output = capsys.readouterr()
        # Task output goes to stdout (structlog); the DAG runner's own lines to logging.
        logged = output.out + output.err + caplog.text
        assert dag_run.state == "success", logged[-5000:]
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
        assert states.pop("delete_function") == "skipped"  # cleanup=False
        assert states.pop("delete_timer_trigger") == states.pop("delete_cos_trigger") == "skipped"
        assert set(states.values()) == {"success"}

        values = xcoms(dag_run.run_id)
        deployed = values[("deploy_function", "return_value")]
        assert (deployed["created"], deployed["status"], deployed["version"]) == (
            True,
            "Active",
            "1",
        )
        sync = values[("invoke_function", "return_value")]
        assert sync["event"] == {"run_id": dag_run.run_id, "rows": [1, 2, 3]}
        assert (sync["greeting"], sync["has_db_password"]) == ("hello from Airflow", True)
        asynchronous = values[("invoke_function_async", "return_value")]
        assert asynchronous["event"] == {"run_id": dag_run.run_id, "mode": "async"}
        assert "[DAG TEST] running trigger in line" in logged  # it really deferred

        # Console links, computed by the task runner from what execute persisted.
        link = values[("invoke_function", "_link_SCFFunctionLogsLink")]
        rid = "1" if target.region == "ap-guangzhou" else console_region(target.region)
        assert link == (
            f"https://console.cloud.tencent.com/scf/list-detail?rid={rid}&ns={target.namespace}"
            f"&id={function_name}&menu=log&tab=codeTab"
        )
        assert values[("deploy_function", "_link_SCFFunctionLink")] == link.replace("&menu=log", "")

        # No secret in the task logs: neither the SecretKey nor the function's DB password.
        assert "SCF function log (FunctionRequestId" in logged  # the function's log was relayed
        assert target.secret_key not in logged
        assert DB_PASSWORD not in logged

        # The triggers the DAG created fire (on the cloud, the timer's event is sent by hand).
        target.fire_timer(function_name, "nightly")
        target.put_object(bucket, prefix + "day-1.csv", b"id\n1\n")
        runs = target.wait_for_invocations(4, function_name, timeout=30)
        events = [json.loads(r["ret_msg"])["event"] for r in runs]
        by_trigger = {trigger_of(event): event for event in events}
        assert sorted(trigger_of(event) for event in events) == ["api", "api", "cos", "timer"]
        assert by_trigger["timer"]["Message"] == '{"source": "nightly timer"}'
        key = by_trigger["cos"]["Records"][0]["cos"]["cosObject"]["key"]
        assert key.endswith(f"/{bucket.rsplit('-', 1)[0]}/{prefix}day-1.csv")
    finally:
        delete_function(hook, function_name, target.namespace)


def test_example_dag_cleans_up_after_itself(
    airflow_db, target, scratch, unique_name, snova_password
):
    hook = target.scf
    function_name = unique_name("example")
    conf = {"function_name": function_name, "bucket": scratch.bucket, "prefix": scratch.root}
    try:
        dag_run = load_dag().test(run_conf=conf)
        assert dag_run.state == "success"
        assert not hook.function_exists(function_name)
    finally:
        delete_function(hook, function_name, target.namespace)


# -- docs ----------------------------------------------------------------------------------------
def test_docs_quote_the_example_dag_verbatim():
    assert_doc_quotes_dags(DOC_FILE, DAG_FILE)
