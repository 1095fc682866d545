"""DAG files import operators, sensors, transfers and triggers: none of them may load an SDK."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "tencentcloud",
    "qcloud_cos",
    "psycopg2",
    "airflow.providers.postgres",
    # the OpenLineage client and the provider's extractors (common-sql's operators import
    # only the small ``airflow.providers.common.compat.openlineage.check``)
    "openlineage",
    "airflow.providers.openlineage.extractors",
)

SCRIPT = """
import importlib, pkgutil, sys
import airflow.sdk
baseline = set(sys.modules)
for pkg in ("operators", "sensors", "transfers", "triggers", "links"):
    mod = importlib.import_module("airflow_scf_snova." + pkg)
    for info in pkgutil.iter_modules(mod.__path__):
        importlib.import_module(mod.__name__ + "." + info.name)
        print("imported", mod.__name__ + "." + info.name, file=sys.stderr)
new = set(sys.modules) - baseline
print(" ".join(m for m in %r if any(n == m or n.startswith(m + ".") for n in new)))
"""


def test_dag_facing_modules_do_not_import_sdks():
    # A fresh interpreter: this test process has long imported everything. The baseline is what
    # ``import airflow.sdk`` itself loads (provider discovery imports each provider's package
    # ``__init__``, e.g. ``airflow.providers.postgres``, but none of its hooks).
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT % (HEAVY,)], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"loaded at import time: {result.stdout.strip()}"
