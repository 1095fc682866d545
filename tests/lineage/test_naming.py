"""Dataset names (OpenLineage's naming convention), docs/lineage.md quoting the example DAG, and
the provider without OpenLineage installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scf_snova_devel.docs import assert_doc_quotes_dags

from airflow_scf_snova.lineage.naming import (
    cos_namespace,
    cos_object_name,
    cos_prefix_name,
    local_file,
    postgres_namespace,
    table_name,
)

ROOT = Path(__file__).resolve().parents[2]


def test_cos_objects_and_prefixes():
    assert cos_namespace("Logs-1250000000") == "cos://logs-1250000000"
    assert cos_object_name("incoming/a.csv") == "incoming/a.csv"
    assert cos_object_name("/incoming/a.csv") == "incoming/a.csv"
    assert cos_prefix_name("incoming/") == "incoming"
    assert cos_prefix_name("incoming/2024-") == "incoming/2024-"
    assert cos_prefix_name("") == cos_prefix_name(None) == "/"


def test_snova_tables_and_local_files(tmp_path):
    assert postgres_namespace("db.example.com", 5436) == "postgres://db.example.com:5436"
    assert postgres_namespace("db", None) == "postgres://db:5432"
    assert table_name("dw", "public", "orders") == "dw.public.orders"
    namespace, path = local_file(tmp_path / "a.csv")
    assert namespace.startswith("file://") and path == str(tmp_path / "a.csv")


def test_docs_quote_the_example_dag_verbatim():
    blocks = assert_doc_quotes_dags(
        ROOT / "docs" / "lineage.md", ROOT / "dags" / "example_lineage.py", at_least=3
    )
    assert len(blocks) == 3, "dags/example_lineage.py lost its [START ...] markers"


#: The OpenLineage client and every module of the Airflow provider but the metadata Airflow's
#: provider discovery reads are unimportable, as when neither is installed.
BLOCKED_RUN = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        provider = name.startswith("airflow.providers.openlineage.")
        if name == "openlineage" or name.startswith("openlineage.") or (
            provider and not name.endswith(".get_provider_info")
        ):
            raise ImportError(f"{name} is blocked: OpenLineage is not installed")

sys.meta_path.insert(0, Blocker())
import importlib.util
spec = importlib.util.spec_from_file_location("example_lineage_parsed", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
task = module.dag.get_task("land_orders")
task.bucket, task.key, task.data = sys.argv[2], "no-lineage/a.csv", "x"
print("ETAG", task.execute({}))
"""


def test_the_provider_works_without_openlineage(emulator, bucket):
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, str(ROOT / "dags" / "example_lineage.py"), bucket],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ETAG " in done.stdout


@pytest.mark.parametrize("module", ["facets", "cos", "snova", "scf"])
def test_lineage_modules_import(module):
    import importlib

    importlib.import_module(f"airflow_scf_snova.lineage.{module}")
