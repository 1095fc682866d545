"""The cos:// asset URI handler, called directly and through Airflow's Asset normalisation."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from airflow_scf_snova.assets.cos import create_asset, sanitize_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("cos://logs-1250000000/in/a.csv", "cos://logs-1250000000/in/a.csv"),
        ("cos://Logs-1250000000/In/A.csv", "cos://logs-1250000000/In/A.csv"),  # keys keep case
        ("cos://logs/数据/a b.csv", "cos://logs/数据/a b.csv"),
        ("cos://logs/100%.csv", "cos://logs/100%.csv"),
    ],
)
def test_sanitize_uri_normalises_the_bucket_only(uri, expected):
    assert sanitize_uri(urlsplit(uri)).geturl() == expected


@pytest.mark.parametrize(
    "uri",
    ["cos:///key", "cos://bad_bucket/k", "cos://-x/k", "cos://b:9000/k", "cos://b/k?x=1"],
)
def test_sanitize_uri_rejects(uri):
    with pytest.raises(ValueError):
        sanitize_uri(urlsplit(uri))


def test_airflow_asset_uses_the_handler(monkeypatch):
    """Airflow looks handlers up by scheme through its providers manager; register ours the way
    the provider-info ``asset-uris`` entry does and build real Assets."""
    from airflow.sdk import Asset
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    manager = ProvidersManagerTaskRuntime()
    handlers = dict(manager.asset_uri_handlers)
    handlers["cos"] = sanitize_uri
    monkeypatch.setattr(type(manager), "asset_uri_handlers", property(lambda self: handlers))

    assert Asset("COS://Logs-1250000000/in/").uri == "cos://logs-1250000000/in"
    with pytest.raises(ValueError, match="bucket"):
        Asset("cos://Not_A_Bucket/x")
    asset = create_asset(bucket="logs-1250000000", key="/in/a.csv", extra={"team": "etl"})
    assert (asset.uri, asset.extra) == ("cos://logs-1250000000/in/a.csv", {"team": "etl"})
