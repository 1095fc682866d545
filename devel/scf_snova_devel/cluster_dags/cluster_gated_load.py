"""The cluster's killed-worker load (``make demo-cluster`` scenario 3): one
``COSToSnovaOperator`` task into ``t_kill``.

When ``SCF_SNOVA_CLUSTER_GATE`` names an existing file (JSON ``{"key", "after", "fifo"}``) as
the task process parses this file, the object ``key`` is held after ``after`` bytes have gone
into COPY, exactly as in ``tests/reliability/load_runner.py``; the first task to get there claims
the gate (renames the file) and blocks on the FIFO, so the test can kill its worker mid-load,
and the retry streams through. The gate file is a test-harness file beside the cluster, not
something the provider shares between workers.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

_GATE = Path(os.environ.get("SCF_SNOVA_CLUSTER_GATE", "/nonexistent"))
if _GATE.is_file():
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
    from reliability.load_runner import _install_gate

    def _claim() -> bool:
        try:
            _GATE.rename(_GATE.with_suffix(".claimed"))
        except FileNotFoundError:
            return False  # another try claimed it: stream through
        return True

    _install_gate(**json.loads(_GATE.read_text()), claim=_claim)

with DAG(
    dag_id="cluster_gated_load",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    COSToSnovaOperator(
        task_id="load",
        table="t_kill",
        bucket=os.environ.get("SNOVA_IMPORT_BUCKET", "unset-1250000000"),
        prefix="cluster-kill/",
        method="copy",
    )
