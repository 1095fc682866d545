"""The control API over HTTP (``/_emulator/...``) and its Python twin."""

from __future__ import annotations

import pytest
import requests
from scf_snova_devel.scf_api import call, create_function, error_code
from scf_snova_emulator import EmulatorConfig, EmulatorServer
from scf_snova_emulator.control import _is_loopback
from scf_snova_emulator.cos.exceptions import NoSuchBucket
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.scf.v20180416.scf_client import ScfClient


def url(server, path: str) -> str:
    return f"{server.endpoint}/_emulator{path}"


def test_health(emulator):
    reply = requests.get(url(emulator, "/health"), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {
        "status": "ok",
        "endpoint": emulator.endpoint,
        "region": emulator.config.region,
        "appid": emulator.config.appid,
    }


def test_unknown_route_and_bad_bodies(emulator):
    assert requests.get(url(emulator, "/nope"), timeout=10).status_code == 404
    reply = requests.post(url(emulator, "/timers/fire"), data=b"{oops", timeout=10)
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "InvalidJSON")
    reply = requests.post(url(emulator, "/timers/fire"), json={"function_name": "x"}, timeout=10)
    assert (reply.status_code, reply.json()["error"]["code"]) == (400, "MissingParameter")
    assert "trigger_name" in reply.json()["error"]["message"]


def test_fire_timer_and_wait_over_http(emulator, scf_client, unique_name):
    name = unique_name("fn")
    create_function(scf_client, name)
    call(
        scf_client,
        "CreateTrigger",
        {
            "FunctionName": name,
            "TriggerName": "tick",
            "Type": "timer",
            "TriggerDesc": "0 0 1 * * * *",
        },
    )
    fired = requests.post(
        url(emulator, "/timers/fire"),
        json={"function_name": name, "trigger_name": "tick"},
        timeout=10,
    )
    assert fired.status_code == 200
    request_id = fired.json()["request_id"]
    waited = requests.post(
        url(emulator, "/invocations/wait"),
        json={"count": 1, "function_name": name, "timeout": 20},
        timeout=30,
    )
    assert waited.status_code == 200
    (record,) = waited.json()["invocations"]
    assert (record["request_id"], record["trigger"]) == (request_id, "timer")
    assert record["event"]["TriggerName"] == "tick" and record["status"] == "success"
    listed = requests.get(url(emulator, "/invocations"), params={"function_name": name}, timeout=10)
    assert [r["request_id"] for r in listed.json()["invocations"]] == [request_id]
    timed_out = requests.post(
        url(emulator, "/invocations/wait"),
        json={"count": 2, "function_name": name, "timeout": 0.2},
        timeout=30,
    )
    assert timed_out.status_code == 408
    assert "1 of 2" in timed_out.json()["error"]["message"]


def test_fire_unknown_timer(emulator, scf_client, unique_name):
    reply = requests.post(
        url(emulator, "/timers/fire"),
        json={"function_name": "no-such-fn", "trigger_name": "t"},
        timeout=10,
    )
    assert (reply.status_code, reply.json()["error"]["code"]) == (404, "ResourceNotFound.Function")
    name = unique_name("fn")
    create_function(scf_client, name)
    with pytest.raises(Exception) as raised:
        emulator.control.fire_timer(name, "missing")
    assert raised.value.code == "ResourceNotFound.Trigger"


def test_wait_for_invocations_in_python_times_out(emulator):
    with pytest.raises(TimeoutError, match="0 of 1"):
        emulator.control.wait_for_invocations(1, "never-invoked", timeout=0.1)


def test_faults_over_http(emulator, scf_client, unique_name):
    reply = requests.post(
        url(emulator, "/faults"),
        json={"throttle": {"count": 1, "actions": ["ListFunctions"]}, "latency": {"seconds": 0}},
        timeout=10,
    )
    assert reply.status_code == 200 and reply.json()["throttle"] == 1
    assert requests.get(url(emulator, "/faults"), timeout=10).json()["throttle"] == 1
    assert error_code(scf_client, "ListFunctions", {}) == "RequestLimitExceeded"
    emulator.control.throttle(5)
    assert requests.delete(url(emulator, "/faults"), timeout=10).json()["throttle"] == 0
    absent = {"SearchKey": unique_name("absent")}
    assert call(scf_client, "ListFunctions", absent)["TotalCount"] == 0
    bad = requests.post(url(emulator, "/faults"), json={"meteor": {}}, timeout=10)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidFault")
    bad = requests.post(url(emulator, "/faults"), json={"throttle": {"cnt": 1}}, timeout=10)
    assert bad.status_code == 400


