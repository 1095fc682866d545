"""A DAG file that builds COS sensors does not import the triggers (nor
``airflow.triggers.base``): they are imported when a sensor defers. Part of the DAG-parse cost
measured in docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import airflow.sdk
from airflow_scf_snova.sensors.cos import COSObjectSensor, COSObjectsUnchangedSensor
COSObjectSensor(task_id="s", bucket="b-1250000000", prefix="in/", deferrable=True)
print(" ".join(m for m in ("airflow.triggers.base", "airflow_scf_snova.triggers.cos")
               if m in sys.modules))
"""


def test_building_cos_sensors_does_not_import_triggers():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"imported at parse time: {result.stdout.strip()}"
