"""dags/example_durable.py run with ``dag.test()`` against the emulator and a real PostgreSQL, and
docs/durable-execution.md kept in step with it."""

from __future__ import annotations

import importlib.util

import pytest
from scf_snova_devel.docs import assert_doc_quotes_dags
from scf_snova_devel.scf import ROOT, delete_quietly, fast_hook

DAG_FILE = ROOT / "dags" / "example_durable.py"
DOC_FILE = ROOT / "docs" / "durable-execution.md"


def load_dag():
    spec = importlib.util.spec_from_file_location("example_durable_under_test", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


@pytest.mark.slow
@pytest.mark.emulator_only("counts the emulator's invocations")
def test_example_dag_runs(airflow_db, emulator, bucket, db, put, unique_name, capfd):
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    hook = fast_hook()
    name = unique_name("durable-echo")
    db.execute("CREATE TABLE events (id int, what text)")
    put("incoming/1.csv", "1,first\n2,second\n")
    try:
        conf = {"function_name": name, "bucket": bucket, "prefix": "incoming/", "table": "events"}
        dag_run = load_dag().test(run_conf=conf)
        out, err = capfd.readouterr()
        assert dag_run.state == "success", (out + err)[-5000:]
    finally:
        delete_quietly(hook, name)
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    [attempt] = emulator.control.invocations(name)
    assert attempt["invocation_type"] == "Event"
    assert db.rows("SELECT id, what FROM events ORDER BY id") == [(1, "first"), (2, "second")]
    with create_session() as session:  # the recorded invocation is forgotten at the end
        left = session.scalar(
            select(func.count()).where(TaskStateStoreModel.run_id == dag_run.run_id)
        )
    assert left == 0


def test_docs_quote_the_example_dag_verbatim():
    assert_doc_quotes_dags(DOC_FILE, DAG_FILE)
