"""The tencentcloud connection: parsing, URI round trip, masking and test_connection."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_scf_snova.exceptions import TencentCloudConnectionError
from airflow_scf_snova.hooks.base import Endpoint, TencentCloudBaseHook, parse_connection

URI = (
    "tencentcloud://AKIDxxx:secret@/?region=ap-guangzhou&appid=1250000000"
    "&endpoint=http%3A%2F%2F127.0.0.1%3A9100"
)


def test_uri_round_trips():
    conn = Connection.from_uri(URI, conn_id="tc")
    assert (conn.conn_type, conn.login, conn.password) == ("tencentcloud", "AKIDxxx", "secret")
    assert conn.extra_dejson == {
        "region": "ap-guangzhou",
        "appid": "1250000000",
        "endpoint": "http://127.0.0.1:9100",
    }
    again = Connection.from_uri(conn.get_uri(), conn_id="tc")
    assert (again.login, again.password, again.extra_dejson) == (
        conn.login,
        conn.password,
        conn.extra_dejson,
    )


def test_parse_connection_defaults_and_overrides():
    conn = Connection(conn_id="tc", conn_type="tencentcloud", login="AKID1", password="k")
    cfg = parse_connection(conn)
    assert (cfg.region, cfg.namespace, cfg.appid, cfg.endpoint) == (
        "ap-guangzhou",
        "default",
        None,
        None,
    )
    cfg = parse_connection(
        Connection.from_uri(URI, conn_id="tc"), region="ap-shanghai", namespace="etl"
    )
    assert (cfg.region, cfg.namespace, cfg.appid) == ("ap-shanghai", "etl", "1250000000")
    assert cfg.endpoint == Endpoint("http", "127.0.0.1", 9100)
    assert repr(cfg.credentials).endswith("secret_key='***')")


@pytest.mark.parametrize(
    ("login", "password", "extra", "message"),
    [
        pytest.param("", "k", {}, "SecretId", id="no secret id"),
        pytest.param("AKID", "", {}, "SecretKey", id="no secret key"),
        pytest.param("AKID", " k", {}, "spaces", id="padded key"),
        pytest.param("AKID", "k", {"appid": "12ab"}, "appid", id="appid not digits"),
        pytest.param("AKID", "k", {"endpoint": "ftp://x"}, "endpoint", id="bad scheme"),
        pytest.param("AKID", "k", {"endpoint": "http://h:1/path"}, "path", id="endpoint path"),
    ],
)
def test_invalid_connections_are_rejected_clearly(login, password, extra, message):
    conn = Connection(
        conn_id="bad",
        conn_type="tencentcloud",
        login=login,
        password=password,
        extra=json.dumps(extra),
    )
    with pytest.raises(TencentCloudConnectionError, match=message) as info:
        parse_connection(conn)
    if password.strip():
        assert password.strip() not in str(info.value).replace("SecretKey", "")


def test_secret_key_and_token_are_masked():
    from airflow.sdk.log import redact

    conn = Connection(
        conn_id="tc",
        conn_type="tencentcloud",
        login="AKIDmask",
        password="super-secret-key-123",
        extra=json.dumps({"token": "session-token-456"}),
    )
    parse_connection(conn)
    text = "key=super-secret-key-123 token=session-token-456"
    redacted = redact(text)
    assert "super-secret-key-123" not in redacted and "session-token-456" not in redacted


def test_hook_does_not_fetch_the_connection_in_init(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MISSING", raising=False)
    hook = TencentCloudBaseHook(tencentcloud_conn_id="missing")  # must not raise
    assert hook.tencentcloud_conn_id == "missing"


def test_test_connection_against_the_emulator(emulator):
    ok, message = TencentCloudBaseHook().test_connection()
    assert ok, message
    assert "namespace 'default'" in message


def test_test_connection_reports_a_wrong_key(emulator, monkeypatch):
    from conftest import tencentcloud_conn_json

    value = json.loads(tencentcloud_conn_json(emulator))
    value["password"] = "wrong-key-value"
    monkeypatch.setenv("AIRFLOW_CONN_TC_WRONG", json.dumps(value))
    ok, message = TencentCloudBaseHook(tencentcloud_conn_id="tc_wrong").test_connection()
    assert not ok
    assert message.startswith("AuthFailure.SignatureFailure")
    assert "RequestId" in message and "wrong-key-value" not in message


def test_cos_config_points_at_the_endpoint(emulator):
    hook = TencentCloudBaseHook()
    config = hook.cos_config()
    assert config._ip == "127.0.0.1" and int(config._port) == emulator.port
    assert config._scheme == "http"
