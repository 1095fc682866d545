"""The shared bases: connection arguments declared once, uniform template fields, lazy hooks."""

from __future__ import annotations

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_scf_snova.hooks.base import TencentCloudBaseHook
from airflow_scf_snova.operators.base import (
    TencentCloudBaseOperator,
    is_templated,
    tencentcloud_template_fields,
)
from airflow_scf_snova.sensors.base import TencentCloudBaseSensor


class _Hook(TencentCloudBaseHook):
    built = 0

    def __init__(self, **kwargs):
        type(self).built += 1
        super().__init__(**kwargs)


class _Operator(TencentCloudBaseOperator[_Hook]):
    hook_class = _Hook
    template_fields = tencentcloud_template_fields("thing")

    def __init__(self, *, thing: str = "x", **kwargs):
        super().__init__(**kwargs)
        self.thing = thing


class _Sensor(TencentCloudBaseSensor[_Hook]):
    hook_class = _Hook

    def poke(self, context):
        return True


def test_default_args_reach_the_connection_arguments_of_operators_and_sensors():
    with DAG(
        "d",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1),
        default_args={"tencentcloud_conn_id": "team", "region": "ap-shanghai", "poke_interval": 7},
    ):
        op = _Operator(task_id="op")
        sensor = _Sensor(task_id="sensor", mode="reschedule")
    assert (op.tencentcloud_conn_id, op.region) == ("team", "ap-shanghai")
    assert (sensor.tencentcloud_conn_id, sensor.region, sensor.poke_interval) == (
        "team",
        "ap-shanghai",
        7,
    )
    assert op.template_fields == ("thing", "tencentcloud_conn_id", "region")
    assert sensor.template_fields == ("tencentcloud_conn_id", "region")


def test_the_hook_is_built_once_on_first_use_with_the_connection_arguments():
    _Hook.built = 0
    op = _Operator(task_id="op", tencentcloud_conn_id="team", region="ap-beijing")
    assert _Hook.built == 0  # not at DAG-parse time
    hook = op.hook
    assert op.hook is hook and _Hook.built == 1
    assert hook.tencentcloud_conn_id == "team"
    assert hook._region_override == "ap-beijing"


def test_a_hook_class_that_is_not_a_tencentcloud_hook_is_refused_at_import_time():
    with pytest.raises(TypeError, match="hook_class must be a TencentCloudBaseHook subclass"):

        class _Wrong(TencentCloudBaseOperator):
            hook_class = dict


@pytest.mark.parametrize(
    ("value", "templated"),
    [
        ("{{ ds }}", True),
        ("{% if x %}a{% endif %}", True),
        (["a", "{{ b }}"], True),
        ("plain", False),
        (["a", "b"], False),
        ({"k": "{{ v }}"}, False),
        (None, False),
        (3, False),
        (object(), True),  # an XComArg or any other value resolved at run time
    ],
)
def test_is_templated(value, templated):
    assert is_templated(value) is templated
