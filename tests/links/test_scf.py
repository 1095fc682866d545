"""SCF console links: URL format, wiring, and the round trip a real task makes (``execute``
persists the parameters in XCom, the task runner calls ``get_link`` and stores each URL)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_scf_snova.links.scf import (
    XCOM_KEY,
    SCFFunctionLink,
    SCFFunctionLogsLink,
    console_region,
    function_console_url,
)
from airflow_scf_snova.operators.scf import (
    SCFDeployFunctionOperator,
    SCFInvokeFunctionOperator,
)
from airflow_scf_snova.operators.scf_triggers import (
    SCFCreateCOSTriggerOperator,
    SCFCreateTimerTriggerOperator,
    SCFCreateTriggerOperator,
)


@pytest.mark.parametrize(
    ("region", "rid"),
    [
        ("ap-guangzhou", "1"),
        ("ap-shanghai", "4"),
        ("ap-beijing", "8"),
        ("ap-new-one", "ap-new-one"),
    ],
)
def test_console_region_ids(region, rid):
    assert console_region(region) == rid


def test_function_page_and_log_page_urls():
    assert function_console_url("ap-guangzhou", "default", "echo") == (
        "https://console.cloud.tencent.com/scf/list-detail?rid=1&ns=default&id=echo&tab=codeTab"
    )
    assert function_console_url("ap-shanghai", "etl", "load", menu="log") == (
        "https://console.cloud.tencent.com/scf/list-detail"
        "?rid=4&ns=etl&id=load&menu=log&tab=codeTab"
    )


def test_values_are_url_encoded():
    url = function_console_url("ap-guangzhou", "team a&b", "fn")
    assert parse_qs(urlsplit(url).query)["ns"] == ["team a&b"]


def test_link_names_keys_and_operators():
    assert (SCFFunctionLink().name, SCFFunctionLogsLink().name) == (
        "SCF Function",
        "SCF Invocation Logs",
    )
    # Airflow stores each link's URL under its own key.
    assert SCFFunctionLink().xcom_key != SCFFunctionLogsLink().xcom_key
    links = {
        cls: {type(link) for link in cls.operator_extra_links}
        for cls in (
            SCFDeployFunctionOperator,
            SCFInvokeFunctionOperator,
            SCFCreateTimerTriggerOperator,
            SCFCreateCOSTriggerOperator,
            SCFCreateTriggerOperator,
        )
    }
    assert links.pop(SCFInvokeFunctionOperator) == {SCFFunctionLink, SCFFunctionLogsLink}
    assert set(map(frozenset, links.values())) == {frozenset({SCFFunctionLink})}


class RecordingTI:
    def __init__(self) -> None:
        self.pushed: list[tuple[str, object]] = []

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed.append((key, value))


def test_persist_stores_the_parameters_unless_the_task_pushes_no_xcom():
    ti = RecordingTI()
    quiet = SCFInvokeFunctionOperator(task_id="q", function_name="f", do_xcom_push=False)
    SCFFunctionLink.persist({"ti": ti}, quiet, "ap-guangzhou", "default", "f")
    assert ti.pushed == []
    pushing = SCFInvokeFunctionOperator(task_id="p", function_name="f")
    SCFFunctionLink.persist({"ti": ti}, pushing, "ap-guangzhou", "default", "f")
    assert ti.pushed == [
        (XCOM_KEY, {"region": "ap-guangzhou", "namespace": "default", "function_name": "f"})
    ]


#: A DAG whose operator persists the link parameters as the SCF operators do, without calling
#: SCF. ``dag.test()`` runs DAGs of a bundle, so it is written to a DAG folder of its own.
LINKS_DAG = """
import pendulum
from airflow.sdk import DAG

from airflow_scf_snova.links.scf import SCFFunctionLink, SCFFunctionLogsLink
from airflow_scf_snova.operators.scf import SCFBaseOperator


class LinkedOperator(SCFBaseOperator):
    operator_extra_links = (SCFFunctionLink(), SCFFunctionLogsLink())

    def execute(self, context):
        SCFFunctionLink.persist(context, self, "ap-shanghai", self.namespace, self.function_name)


with DAG("scf_links", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
    LinkedOperator(task_id="linked", function_name="load", namespace="etl")
    LinkedOperator(task_id="quiet", function_name="load", namespace="etl", do_xcom_push=False)
"""


@pytest.mark.slow  # dag.test(): like every DAG run, out of make test-compat until issue 16
def test_the_links_a_task_run_stores(airflow_db, tmp_path, monkeypatch):
    import importlib.util
    import json

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_file = tmp_path / "scf_links.py"
    dag_file.write_text(LINKS_DAG)
    bundle = {
        "name": "scf-links-test",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(tmp_path)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    spec = importlib.util.spec_from_file_location("scf_links_under_test", dag_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.dag.test()
    assert run.state == "success"
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids="scf_links")).all()
        stored = {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}

    logs = stored[("linked", SCFFunctionLogsLink().xcom_key)]
    function = stored[("linked", SCFFunctionLink().xcom_key)]
    query = parse_qs(urlsplit(logs).query)
    assert query == {
        "rid": ["4"],
        "ns": ["etl"],
        "id": ["load"],
        "menu": ["log"],
        "tab": ["codeTab"],
    }
    assert "menu" not in parse_qs(urlsplit(function).query)
    assert function == logs.replace("&menu=log", "")
    # Without the parameters in XCom, get_link yields no URL rather than a wrong one.
    assert stored[("quiet", SCFFunctionLogsLink().xcom_key)] == ""
    assert stored[("quiet", SCFFunctionLink().xcom_key)] == ""
