"""The emulator's CLS half: every line of every run is a record of the function's log topic,
searched with the real ``ClsClient`` (``SearchLog``, API 2020-10-16, TC3 service ``cls``)."""

from __future__ import annotations

import json

import pytest
from scf_snova_devel.scf_api import call, create_function, error_code, invoke, search_log
from tencentcloud.cls.v20201016.cls_client import ClsClient

PRINTS = """
import sys

def main_handler(event, context):
    for i in range(event.get("lines", 3)):
        print("line %05d" % i)
    if event.get("fail"):
        raise ValueError("asked to fail")
    return "ok"
"""

WAITS_FOR_FILE = """
import os, time

def main_handler(event, context):
    print("waiting", flush=True)
    deadline = time.monotonic() + 20
    while not os.path.exists(event["path"]):
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released me")
        time.sleep(0.01)
    return "released"
"""

#: The fields of SCF's log records (https://cloud.tencent.com/document/product/583/60336).
SCF_FIELDS = {
    "SCF_FunctionName",
    "SCF_Namespace",
    "SCF_StartTime",
    "SCF_LogTime",
    "SCF_RequestId",
    "SCF_Duration",
    "SCF_Alias",
    "SCF_Qualifier",
    "SCF_MemUsage",
    "SCF_Level",
    "SCF_Message",
    "SCF_Type",
    "SCF_StatusCode",
    "SCF_RetryNum",
}


@pytest.fixture
def printer(scf_client, unique_name):
    name = unique_name("logs")
    function = create_function(scf_client, name, source=PRINTS)
    return name, function["ClsTopicId"]


def messages(response: dict) -> list[str]:
    return [r["Fields"]["SCF_Message"] for r in response["Results"]]


def test_every_line_of_a_run_is_a_record_of_the_function_topic(
    scf_client, cls_client, printer, emulator
):
    name, topic = printer
    function = call(scf_client, "GetFunction", {"FunctionName": name})
    default = emulator.cls.backend.default_topic()
    assert (function["ClsLogsetId"], function["ClsTopicId"]) == (
        default.logset_id,
        default.topic_id,
    )
    assert default.logset_name.startswith("SCF_logset_")
    assert default.topic_name.startswith("SCF_logtopic_")
    result = invoke(scf_client, name, {"lines": 2})
    rid = result["FunctionRequestId"]
    found = search_log(cls_client, topic, f'SCF_RequestId:"{rid}"')
    assert found["ListOver"] is True
    assert "\n".join(messages(found)) == result["Log"]  # the whole log, line by line
    records = [r["Fields"] for r in found["Results"]]
    assert all(set(r) == SCF_FIELDS for r in records)
    assert [r["SCF_Type"] for r in records] == ["Platform"] * 2 + ["Custom"] * 2 + ["Platform"] * 2
    assert {(r["SCF_FunctionName"], r["SCF_Namespace"], r["SCF_Qualifier"]) for r in records} == {
        (name, "default", "$LATEST")
    }
    assert {r["SCF_RetryNum"] for r in records} == {0}
    # START is reported when the run starts, while it runs (202); the rest when it ends.
    assert [r["SCF_StatusCode"] for r in records] == [202] + [200] * 5
    info = found["Results"][0]
    assert (info["TopicId"], info["TopicName"]) == (topic, default.topic_name)
    assert info["Time"] == records[0]["SCF_LogTime"] >= records[0]["SCF_StartTime"]
    assert [r["Time"] for r in found["Results"]] == sorted(r["Time"] for r in found["Results"])


def test_a_running_invocation_shows_its_start_record_with_202(
    scf_client, cls_client, unique_name, emulator, tmp_path
):
    name = unique_name("logs")
    topic = create_function(scf_client, name, source=WAITS_FOR_FILE, Timeout=30)["ClsTopicId"]
    release = tmp_path / "release"
    rid = call(
        scf_client,
        "Invoke",
        {
            "FunctionName": name,
            "InvocationType": "Event",
            "ClientContext": json.dumps({"path": str(release)}),
        },
    )["Result"]["FunctionRequestId"]
    running = search_log(cls_client, topic, f'SCF_RequestId:"{rid}"')
    assert messages(running) == [f"START RequestId: {rid}"]
    assert running["Results"][0]["Fields"]["SCF_StatusCode"] == 202
    release.write_text("go")
    emulator.control.wait_for_invocations(1, name, timeout=30)
    done = search_log(cls_client, topic, f'SCF_RequestId:"{rid}"')
    assert messages(done)[2] == "waiting"
    assert messages(done)[-1].startswith(f"Report RequestId: {rid}")
    assert (
        search_log(cls_client, topic, f'SCF_RequestId:"{rid}" AND SCF_StatusCode:202')["Results"]
        == done["Results"][:1]
    )


