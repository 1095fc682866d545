"""Fixtures of the reliability tests: captured task output. The database handle, objects in the
emulator's COS and a load run in this process (``db``, ``put``, ``run_load``) are shared with the
transfer tests (``scf_snova_devel.loads``)."""

from __future__ import annotations

import pytest
from reliability.support import OutputWatch


@pytest.fixture
def output(capfd):
    """Everything written to stdout/stderr (Airflow's task logger writes to stdout)."""
    return OutputWatch(capfd)
