"""dags/example_cos.py run with ``dag.test()`` against the emulator; dags/example_cos_event.py
parsed with its AssetWatcher; docs/cos.md kept in step with both."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

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


def test_example_dag_runs_end_to_end(airflow_db, emulator, bucket, capsys):
    from airflow_scf_snova.hooks.cos import COSHook

    prefix = "example-cos/incoming/"
    hook = COSHook()
    dag = load(DAG_FILE, "example_cos_under_test").dag
    dag_run = dag.test(run_conf={"bucket": bucket, "prefix": prefix})
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
    appid, short = emulator.config.appid, bucket.rsplit("-", 1)[0]
    assert summary["objects"] == [f"/{appid}/{short}/{k}" for k in keys]
    assert summary["bytes"] == sum(o["size"] for o in found)
    assert values[("cleanup", "return_value")] == 3  # the csv, loader.log and the archive copy
    assert list(hook.iter_objects(bucket)) == []
    assert emulator.config.secret_key not in output.out + output.err


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
_DAG_SNIPPET = re.compile(r"# \[START (?P<name>\w+)\]\n(?P<body>.*?)\n\s*# \[END (?P=name)\]", re.S)
_DOC_SNIPPET = re.compile(
    r"<!-- \[START (?P<name>\w+)\] -->\n```python\n(?P<body>.*?)\n```\n<!-- \[END (?P=name)\] -->",
    re.S,
)


def test_docs_quote_the_example_dags_verbatim():
    in_dags: dict[str, str] = {}
    for path in (DAG_FILE, EVENT_DAG_FILE):
        for match in _DAG_SNIPPET.finditer(path.read_text()):
            in_dags[match["name"]] = textwrap.dedent(match["body"])
    in_doc = {m["name"]: m["body"] for m in _DOC_SNIPPET.finditer(DOC_FILE.read_text())}
    assert len(in_dags) >= 8, "the example DAGs lost their [START ...] markers"
    assert sorted(in_doc) == sorted(in_dags), "every snippet of the DAGs is quoted, and only those"
    for name, body in in_dags.items():
        assert in_doc[name] == body, f"docs/cos.md drifted from the example DAGs in {name}"