def test_queries_terms_operators_and_numbers(scf_client, cls_client, printer):
    name, topic = printer
    ok = invoke(scf_client, name, {"lines": 1})["FunctionRequestId"]
    failed = invoke(scf_client, name, {"lines": 1, "fail": True})["FunctionRequestId"]
    mine = f'SCF_FunctionName:"{name}" AND SCF_Namespace:"default"'

    def ids(query: str, syntax: int = 1) -> list[str]:
        found = search_log(cls_client, topic, query, QuerySyntax=syntax)
        return [r["Fields"]["SCF_RequestId"] for r in found["Results"]]

    reports = ids(f"{mine} AND SCF_Type:Platform AND SCF_Message:Report*")  # SCF's own example
    assert reports == [ok, failed]
    assert ids(f"{mine} AND SCF_StatusCode:>200 AND SCF_Message:Report*") == [failed]
    assert ids(f"{mine} AND SCF_RetryNum:0 AND SCF_Message:END") == [ok, failed]
    assert ids(f'{mine} AND SCF_Message:"line 00000"') == [ok, failed]
    either = f'(SCF_RequestId:"{ok}" OR SCF_RequestId:"{failed}") AND SCF_Message:START'
    assert ids(either) == [ok, failed]
    assert ids(f"{mine} AND NOT SCF_StatusCode:200 AND SCF_Message:END") == [failed]
    assert ids(f'SCF_RequestId:"{ok}" and SCF_Message:END') == [ok]  # CQL: any case
    assert ids(f'SCF_RequestId:"{ok}" AND SCF_Message:END', syntax=0) == [ok]  # Lucene
    with pytest.raises(Exception, match="FailedOperation.SyntaxError"):
        ids(f'SCF_RequestId:"{ok}" and SCF_Message:END', syntax=0)  # Lucene: capitals only
    cases = {
        "hello": "FailedOperation.SyntaxError",  # full text: not emulated
        f"{mine} | select count(*)": "FailedOperation.SyntaxError",  # SQL: not emulated
        "SCF_RetryNum:many": "FailedOperation.SyntaxError",
        "(SCF_RetryNum:0": "FailedOperation.SyntaxError",
        "NoSuchField:1": "FailedOperation.QueryError",
    }
    for query, code in cases.items():
        now = 1_800_000_000_000
        params = {"TopicId": topic, "From": now, "To": now + 1, "QueryString": query}
        assert error_code(cls_client, "SearchLog", params) == code, query


def test_context_paging_reads_at_most_10000_logs_then_offset_goes_on(
    scf_client, cls_client, printer
):
    name, topic = printer
    rid = invoke(scf_client, name, {"lines": 10_100})["FunctionRequestId"]
    # A Context is valid only with the same other parameters: the same From and To every time.
    request = {
        "TopicId": topic,
        "From": 0,
        "To": 2**62,
        "QueryString": f'SCF_RequestId:"{rid}"',
        "Sort": "asc",
        "Limit": 1000,
    }

    def read(page: dict) -> list[str]:
        return [json.loads(r["LogJson"])["SCF_Message"] for r in page["Results"]]

    page = call(cls_client, "SearchLog", request)
    lines = read(page)
    while len(lines) < 10_000:
        page = call(cls_client, "SearchLog", {**request, "Context": page["Context"]})
        lines += read(page)
    assert len(lines) == 10_000 and page["ListOver"] is False  # 10,104 records: 104 left
    more = {**request, "Context": page["Context"]}
    assert error_code(cls_client, "SearchLog", more) == "FailedOperation.InvalidContext"
    rest = call(cls_client, "SearchLog", {**request, "Offset": 10_000})
    lines += read(rest)
    assert rest["ListOver"] is True
    assert [int(m.split()[1]) for m in lines if m.startswith("line ")] == list(range(10_100))
    assert lines[0].startswith("START") and lines[-1].startswith("Report")


