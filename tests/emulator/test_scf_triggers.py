"""Timer and COS triggers: CRUD through the real ``ScfClient``, firing through the emulator."""

from __future__ import annotations

import json
import re

import pytest
from scf_snova_devel.scf_api import call, create_function, error_code, wait_gone

API_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def timer(client, function, name, cron="0 */5 * * * * *", **params) -> dict:
    request = {
        "FunctionName": function,
        "TriggerName": name,
        "Type": "timer",
        "TriggerDesc": cron,
        **params,
    }
    return call(client, "CreateTrigger", request)["TriggerInfo"]


def cos_trigger_name(emulator, bucket: str) -> str:
    return f"{bucket}.cos.{emulator.config.region}.myqcloud.com"


def cos_desc(event="cos:ObjectCreated:*", prefix="", suffix="") -> str:
    return json.dumps({"event": event, "filter": {"Prefix": prefix, "Suffix": suffix}})


def test_timer_trigger_crud(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    info = timer(scf_client, name, "every5", CustomArgument='{"k": 1}', Description="d")
    assert info["TriggerDesc"] == '{"cron":"0 */5 * * * * *"}'
    assert (info["Type"], info["Enable"], info["Qualifier"]) == ("timer", 1, "$LATEST")
    assert (info["CustomArgument"], info["Description"]) == ('{"k": 1}', "d")
    assert info["AvailableStatus"] == "Available" and API_TIME.match(info["AddTime"])
    closed = timer(scf_client, name, "closed", cron="0 0 2 1 * * *", Enable="CLOSE")
    assert closed["Enable"] == 0
    function = call(scf_client, "GetFunction", {"FunctionName": name})
    assert {t["TriggerName"]: t["Enable"] for t in function["Triggers"]} == {
        "every5": 1,
        "closed": 0,
    }
    call(
        scf_client,
        "DeleteTrigger",
        {"FunctionName": name, "TriggerName": "every5", "Type": "timer"},
    )
    listed = call(scf_client, "ListTriggers", {"FunctionName": name})
    assert [t["TriggerName"] for t in listed["Triggers"]] == ["closed"]
    params = {"FunctionName": name, "TriggerName": "every5", "Type": "timer"}
    assert error_code(scf_client, "DeleteTrigger", params) == "ResourceNotFound.Trigger"


def test_timer_trigger_errors(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    timer(scf_client, name, "t1")
    base = {"FunctionName": name, "Type": "timer", "TriggerDesc": "0 */5 * * * * *"}
    assert error_code(scf_client, "CreateTrigger", {**base, "TriggerName": "t1"}) == (
        "ResourceInUse.Trigger"
    )
    assert error_code(scf_client, "CreateTrigger", {**base, "TriggerName": "1bad"}) == (
        "InvalidParameterValue.TriggerName"
    )
    bad = {**base, "TriggerName": "t2", "TriggerDesc": "0 */5 * * * *"}  # 6 fields: neither form
    assert error_code(scf_client, "CreateTrigger", bad) == "InvalidParameterValue.TriggerCronConfig"
    bad["TriggerDesc"] = "0 0 25 * * * *"
    try:
        call(scf_client, "CreateTrigger", bad)
    except Exception as exc:  # the message names the field
        assert "hour field" in exc.get_message()
    else:
        pytest.fail("hour 25 was accepted")
    enable = {**base, "TriggerName": "t3", "Enable": "YES"}
    assert error_code(scf_client, "CreateTrigger", enable) == "InvalidParameterValue.Enable"
    other = {**base, "TriggerName": "t4", "Type": "ckafka"}
    assert error_code(scf_client, "CreateTrigger", other) == "InvalidParameterValue.Type"
    version = {**base, "TriggerName": "t5", "Qualifier": "3"}
    assert error_code(scf_client, "CreateTrigger", version) == "ResourceNotFound.Qualifier"
    missing = {**base, "FunctionName": "no-such-function", "TriggerName": "t6"}
    assert error_code(scf_client, "CreateTrigger", missing) == "ResourceNotFound.Function"


def test_list_triggers_paging_and_order(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    for i in range(3):
        timer(scf_client, name, f"t{i}", Description=f"d{i % 2}")

    def names(**params):
        listed = call(scf_client, "ListTriggers", {"FunctionName": name, **params})
        return listed["TotalCount"], [t["TriggerName"] for t in listed["Triggers"]]

    assert names(OrderBy="add_time", Order="ASC") == (3, ["t0", "t1", "t2"])
    assert names(OrderBy="add_time", Order="ASC", Offset=1, Limit=1) == (3, ["t1"])
    assert names(OrderBy="add_time", Order="DESC", Limit=2) == (3, ["t2", "t1"])
    described = names(
        OrderBy="add_time", Order="ASC", Filters=[{"Name": "Description", "Values": ["d0"]}]
    )
    assert described == (2, ["t0", "t2"])


def test_fire_timer_through_control(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    timer(scf_client, name, "nightly", cron="0 0 3 * * * *", CustomArgument="hello")
    request_id = emulator.control.fire_timer(name, "nightly")
    (record,) = emulator.control.wait_for_invocations(1, name, timeout=20)
    assert record["request_id"] == request_id
    assert (record["trigger"], record["invocation_type"]) == ("timer", "Event")
    assert record["status"] == "success"
    event = record["event"]
    assert (event["Type"], event["TriggerName"], event["Message"]) == ("Timer", "nightly", "hello")
    assert ISO_UTC.match(event["Time"])
    assert json.loads(record["ret_msg"])["event"] == event


def test_scheduler_fires_open_timers_only(emulator, scf_client, unique_name):
    fires, closed = unique_name("fn"), unique_name("fn")
    create_function(scf_client, fires)
    create_function(scf_client, closed)
    timer(scf_client, closed, "secondly", cron="* * * * * * *", Enable="CLOSE")
    timer(scf_client, fires, "secondly", cron="* * * * * * *")
    try:
        records = emulator.control.wait_for_invocations(2, fires, timeout=20)
    finally:
        for function in (fires, closed):
            call(
                scf_client,
                "DeleteTrigger",
                {"FunctionName": function, "TriggerName": "secondly", "Type": "timer"},
            )
    times = [r["event"]["Time"] for r in records]
    assert len(set(times)) == len(times)  # one firing per second
    assert all(r["trigger"] == "timer" and r["status"] == "success" for r in records)
    assert emulator.control.invocations(closed) == []


def test_delete_function_removes_its_triggers(scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    timer(scf_client, name, "t1")
    call(scf_client, "DeleteFunction", {"FunctionName": name})
    wait_gone(scf_client, name)
    create_function(scf_client, name)
    assert call(scf_client, "ListTriggers", {"FunctionName": name})["TotalCount"] == 0


def test_cos_trigger_crud(emulator, scf_client, unique_name, bucket):
    name = unique_name("fn")
    create_function(scf_client, name)
    trigger_name = cos_trigger_name(emulator, bucket)
    desc = cos_desc(prefix="snova/", suffix=".log")
    info = call(
        scf_client,
        "CreateTrigger",
        {"FunctionName": name, "TriggerName": trigger_name, "Type": "cos", "TriggerDesc": desc},
    )["TriggerInfo"]
    assert json.loads(info["TriggerDesc"]) == json.loads(desc)
    assert (info["Type"], info["Enable"]) == ("cos", 1)
    base = {"FunctionName": name, "TriggerName": trigger_name, "Type": "cos"}
    assert error_code(scf_client, "CreateTrigger", {**base, "TriggerDesc": desc}) == (
        "ResourceInUse.Trigger"
    )
    removal = cos_desc(event="cos:ObjectRemove:*", prefix="snova/")
    call(scf_client, "CreateTrigger", {**base, "TriggerDesc": removal})
    assert call(scf_client, "ListTriggers", {"FunctionName": name})["TotalCount"] == 2
    assert error_code(scf_client, "DeleteTrigger", base) == "MissingParameter"
    call(scf_client, "DeleteTrigger", {**base, "TriggerDesc": removal})
    listed = call(scf_client, "ListTriggers", {"FunctionName": name})["Triggers"]
    assert [json.loads(t["TriggerDesc"])["event"] for t in listed] == ["cos:ObjectCreated:*"]


def test_cos_trigger_errors(emulator, scf_client, unique_name, bucket):
    name = unique_name("fn")
    create_function(scf_client, name)
    region, appid = emulator.config.region, emulator.config.appid
    base = {"FunctionName": name, "Type": "cos", "TriggerDesc": cos_desc()}
    cases = [
        ({"TriggerName": bucket}, "InvalidParameterValue.TriggerName"),
        ({"TriggerName": f"x-1.cos.{region}.myqcloud.com"}, "InvalidParameterValue.TriggerName"),
        (
            {"TriggerName": f"{bucket}.cos.ap-beijing.myqcloud.com"},
            "InvalidParameterValue.TriggerName",
        ),
        ({"TriggerName": f"nope-{appid}.cos.{region}.myqcloud.com"}, "ResourceNotFound.Cos"),
        (
            {"TriggerName": cos_trigger_name(emulator, bucket), "TriggerDesc": "{}"},
            "InvalidParameterValue.TriggerDesc",
        ),
        (
            {
                "TriggerName": cos_trigger_name(emulator, bucket),
                "TriggerDesc": cos_desc(event="cos:ObjectCreated:Put2"),
            },
            "InvalidParameterValue.TriggerDesc",
        ),
    ]
    for params, expected in cases:
        assert error_code(scf_client, "CreateTrigger", {**base, **params}) == expected


def test_overlapping_cos_rules_conflict_across_functions(emulator, scf_client, unique_name, bucket):
    first, second = unique_name("fn"), unique_name("fn")
    create_function(scf_client, first)
    create_function(scf_client, second)
    trigger_name = cos_trigger_name(emulator, bucket)

    def create(function, desc):
        params = {
            "FunctionName": function,
            "TriggerName": trigger_name,
            "Type": "cos",
            "TriggerDesc": desc,
        }
        return call(scf_client, "CreateTrigger", params)

    create(first, cos_desc(prefix="data/", suffix=".csv"))
    for desc in (
        cos_desc(prefix="data/2024/"),
        cos_desc(event="cos:ObjectCreated:Put", suffix=".csv"),
    ):
        params = {
            "FunctionName": second,
            "TriggerName": trigger_name,
            "Type": "cos",
            "TriggerDesc": desc,
        }
        assert error_code(scf_client, "CreateTrigger", params) == (
            "InvalidParameterValue.CosNotifyRuleConflict"
        )
    create(second, cos_desc(prefix="logs/"))  # disjoint prefix
    create(second, cos_desc(event="cos:ObjectRemove:*", prefix="data/"))  # other event family


def test_cos_events_invoke_matching_functions(emulator, scf_client, unique_name, bucket):
    name = unique_name("fn")
    create_function(scf_client, name)
    call(
        scf_client,
        "CreateTrigger",
        {
            "FunctionName": name,
            "TriggerName": cos_trigger_name(emulator, bucket),
            "Type": "cos",
            "TriggerDesc": cos_desc(event="cos:ObjectCreated:*", prefix="in/", suffix=".csv"),
        },
    )
    for decoy in ("out/a.csv", "in/a.txt", "a.csv"):
        emulator.cos.put_object(bucket, decoy, b"x")
    etag = emulator.cos.put_object(bucket, "in/day 1.csv", b"a,b\n1,2\n", "text/csv")
    (record,) = emulator.control.wait_for_invocations(1, name, timeout=20)
    assert len(emulator.control.invocations(name)) == 1  # decoys never fired
    assert record["trigger"] == "cos" and record["status"] == "success"
    (entry,) = record["event"]["Records"]
    short, appid = bucket.rsplit("-", 1)
    cos_object = entry["cos"]["cosObject"]
    assert cos_object["key"] == f"/{appid}/{short}/in/day 1.csv"
    assert cos_object["size"] == 8
    assert cos_object["url"].endswith("/in/day%201.csv")
    assert cos_object["meta"]["ETag"] == etag
    assert cos_object["meta"]["Content-Type"] == "text/csv"
    assert entry["cos"]["cosBucket"]["name"] == short
    assert entry["event"]["eventName"] == "cos:ObjectCreated:Put"
    assert entry["event"]["eventQueue"].endswith(f":default.{name}.$LATEST")
