"""A sync invoke is one API call: no ``GetFunction`` first (it made every invoke of a quick
function ~10% slower; see docs/benchmarks.md, "Invoke overhead")."""

from __future__ import annotations

import pytest
from scf_snova_devel.scf import delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.scf.payloads import decode_return_value


@pytest.fixture
def echo(emulator, unique_name):
    hook = fast_hook()
    name = unique_name("echo")
    deploy_echo(hook, name)
    yield name
    delete_quietly(hook, name)


def test_sync_invoke_sends_no_get_function(emulator, echo):
    hook = fast_hook(max_retries=0)
    # Any GetFunction would now be refused (and, with no retries left, fail the invoke).
    emulator.faults.throttle(3, ["GetFunction"])
    result = hook.invoke(echo, {"n": 7})
    assert decode_return_value(result["RetMsg"])["event"] == {"n": 7}
    assert emulator.faults.snapshot()["throttle"] == 3  # untouched: no GetFunction was sent
