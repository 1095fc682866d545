"""Airflow discovers the provider from its entry point, with both connection types and fields."""

from __future__ import annotations

import importlib
import logging
import warnings

import pytest

from airflow_scf_snova.get_provider_info import get_provider_info


@pytest.fixture(scope="module")
def providers_manager():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_entry_point_points_at_get_provider_info():
    from importlib.metadata import entry_points

    eps = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.dist.name == "airflow-scf-snova"
    ]
    assert [ep.value for ep in eps] == ["airflow_scf_snova.get_provider_info:get_provider_info"]


def test_package_name_matches_distribution():
    from importlib.metadata import version

    import airflow_scf_snova

    info = get_provider_info()
    assert info["package-name"] == "airflow-scf-snova"
    assert info["versions"] == [airflow_scf_snova.__version__] == [version("airflow-scf-snova")]


def test_providers_manager_loads_without_warnings_or_errors(caplog):
    from airflow.providers_manager import ProvidersManager

    ProvidersManager._initialized = False  # type: ignore[attr-defined]
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        pm = ProvidersManager()
        pm.initialize_providers_list()
        pm.initialize_providers_hooks()
        pm._load_ui_metadata()
        assert "airflow-scf-snova" in pm.providers
    ours = [str(w.message) for w in caught if "airflow_scf_snova" in str(w.message)]
    ours += [r.getMessage() for r in caplog.records if "scf" in r.getMessage().lower()]
    assert ours == []


def test_cos_asset_uris_are_registered_and_normalised(providers_manager):
    from airflow.sdk import Asset

    pm = providers_manager
    pm.initialize_providers_asset_uri_resources()
    assert "cos" in pm.asset_uri_handlers
    assert Asset("cos://My-Bucket-1250000000/snova/").uri == "cos://my-bucket-1250000000/snova"


def test_connection_types_and_fields_registered(providers_manager):
    pm = providers_manager
    pm.initialize_providers_hooks()
    pm._load_ui_metadata()
    assert (
        pm.hooks["tencentcloud"].hook_class_name
        == "airflow_scf_snova.hooks.base.TencentCloudBaseHook"
    )
    assert pm.hooks["snova"].hook_class_name == "airflow_scf_snova.hooks.snova.SnovaHook"
    widgets = pm._connection_form_widgets
    for field in ("region", "appid", "token", "namespace", "endpoint"):
        assert f"extra__tencentcloud__{field}" in widgets
    assert widgets["extra__tencentcloud__token"].is_sensitive
    assert not widgets["extra__tencentcloud__region"].is_sensitive
    behaviour = pm._field_behaviours["tencentcloud"]
    assert behaviour["relabeling"] == {"login": "SecretId", "password": "SecretKey"}
    assert set(behaviour["hidden_fields"]) == {"host", "schema", "port"}
    assert pm._field_behaviours["snova"]["relabeling"] == {"schema": "Database"}


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    modules = [
        m
        for section in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(section, [])
        for m in entry["python-modules"]
    ]
    modules += [t["python-module"] for t in info.get("transfers", [])]
    for module in modules:
        importlib.import_module(module)
    classes = [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", [])
    classes += [a[k] for a in info.get("asset-uris", []) for k in ("handler", "factory") if k in a]
    for path in classes:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name), path
