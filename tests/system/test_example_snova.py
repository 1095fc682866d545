"""dags/example_snova.py run with ``dag.test()`` against the target (the emulator and a real
PostgreSQL, or Tencent Cloud and Snova under ``make test-cloud``, where ``method="auto"`` loads and
exports through cos_ext external tables); docs/snova.md kept in step with it (and with
dags/cos_to_snova_import.py's role snippet)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
from decimal import Decimal
from pathlib import Path

from scf_snova_devel.docs import assert_doc_quotes_dags

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "example_snova.py"
#: DAG files whose [START ...] snippets docs/snova.md quotes.
SNIPPET_FILES = (DAG_FILE, ROOT / "dags" / "cos_to_snova_import.py")
DOC_FILE = ROOT / "docs" / "snova.md"


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


def test_example_dag_loads_once_and_exports(airflow_db, target, scratch, snova_db, capfd):
    import psycopg2

    from airflow_scf_snova.hooks.cos import COSHook

    bucket = scratch.bucket
    prefix = scratch.root + "example-snova/incoming/"
    export_key = scratch.root + "example-snova/exports/orders.csv.gz"
    dag = load(DAG_FILE, "example_snova_under_test").dag
    conf = {"bucket": bucket, "prefix": prefix, "export_key": export_key}

    first = dag.test(run_conf=conf)
    out, err = capfd.readouterr()
    assert first.state == "success", out[-5000:]
    loaded = xcoms(first.run_id, "example_snova")[("load_orders", "return_value")]
    assert [(r["key"], r["status"], r["rows"]) for r in loaded] == [
        (prefix + "orders.csv", "loaded", 3)
    ]

    second = dag.test(run_conf=conf)  # the same file again: skipped, not duplicated
    out2, err2 = capfd.readouterr()
    assert second.state == "success", out2[-5000:]
    values = xcoms(second.run_id, "example_snova")
    assert [r["status"] for r in values[("load_orders", "return_value")]] == ["skipped"]
    assert ("count_orders", "return_value") in values

    conn = psycopg2.connect(snova_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT order_id, customer, amount FROM example_orders ORDER BY 1")
            rows = cur.fetchall()
    finally:
        conn.close()
    assert rows == [
        (1, "张三", Decimal("9.50")),
        (2, "Lee, Ann", Decimal("12.00")),
        (3, None, Decimal("0.99")),
    ]

    exported = gzip.decompress(COSHook().read_object(bucket, export_key)).decode()
    assert list(csv.reader(io.StringIO(exported))) == [
        ["order_id", "customer", "amount"],
        ["1", "张三", "9.50"],
        ["2", "Lee, Ann", "12.00"],
        ["3", "", "0.99"],
    ]
    assert target.secret_key not in out + err + out2 + err2


# -- docs ----------------------------------------------------------------------------------------
def test_docs_quote_the_example_dag_verbatim():
    assert_doc_quotes_dags(DOC_FILE, *SNIPPET_FILES, at_least=4)
