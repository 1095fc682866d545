"""SCF console links: URL format and wiring (the XCom round trip through the task runner is
checked by tests/system/test_example_scf.py, which reads the links a real DAG run stored)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_scf_snova.links.scf import (
    SCFFunctionLink,
    SCFFunctionLogsLink,
    console_region,
    function_console_url,
)
from airflow_scf_snova.operators.scf import (
    SCFCreateTriggerOperator,
    SCFDeployFunctionOperator,
    SCFInvokeFunctionOperator,
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
        for cls in (SCFDeployFunctionOperator, SCFInvokeFunctionOperator, SCFCreateTriggerOperator)
    }
    assert links[SCFInvokeFunctionOperator] == {SCFFunctionLink, SCFFunctionLogsLink}
    assert links[SCFDeployFunctionOperator] == links[SCFCreateTriggerOperator] == {SCFFunctionLink}


def test_persist_is_skipped_when_the_task_pushes_no_xcom():
    op = SCFInvokeFunctionOperator(task_id="t", function_name="f", do_xcom_push=False)
    SCFFunctionLink.persist({}, op, "ap-guangzhou", "default", "f")  # no task instance needed
