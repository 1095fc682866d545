"""Invocations read as a client reads them on Tencent Cloud (``scf_snova_devel.invocations``: CLS
``SearchLog`` and ``GetRequestStatus``), checked against what the emulator itself recorded; and a
timer trigger run by an async invoke (the cloud's way) against the emulator's own firing."""

from __future__ import annotations

import json
import re
import time

import pytest
from scf_snova_devel.invocations import InvocationWatcher, fire_timer
from scf_snova_devel.scf import fast_hook
from scf_snova_devel.scf_api import ECHO, SLEEPS, call, create_function, invoke

FAILS_WHEN_TOLD = """
def main_handler(event, context):
    print("told:", event.get("fail", False))
    if event.get("fail"):
        raise RuntimeError("told to fail")
    return {"ok": event}
"""


@pytest.fixture
def fast_retries(emulator):
    saved = emulator.control.settings()["retry_interval"]
    emulator.control.set_retry_interval(0.05)
    yield
    emulator.control.set_retry_interval(saved)


def event_invoke(client, name: str, event: dict) -> str:
    request = {"FunctionName": name, "InvocationType": "Event", "ClientContext": json.dumps(event)}
    return call(client, "Invoke", request)["Result"]["FunctionRequestId"]


def test_the_public_view_matches_the_emulators_records(
    emulator, scf_client, unique_name, fast_retries
):
    name = unique_name("fn")
    create_function(scf_client, name, source=FAILS_WHEN_TOLD)
    watcher = InvocationWatcher(fast_hook(), since=time.time(), poll_interval=0.05, log_grace=5)
    synced = invoke(scf_client, name, {"n": 1})["FunctionRequestId"]
    ok = event_invoke(scf_client, name, {"n": 2})
    failing = event_invoke(scf_client, name, {"fail": True})
    emulator.control.wait_for_invocations(3, name, final=True, timeout=30)

    finals = watcher.wait_for(3, name, final=True, timeout=30)
    assert [(a["request_id"], a["retry_num"], a["status"]) for a in finals] == [
        (synced, 0, "success"),
        (ok, 0, "success"),
        (failing, 2, "failed"),  # SCF's two retries came first
    ]
    public = watcher.invocations(name)
    recorded = emulator.control.invocations(name)
    assert len(public) == len(recorded) == 5
    for seen, truth in zip(public, recorded, strict=True):
        assert (seen["request_id"], seen["retry_num"], seen["status"]) == (
            truth["request_id"],
            truth["retry_num"],
            truth["status"],
        )
        assert seen["ret_msg"] == truth["ret_msg"] and seen["finished"]
        assert seen["log"] == truth["log"]  # every line, START to Report
    assert json.loads(public[0]["ret_msg"]) == {"ok": {"n": 1}}
    assert "told to fail" in json.loads(public[-1]["ret_msg"])["stackTrace"]

    with pytest.raises(TimeoutError, match=r"3 of 4 final attempts of fn-it\w+-\d+ finished"):
        watcher.wait_for(4, name, final=True, timeout=0.2)


def test_a_running_attempt_is_seen_and_not_finished(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name, source=SLEEPS, Timeout=30)
    watcher = InvocationWatcher(fast_hook(), since=time.time(), poll_interval=0.05, log_grace=5)
    request_id = event_invoke(scf_client, name, {"seconds": 3})
    deadline = time.monotonic() + 10
    while not (running := watcher.invocations(name)) and time.monotonic() < deadline:
        time.sleep(0.05)  # its START line is shipped when it starts
    assert [(a["request_id"], a["status"], a["finished"]) for a in running] == [
        (request_id, "running", False)
    ]
    assert "START RequestId" in running[0]["log"]
    [done] = watcher.wait_for(1, name, timeout=30)
    assert (done["status"], json.loads(done["ret_msg"])) == ("success", "woke up")


def test_a_timer_run_by_invoke_gets_the_event_scf_sends(emulator, scf_client, unique_name):
    hook = fast_hook()
    name = unique_name("fn")
    create_function(scf_client, name, source=ECHO)
    hook.ensure_timer_trigger(name, "nightly", "0 2 * * *", custom_argument={"a": 1})
    watcher = InvocationWatcher(hook, since=time.time(), poll_interval=0.05, log_grace=5)
    by_invoke = fire_timer(hook, name, "nightly")
    by_scf = emulator.control.fire_timer(name, "nightly")
    runs = watcher.wait_for(2, name, timeout=30)
    events = {r["request_id"]: json.loads(r["ret_msg"])["event"] for r in runs}
    sent, scfs = events[by_invoke], events[by_scf]
    assert sent.keys() == scfs.keys() == {"Type", "TriggerName", "Time", "Message"}
    assert {k: sent[k] for k in ("Type", "TriggerName", "Message")} == {
        "Type": "Timer",
        "TriggerName": "nightly",
        "Message": '{"a": 1}',
    }
    assert {k: scfs[k] for k in ("Type", "TriggerName", "Message")} == {
        k: sent[k] for k in ("Type", "TriggerName", "Message")
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sent["Time"])
    with pytest.raises(LookupError, match="has no timer trigger 'weekly'"):
        fire_timer(hook, name, "weekly")
