"""The Greenplum check every load starts with is one ``SELECT version()``: it must not start
Airflow's hook lineage, whose first use in a process imports every installed provider's asset
handlers (1.5 s with the Amazon provider installed; see docs/benchmarks.md)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from airflow.sdk.lineage import get_hook_lineage_collector
from airflow_scf_snova.hooks.snova import SnovaHook

hook = SnovaHook()
print(hook.is_greenplum(), "PostgreSQL" in hook.server_version_banner)
print(get_hook_lineage_collector.cache_info().currsize)
"""


def test_greenplum_check_does_not_start_hook_lineage(snova_server):
    # A fresh interpreter: in this test process the collector may long be initialised.
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    detected, lineage = result.stdout.split("\n")[:2]
    assert detected == "False True"  # plain PostgreSQL, read from the server
    assert lineage == "0", "the version check initialised the hook lineage collector"