def test_context_is_bound_to_its_parameters(scf_client, cls_client, printer):
    name, topic = printer
    rid = invoke(scf_client, name, {"lines": 5})["FunctionRequestId"]
    request = {"TopicId": topic, "From": 0, "To": 2**62, "QueryString": f'SCF_RequestId:"{rid}"'}
    first = call(cls_client, "SearchLog", {**request, "Limit": 2})
    assert first["ListOver"] is False and len(first["Results"]) == 2
    changed = {**request, "Limit": 3, "Context": first["Context"]}
    assert error_code(cls_client, "SearchLog", changed) == "FailedOperation.InvalidContext"
    both = {**request, "Limit": 2, "Context": first["Context"], "Offset": 2}
    assert error_code(cls_client, "SearchLog", both) == "InvalidParameter"
    garbled = {**request, "Limit": 2, "Context": "not-a-context"}
    assert error_code(cls_client, "SearchLog", garbled) == "FailedOperation.InvalidContext"
    desc = call(cls_client, "SearchLog", {**request, "Sort": "desc", "Limit": 1})
    assert json.loads(desc["Results"][0]["LogJson"])["SCF_Message"].startswith("Report")


def test_time_window_limits_and_parameters(scf_client, cls_client, printer):
    name, topic = printer
    rid = invoke(scf_client, name, {"lines": 1})["FunctionRequestId"]
    query = f'SCF_RequestId:"{rid}"'
    records = search_log(cls_client, topic, query)["Results"]
    start, end = records[0]["Time"], records[-1]["Time"]
    base = {"TopicId": topic, "QueryString": query}
    # [From, To): To excludes its millisecond, From includes its own.
    assert call(cls_client, "SearchLog", {**base, "From": start, "To": start + 1})["Results"]
    assert not call(cls_client, "SearchLog", {**base, "From": end + 1, "To": end + 2})["Results"]
    assert not call(cls_client, "SearchLog", {**base, "From": start - 5, "To": start})["Results"]
    window = {"From": start, "To": end + 1}
    cases = [
        ({**base, "From": end, "To": start}, "InvalidParameterValue"),
        ({**base, **window, "Limit": 1001}, "InvalidParameterValue"),
        ({**base, **window, "Limit": 0}, "InvalidParameterValue"),
        ({**base, **window, "Sort": "up"}, "InvalidParameterValue"),
        ({**base, **window, "QueryString": "x" * (12 * 1024 + 1)}, "InvalidParameterValue"),
        ({**base, **window, "TopicId": "no-such-topic"}, "ResourceNotFound.TopicNotExist"),
        ({"QueryString": query, **window}, "MissingParameter"),
        ({"QueryString": query, "To": end + 1, "TopicId": topic}, "MissingParameter"),
        ({**window, "Topics": [{"TopicId": topic}]}, "UnsupportedOperation"),
        ({**base, **window, "Topics": [{"TopicId": topic}]}, "InvalidParameter"),
        ({"TopicId": topic, **window, "Query": query}, "InvalidParameter"),
    ]
    for params, code in cases:
        assert error_code(cls_client, "SearchLog", params) == code, params


def test_an_answer_above_20_mb_is_refused(scf_client, cls_client, printer, monkeypatch):
    from scf_snova_emulator.cls import responses

    name, topic = printer
    rid = invoke(scf_client, name, {"lines": 50})["FunctionRequestId"]
    monkeypatch.setattr(responses, "MAX_RESULT_BYTES", 4000)  # 20 MB in real life
    params = {"TopicId": topic, "From": 0, "To": 2**62, "QueryString": f'SCF_RequestId:"{rid}"'}
    assert error_code(cls_client, "SearchLog", params) == "LimitExceeded.SearchResultTooLarge"
    assert len(call(cls_client, "SearchLog", {**params, "Limit": 2})["Results"]) == 2


def test_requests_are_tc3_signed_for_the_cls_service(emulator, cls_client, printer):
    _, topic = printer

    class SignedForScf(ClsClient):
        _service = "scf"  # the credential scope of another service

    wrong = SignedForScf(cls_client.credential, cls_client.region, cls_client.profile)
    params = {"TopicId": topic, "From": 0, "To": 1}
    assert error_code(wrong, "SearchLog", params) == "AuthFailure.SignatureFailure"
    assert error_code(cls_client, "DescribeTopics", {}) == "InvalidAction"
    emulator.faults.throttle(1, ["SearchLog"])
    assert error_code(cls_client, "SearchLog", params) == "RequestLimitExceeded"


def test_a_function_cannot_log_to_another_topic(scf_client, unique_name, printer):
    _, topic = printer
    name = unique_name("logs")
    other = {"ClsTopicId": "another-topic"}
    update = {"FunctionName": printer[0], **other}
    assert error_code(scf_client, "UpdateFunctionConfiguration", update) == (
        "InvalidParameterValue.Cls"
    )
    create = {"FunctionName": name, "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}
    assert error_code(scf_client, "CreateFunction", {**create, **other}) == (
        "InvalidParameterValue.Cls"
    )
    created = create_function(scf_client, name, ClsTopicId=topic)  # its own topic is fine
    assert created["ClsTopicId"] == topic
