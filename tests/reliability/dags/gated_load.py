"""One COSToSnovaOperator task for ``test_process_faults.py``'s ``airflow tasks test`` scenario.

The bucket comes from ``GATED_BUCKET``. With ``RELIABILITY_GATE`` set (JSON ``{"key", "after",
"fifo"}``), the object ``key`` is held after ``after`` bytes, exactly as in ``load_runner.py``,
so the test can ``kill -9`` the real Airflow task process while its COPY streams.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

if os.environ.get("RELIABILITY_GATE"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from reliability.load_runner import _install_gate

    _install_gate(**json.loads(os.environ["RELIABILITY_GATE"]))

with DAG(
    dag_id="gated_load",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    COSToSnovaOperator(
        task_id="load",
        table="t1",
        bucket=os.environ.get("GATED_BUCKET", "unset-1250000000"),
        prefix="k/",
        method="copy",
        retries=1,
    )
