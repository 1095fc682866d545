"""dags/example_object_storage.py run with ``dag.test()`` against the target, with Airflow's
object-storage XCom backend keeping every XCom in COS (``cos://``); docs/object-storage.md kept in
step with the DAG."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from scf_snova_devel.docs import assert_doc_quotes_dags

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "example_object_storage.py"
DOC_FILE = ROOT / "docs" / "object-storage.md"

#: Runs in a fresh interpreter (Airflow picks its XCom backend once, when it is first imported),
#: on a metadata database of its own.
RUN_DAG = """
import importlib.util, json, sys
from airflow.utils import db

db.resetdb(skip_init=False)
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

spec = importlib.util.spec_from_file_location("example_object_storage_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test(run_conf=json.loads(sys.argv[2]))
with create_session() as session:
    rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id)).all()
    stored = {f"{r.task_id}.{r.key}": r.value for r in rows}
states = {ti.task_id: ti.state for ti in run.get_task_instances()}
print("RESULT " + json.dumps({"state": run.state, "states": states, "stored": stored}))
"""


@pytest.mark.slow
def test_example_dag_runs_with_cos_paths_and_xcoms_in_cos(target, scratch, tmp_path):
    from airflow_scf_snova.hooks.cos import COSHook

    bucket, folder = scratch.bucket, scratch.root + "example-object-storage/"
    xcom_root = f"cos://tencentcloud_default@{bucket}/{scratch.root}xcom"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__XCOM_BACKEND": (
            "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
        ),
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": xcom_root,
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "0",  # every value goes to COS
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_COMPRESSION": "gzip",
    }
    conf = json.dumps({"bucket": bucket, "folder": folder})
    result = subprocess.run(
        [sys.executable, "-c", RUN_DAG, str(DAG_FILE), conf],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, (result.stdout + result.stderr)[-5000:]
    run = json.loads(lines[-1].removeprefix("RESULT "))
    assert run["state"] == "success", (result.stdout + result.stderr)[-5000:]
    assert set(run["states"].values()) == {"success"}, run["states"]

    # The XComs in the metadata database are only references to COS objects...
    hook = COSHook()
    stored = run["stored"]
    assert set(stored) >= {"write_orders.return_value", "summarise.return_value"}
    values = {}
    for name, reference in stored.items():
        assert reference.startswith(xcom_root + "/") and reference.endswith(".gz"), reference
        key = reference.removeprefix(f"cos://tencentcloud_default@{bucket}/")
        values[name] = json.loads(gzip.decompress(hook.read_object(bucket, key)))
    # ... and the values the tasks exchanged through them are the real ones.
    summary = values["summarise.return_value"]
    [archived] = summary["files"]
    assert re.fullmatch(r"orders-\d{8}\.csv", archived)
    assert summary["rows"] == 3 and summary["total"] == pytest.approx(21.75)
    assert values["report.return_value"] == "3 orders in 1 file(s): 21.75"
    assert values["cleanup.return_value"] == 2  # incoming/orders.csv and its archived copy
    assert list(hook.iter_objects(bucket, prefix=folder)) == []
    assert target.secret_key not in result.stdout + result.stderr


def test_doc_quotes_the_example_dag_verbatim():
    assert_doc_quotes_dags(DOC_FILE, DAG_FILE, at_least=3)
