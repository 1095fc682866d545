"""The emulator is its own distribution: versioned with the core, free of Airflow and the SDKs,
and absent from the provider's package."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.metadata import requires, version

import scf_snova_core
import scf_snova_emulator

SCRIPT = """
import importlib, pkgutil, sys
import scf_snova_emulator
for package in ("scf_snova_emulator", "scf_snova_emulator.scf", "scf_snova_emulator.cos"):
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name not in ("__main__", "bootstrap"):
            importlib.import_module(package + "." + info.name)
heavy = ("airflow", "airflow_scf_snova", "tencentcloud", "qcloud_cos", "psycopg2")
print(" ".join(sorted({n for n in sys.modules if n.split(".")[0] in heavy})))
"""


def test_released_in_lockstep_with_the_core():
    assert scf_snova_emulator.__version__ == version("scf-snova-emulator")
    assert scf_snova_emulator.__version__ == scf_snova_core.__version__
    assert f"scf-snova-core=={scf_snova_core.__version__}" in requires("scf-snova-emulator")


def test_imports_neither_airflow_nor_the_sdks():
    # A fresh interpreter: this test process has long imported everything.
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_the_provider_holds_no_emulator():
    assert importlib.util.find_spec("airflow_scf_snova.emulator") is None
