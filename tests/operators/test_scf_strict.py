"""SCF operators under the strict emulator's rules: timer schedules converted from the DAG's time
zone into SCF's (UTC+8), and the deploy operator's ``vpc_config``.

``execute`` is called directly, outside a DAG run (``do_xcom_push=False``), as in ``test_scf.py``.
"""

from __future__ import annotations

import json
import re

import pendulum
import pytest
from airflow.sdk import DAG
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.exceptions import InvalidInputError, TencentCloudApiError
from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator
from airflow_scf_snova.operators.scf_triggers import SCFCreateTimerTriggerOperator

CONTEXT: dict = {}


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def echo(hook, unique_name):
    name = unique_name("op")
    deploy_echo(hook, name)
    yield name
    delete_quietly(hook, name)


def dag_in(zone: str) -> DAG:
    return DAG(
        f"in-{zone.replace('/', '-')}",
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz=zone),
    )


def test_a_timer_schedule_is_read_in_the_dags_time_zone(hook, echo):
    with dag_in("Asia/Tokyo"):
        tokyo = SCFCreateTimerTriggerOperator(
            task_id="tokyo",
            function_name=echo,
            trigger_name="tokyo",
            cron="0 9 * * 1-5",
            do_xcom_push=False,
        )
    assert tokyo.execute(CONTEXT)["triggers"] == ["0 0 8 * * MON-FRI *"]  # 09:00 JST = 08:00 CST
    written_for_scf = SCFCreateTimerTriggerOperator(
        task_id="scf",
        function_name=echo,
        trigger_name="scf",
        cron="0 0 9 ? * MON-FRI *",
        timezone="Asia/Shanghai",
        do_xcom_push=False,
    )
    assert written_for_scf.execute(CONTEXT)["triggers"] == ["0 0 9 ? * MON-FRI *"]
    no_dag = SCFCreateTimerTriggerOperator(
        task_id="utc", function_name=echo, trigger_name="utc", cron="@daily", do_xcom_push=False
    )
    assert no_dag.execute(CONTEXT)["triggers"] == ["0 0 8 * * * *"]
    listed = {
        t["TriggerName"]: json.loads(t["TriggerDesc"])["cron"] for t in hook.list_triggers(echo)
    }
    assert listed == {
        "tokyo": "0 0 8 * * MON-FRI *",
        "scf": "0 0 9 ? * MON-FRI *",
        "utc": "0 0 8 * * * *",
    }


def test_a_schedule_scf_cannot_follow_is_refused_when_the_dag_is_parsed():
    with pytest.raises(InvalidInputError, match="daylight saving"), dag_in("Europe/Berlin"):
        SCFCreateTimerTriggerOperator(
            task_id="b", function_name="f", trigger_name="n", cron="0 2 * * *"
        )
    with dag_in("Europe/Berlin"):  # every 15 minutes is the same under both offsets
        op = SCFCreateTimerTriggerOperator(
            task_id="q", function_name="f", trigger_name="n", cron="*/15 * * * *"
        )
    assert op.cron == "*/15 * * * *"


# -- vpc_config -----------------------------------------------------------------------------------
VPC = {"VpcId": "vpc-2ari9m7h", "SubnetId": "subnet-hhi88a58"}


@pytest.fixture
def function_name(hook, unique_name):
    name = unique_name("op")
    yield name
    delete_quietly(hook, name)


def deploy_op(function_name, **kwargs):
    return SCFDeployFunctionOperator(
        task_id="deploy",
        function_name=function_name,
        code_dir=str(ECHO_DIR),
        runtime="Python3.9",
        poll_interval=0.02,
        do_xcom_push=False,
        **kwargs,
    )


def test_deploy_into_a_vpc_and_move_subnet(hook, function_name):
    created = deploy_op(function_name, vpc_config=VPC).execute(CONTEXT)
    assert created["created"] is True
    assert hook.get_function(function_name)["VpcConfig"] == VPC
    again = deploy_op(
        function_name, vpc_config={"vpc_id": VPC["VpcId"], "subnet_id": VPC["SubnetId"]}
    )
    assert again.execute(CONTEXT)["configuration_updated"] is False
    moved = {**VPC, "SubnetId": "subnet-0therone"}
    assert (
        deploy_op(function_name, vpc_config=moved).execute(CONTEXT)["configuration_updated"] is True
    )
    assert hook.get_function(function_name)["VpcConfig"] == moved
    unmanaged = deploy_op(function_name).execute(CONTEXT)  # vpc_config=None: left as it is
    assert unmanaged["configuration_updated"] is False
    assert hook.get_function(function_name)["VpcConfig"] == moved


@pytest.mark.parametrize(
    ("vpc_config", "why"),
    [
        ({"VpcId": "vpc-2ari9m7h"}, "exactly one SubnetId"),
        ({"SubnetId": "subnet-hhi88a58"}, "exactly one VpcId"),
        ({"VpcId": "vpc-a", "vpc_id": "vpc-b", "SubnetId": "subnet-c"}, "exactly one VpcId"),
        ({**VPC, "Zone": "ap-guangzhou-3"}, "unknown keys ['Zone']"),
        ("vpc-2ari9m7h", "must be a mapping"),
    ],
)
def test_a_vpc_without_its_subnet_is_refused_when_the_dag_is_parsed(vpc_config, why):
    with pytest.raises(InvalidInputError, match=re.escape(why)):
        deploy_op("f", vpc_config=vpc_config)


def test_the_emulator_refuses_ids_that_are_not_tencent_ids(hook, function_name):
    with pytest.raises(TencentCloudApiError, match="InvalidParameterValue.Vpc"):
        deploy_op(function_name, vpc_config={"VpcId": "my-vpc", "SubnetId": "my-subnet"}).execute(
            CONTEXT
        )
