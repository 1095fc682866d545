"""``SCFDeployCOSAssetBridgeOperator`` against the emulator: what it deploys (the shipped
function, its environment from the ``airflow_api`` connection), the COS trigger and SCF's async
retries it sets, that an unchanged deploy changes nothing, and that the password is masked and
never logged. The function's behaviour is tested in ``tests/scf/test_bridge_function.py`` and
end to end in ``tests/system/test_cos_push_bridge.py``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from scf_snova_devel.scf import delete_quietly, fast_hook

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.scf_triggers import cos_trigger_desc
from airflow_scf_snova.operators.scf_bridge import SCFDeployCOSAssetBridgeOperator, api_base_url
from airflow_scf_snova.scf.bridge import FUNCTION_DIR
from airflow_scf_snova.scf.environment import CODE_HASH_VARIABLE, environment_variables

CONTEXT: dict = {}
PASSWORD = "Bridge-pw-5e1d0c77"


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def function_name(hook, unique_name):
    name = unique_name("bridge")
    yield name
    delete_quietly(hook, name)


@pytest.fixture
def airflow_api(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AIRFLOW_API_TEST",
        json.dumps(
            {
                "conn_type": "http",
                "host": "airflow.internal",
                "schema": "https",
                "port": 8443,
                "login": "scf_bridge",
                "password": PASSWORD,
            }
        ),
    )
    return "airflow_api_test"


def bridge_op(function_name, bucket, airflow_api, **kwargs):
    return SCFDeployCOSAssetBridgeOperator(
        task_id="deploy_bridge",
        function_name=function_name,
        bucket=bucket,
        prefix="incoming/",
        suffix=".log",
        airflow_conn_id=airflow_api,
        poll_interval=0.02,
        do_xcom_push=False,
        **kwargs,
    )


def test_deploys_the_shipped_function_with_its_trigger_and_retries(
    hook, function_name, bucket, airflow_api, capsys
):
    from airflow.sdk._shared.secrets_masker import redact

    result = bridge_op(function_name, bucket, airflow_api, async_retries=1).execute(CONTEXT)
    assert result["created"] is True
    assert result["asset_uri"] == f"cos://{bucket}/incoming"  # as Airflow stores it
    assert result["triggers_changed"] is True
    assert PASSWORD not in json.dumps(result)
    function = hook.get_function(function_name)
    assert (function["Runtime"], function["Handler"]) == ("Python3.9", "index.main_handler")
    variables = environment_variables(function)
    variables.pop(CODE_HASH_VARIABLE)
    assert variables == {
        "AIRFLOW_API_URL": "https://airflow.internal:8443",
        "AIRFLOW_API_USERNAME": "scf_bridge",
        "AIRFLOW_API_PASSWORD": PASSWORD,
        "AIRFLOW_ASSET_URI": f"cos://{bucket}/incoming",
    }
    (trigger,) = hook.list_triggers(function_name)
    assert trigger["Type"] == "cos"
    assert trigger["TriggerDesc"] == cos_trigger_desc("cos:ObjectCreated:*", "incoming/", ".log")
    # SCF's default is 2: 1 shows the operator sets it.
    assert hook.get_event_invoke_config(function_name)["RetryConfig"] == [{"RetryNum": 1}]
    output = capsys.readouterr()
    assert PASSWORD not in output.out + output.err
    assert redact(f"x {PASSWORD} y") == "x *** y"

    again = bridge_op(function_name, bucket, airflow_api, async_retries=1).execute(CONTEXT)
    assert (again["created"], again["code_updated"], again["configuration_updated"]) == (
        False,
        False,
        False,
    )
    assert again["triggers_changed"] is False


def test_the_function_ships_with_the_core_it_imports(function_name, bucket, airflow_api):
    op = bridge_op(function_name, bucket, airflow_api)
    assert op.code_dir == str(FUNCTION_DIR)
    assert op.async_retries == 2  # SCF retries a failed invocation: the idempotency key's case
    assert op.include_packages == ("scf_snova_core",)
    assert op.environment is None  # filled from the connection at run time, never rendered


@pytest.mark.parametrize(
    ("host", "schema", "port", "url"),
    [
        ("https://airflow.internal:8443/", None, None, "https://airflow.internal:8443"),
        ("airflow.internal", None, 8080, "http://airflow.internal:8080"),
        ("airflow.internal", "https", None, "https://airflow.internal"),
    ],
)
def test_the_api_url_comes_from_the_connection(host, schema, port, url):
    conn = SimpleNamespace(conn_id="c", host=host, schema=schema, port=port)
    assert api_base_url(conn) == url


def test_a_connection_without_host_is_refused():
    with pytest.raises(InvalidInputError, match="needs host"):
        api_base_url(SimpleNamespace(conn_id="c", host="", schema=None, port=None))


def test_the_push_page_quotes_the_dag_verbatim():
    from pathlib import Path

    from scf_snova_devel.docs import assert_doc_quotes_dags

    root = Path(__file__).resolve().parents[2]
    assert_doc_quotes_dags(root / "docs" / "push.md", root / "dags" / "cos_push_import.py")
