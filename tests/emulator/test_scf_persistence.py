"""SCF state survives a restart on the same data directory."""

from __future__ import annotations

import json

from scf_snova_devel.scf_api import (
    call,
    client_for,
    create_function,
    invoke,
    search_log,
    wait_status,
    zip_b64,
)
from scf_snova_emulator import EmulatorConfig, EmulatorServer
from scf_snova_emulator.scf.invocations import InvocationHistory
from scf_snova_emulator.scf.models import Invocation
from scf_snova_emulator.scf.storage import ScfStorage
from tencentcloud.cls.v20201016.cls_client import ClsClient

HANGS = """
import time

def main_handler(event, context):
    print("started", flush=True)
    time.sleep(60)
"""


def test_functions_versions_triggers_and_logs_survive_a_restart(tmp_path):
    config = EmulatorConfig(port=0, data_dir=str(tmp_path), status_delay=0.01, timers=False)
    with EmulatorServer(config) as first:
        client = client_for(first)
        before = create_function(
            client,
            "persisted",
            source="def main_handler(e, c):\n    return 'v1'\n",
            Environment={"Variables": [{"Key": "A", "Value": "1"}]},
            Tags=[{"Key": "code-sha256", "Value": "deadbeef"}],
        )
        call(client, "PublishVersion", {"FunctionName": "persisted"})
        wait_status(client, "persisted")
        new_code = zip_b64("def main_handler(e, c):\n    return 'v2, updated'\n")
        call(client, "UpdateFunctionCode", {"FunctionName": "persisted", "ZipFile": new_code})
        wait_status(client, "persisted")
        call(
            client,
            "CreateTrigger",
            {
                "FunctionName": "persisted",
                "TriggerName": "daily",
                "Type": "timer",
                "TriggerDesc": "0 0 1 * * * *",
            },
        )
        done = invoke(client, "persisted")["FunctionRequestId"]
        create_function(client, "hangs", source=HANGS, Timeout=120)
        hanging = call(client, "Invoke", {"FunctionName": "hangs", "InvocationType": "Event"})[
            "Result"
        ]["FunctionRequestId"]
        first.control.wait_for_invocations(1, "persisted")

    with EmulatorServer(config) as second:
        client = client_for(second)
        after = call(client, "GetFunction", {"FunctionName": "persisted"})
        assert after["Status"] == "Active"
        for field in ("FunctionId", "AddTime", "Environment", "Tags", "Handler", "Runtime"):
            assert after[field] == before[field], field
        assert after["CodeSize"] != before["CodeSize"]  # the updated code
        assert [t["TriggerName"] for t in after["Triggers"]] == ["daily"]
        assert invoke(client, "persisted")["RetMsg"] == '"v2, updated"'
        assert invoke(client, "persisted", Qualifier="1")["RetMsg"] == '"v1"'
        assert call(client, "PublishVersion", {"FunctionName": "persisted"})["FunctionVersion"] == (
            "2"
        )
        finished = call(
            client, "GetRequestStatus", {"FunctionName": "persisted", "FunctionRequestId": done}
        )
        assert finished["Data"][0]["RetMsg"] == '"v2, updated"'
        assert after["ClsTopicId"] == before["ClsTopicId"]  # the same log topic
        logs = search_log(
            client_for(second, ClsClient), after["ClsTopicId"], f'SCF_RequestId:"{done}"'
        )
        messages = [r["Fields"]["SCF_Message"] for r in logs["Results"]]
        assert messages[0] == f"START RequestId: {done}"
        assert messages[-1].startswith(f"Report RequestId: {done}")
        status = call(
            client, "GetRequestStatus", {"FunctionName": "hangs", "FunctionRequestId": hanging}
        )["Data"][0]
        assert status["RetCode"] == -1
        assert "stopped" in json.loads(status["RetMsg"])["errorMessage"]


def test_an_invocation_left_running_by_a_crash_loads_as_failed(tmp_path):
    store = ScfStorage(tmp_path)
    record = Invocation("rid-1", "default", "fn", "$LATEST", "api", "Event", {}, start_time=1.0)
    store.save_invocation(record.to_dict())  # what a killed emulator leaves behind
    (loaded,) = InvocationHistory(store).select(lambda r: True)
    assert loaded.status == "failed" and loaded.status_code == 405
    assert json.loads(loaded.err_msg)["requestId"] == "rid-1"
    (saved,) = store.load_invocations()
    assert saved["status"] == "failed"
    store.close()


def test_a_retry_still_to_come_is_dropped_by_a_restart(tmp_path):
    store = ScfStorage(tmp_path)
    first = Invocation(
        "rid-2", "default", "fn", "$LATEST", "api", "Event", {}, status="failed", retry_at=9e9
    )
    store.save_invocation(first.to_dict())
    retry = Invocation("rid-2", "default", "fn", "$LATEST", "api", "Event", {}, retry_num=1)
    store.save_invocation(retry.to_dict())  # the retry's own record, under its own key
    history = InvocationHistory(store)
    attempts = history.select(lambda r: True)
    assert [(a.retry_num, a.retry_at, a.status) for a in attempts] == [
        (0, 0.0, "failed"),
        (1, 0.0, "failed"),  # it was running: loaded as failed
    ]
    assert history.get("rid-2").retry_num == 1  # the latest attempt
    assert sorted(p.name for p in (tmp_path / "invocations").iterdir()) == [
        "rid-2.json",
        "rid-2.retry1.json",
    ]