def test_settings_over_http(emulator):
    try:
        reply = requests.post(
            url(emulator, "/settings"),
            json={
                "reject_replays": True,
                "status_delay": 1.5,
                "retry_interval": 7,
                "sync_invoke_timeout": 20,
            },
            timeout=10,
        )
        assert reply.json() == {
            "reject_replays": True,
            "status_delay": 1.5,
            "retry_interval": 7,
            "sync_invoke_timeout": 20,
        }
        assert emulator.scf.verifier.reject_replays is True
        assert emulator.cls.verifier.reject_replays is True
        assert emulator.scf.backend.status_delay == 1.5
        assert emulator.scf.retries.interval == 7
        assert emulator.scf.invoker.sync_timeout == 20
    finally:
        emulator.control.reject_replays(False)
        emulator.control.set_status_delay(emulator.config.status_delay)
        emulator.control.set_retry_interval(emulator.config.retry_interval)
        emulator.control.set_sync_invoke_timeout(300)
    assert requests.get(url(emulator, "/settings"), timeout=10).json()["reject_replays"] is False


def test_reset_forgets_everything(tmp_path):
    config = EmulatorConfig(port=0, data_dir=str(tmp_path), status_delay=0, timers=False)
    with EmulatorServer(config) as server:
        client = ScfClient(
            credential.Credential(config.secret_id, config.secret_key),
            config.region,
            ClientProfile(
                httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{server.port}")
            ),
        )
        create_function(client, "before-reset")
        call(client, "Invoke", {"FunctionName": "before-reset"})
        topic = server.cls.backend.default_topic()
        assert server.cls.backend.batches(topic.topic_id)  # its log lines
        bucket = f"b-{config.appid}"
        server.cos.create_bucket(bucket)
        server.cos.put_object(bucket, "k", b"v")
        server.faults.throttle(3)
        server.control.throttle(0)  # the Python setters mirror Faults
        server.control.latency(0)
        reply = requests.post(url(server, "/reset"), timeout=10)
        assert reply.json() == {"reset": True}
        assert call(client, "ListFunctions")["TotalCount"] == 0
        assert server.control.invocations() == []
        assert server.cls.backend.batches(topic.topic_id) == []
        assert server.cls.backend.default_topic() == topic  # the topic stays
        with pytest.raises(NoSuchBucket):
            server.cos.open_object(bucket, "k")
        create_function(client, "before-reset")  # the name is free again


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("10.0.0.1", False), ("x", False)],
)
def test_only_loopback_clients_are_served(address, loopback):
    assert _is_loopback(address) is loopback


def test_stats_count_what_the_sdk_sent(emulator, cos_client, scf_client, bucket):
    """The counters see each request the real SDKs send: a paged listing of 25 keys at 10 per
    page is 3 LISTs, a HEAD is a HEAD, an API 3.0 action is counted by name; DELETE zeroes."""
    for i in range(25):
        emulator.cos.put_object(bucket, f"k/{i:03d}", b"x")
    requests.delete(url(emulator, "/stats"), timeout=10).raise_for_status()
    marker, pages = "", 0
    while True:
        page = cos_client.list_objects(Bucket=bucket, Prefix="k/", Marker=marker, MaxKeys=10)
        pages += 1
        if page.get("IsTruncated") != "true":
            break
        marker = page["NextMarker"]
    cos_client.head_object(Bucket=bucket, Key="k/000")
    call(scf_client, "ListFunctions", {})
    stats = requests.get(url(emulator, "/stats"), timeout=10).json()
    assert pages == 3
    assert stats["cos"] == {"LIST": 3, "HEAD": 1}
    assert stats["cos_operations"] == {"list_objects": 3, "head_object": 1}
    assert stats["scf"] == {"ListFunctions": 1}
    assert requests.delete(url(emulator, "/stats"), timeout=10).json() == {}
    assert emulator.control.stats() == {}
