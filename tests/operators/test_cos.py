"""COS operators against the emulator (executed directly; dag.test() in tests/system)."""

from __future__ import annotations

import hashlib
import os

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_scf_snova.exceptions import InvalidInputError, ResourceNotFoundError
from airflow_scf_snova.hooks.cos import COSHook
from airflow_scf_snova.operators.cos import (
    COSCopyObjectOperator,
    COSCreateObjectOperator,
    COSDeleteObjectsOperator,
    COSListObjectsOperator,
)
from airflow_scf_snova.sensors.cos import COSObjectSensor, COSObjectsUnchangedSensor


@pytest.fixture
def hook(emulator):
    return COSHook()


def test_create_object_from_data_and_from_file(hook, bucket, tmp_path):
    etag = COSCreateObjectOperator(
        task_id="put", bucket=bucket, key="o/hello.txt", data="hello", content_type="text/plain"
    ).execute({})
    assert etag == hashlib.md5(b"hello").hexdigest()
    assert hook.read_object(bucket, "o/hello.txt") == b"hello"

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1_300_000))
    etag = COSCreateObjectOperator(
        task_id="up", bucket=bucket, key="o/big.bin", filename=str(big), part_size_mb=1
    ).execute({})
    assert etag.endswith("-2")
    assert hook.read_object(bucket, "o/big.bin") == big.read_bytes()

    no_replace = COSCreateObjectOperator(
        task_id="again", bucket=bucket, key="o/hello.txt", data="other", replace=False
    )
    with pytest.raises(AirflowException, match="replace=False"):
        no_replace.execute({})
    assert hook.read_object(bucket, "o/hello.txt") == b"hello"


def test_short_bucket_name_uses_the_connection_appid(hook, emulator, unique_name):
    short = unique_name("short") + "x"  # a short name must not end with -<digits>
    bucket = f"{short}-{emulator.config.appid}"
    emulator.cos.create_bucket(bucket)
    COSCreateObjectOperator(task_id="put", bucket=short, key="s.txt", data=b"\x00\x01").execute({})
    assert hook.read_object(bucket, "s.txt") == b"\x00\x01"


def test_create_object_needs_exactly_one_source():
    with pytest.raises(InvalidInputError):
        COSCreateObjectOperator(task_id="x", bucket="b", key="k")
    with pytest.raises(InvalidInputError):
        COSCreateObjectOperator(task_id="x", bucket="b", key="k", data="a", filename="f")


def test_list_objects_returns_matching_keys(emulator, bucket):
    for key in ["l/a.csv", "l/b.json", "l/sub/c.csv", "l2/d.csv", "l/中 文.csv"]:
        emulator.cos.put_object(bucket, key, b"x")
    listed = COSListObjectsOperator(task_id="ls", bucket=bucket, prefix="l/", suffix=".csv")
    assert listed.execute({}) == ["l/a.csv", "l/sub/c.csv", "l/中 文.csv"]
    top = COSListObjectsOperator(task_id="ls", bucket=bucket, glob="l/*.csv", max_keys=1)
    assert top.execute({}) == ["l/a.csv"]
    recent = COSListObjectsOperator(
        task_id="ls", bucket=bucket, prefix="l/", modified_after="2999-01-01T00:00:00Z"
    )
    assert recent.execute({}) == []
    assert COSListObjectsOperator(task_id="ls", bucket=bucket, prefix="none/").execute({}) == []


def test_copy_object(hook, emulator, bucket, unique_name):
    emulator.cos.put_object(bucket, "c/src.csv", b"payload")
    etag = COSCopyObjectOperator(
        task_id="cp", source_bucket=bucket, source_key="c/src.csv", dest_key="c/dst.csv"
    ).execute({})
    assert hook.head_object(bucket, "c/dst.csv").etag == etag
    other = f"{unique_name('cp')}-{emulator.config.appid}"
    emulator.cos.create_bucket(other)
    COSCopyObjectOperator(
        task_id="cp2",
        source_bucket=bucket,
        source_key="c/src.csv",
        dest_bucket=other,
        dest_key="copied.csv",
    ).execute({})
    assert hook.read_object(other, "copied.csv") == b"payload"
    with pytest.raises(ResourceNotFoundError):
        COSCopyObjectOperator(
            task_id="cp3", source_bucket=bucket, source_key="c/nope", dest_key="x"
        ).execute({})


def test_delete_by_keys_and_by_prefix(hook, emulator, bucket):
    for i in range(1500):
        emulator.cos.put_object(bucket, f"tmp/{i:04d}", b"x")
    for key in ("keep/a", "tmpfile", "one", "two"):
        emulator.cos.put_object(bucket, key, b"x")
    assert COSDeleteObjectsOperator(task_id="d1", bucket=bucket, keys="one").execute({}) == 1
    assert COSDeleteObjectsOperator(task_id="d2", bucket=bucket, keys=["two"]).execute({}) == 1
    assert COSDeleteObjectsOperator(task_id="d3", bucket=bucket, prefix="tmp/").execute({}) == 1500
    assert [o.key for o in hook.iter_objects(bucket)] == ["keep/a", "tmpfile"]
    with pytest.raises(InvalidInputError):
        COSDeleteObjectsOperator(task_id="d4", bucket=bucket, prefix="").execute({})
    with pytest.raises(InvalidInputError):
        COSDeleteObjectsOperator(task_id="d5", bucket=bucket)


def test_template_fields():
    connection = {"tencentcloud_conn_id", "region"}
    assert set(COSCreateObjectOperator.template_fields) >= {"bucket", "key", "data", "filename"}
    assert set(COSDeleteObjectsOperator.template_fields) == {
        "bucket",
        "keys",
        "prefix",
        *connection,
    }
    assert set(COSListObjectsOperator.template_fields) >= {"bucket", "prefix", "modified_after"}
    assert set(COSCopyObjectOperator.template_fields) == {
        "source_bucket",
        "source_key",
        "dest_bucket",
        "dest_key",
        *connection,
    }
    for cls in (*OPERATORS, *SENSORS):
        assert connection <= set(cls.template_fields), cls.__name__


OPERATORS = (
    COSCreateObjectOperator,
    COSListObjectsOperator,
    COSCopyObjectOperator,
    COSDeleteObjectsOperator,
)
SENSORS = (COSObjectSensor, COSObjectsUnchangedSensor)


def test_connection_and_region_come_from_default_args_and_are_templated():
    from airflow.sdk import DAG

    defaults = {"tencentcloud_conn_id": "tc_{{ params.team }}", "region": "{{ params.region }}"}
    with DAG("cos_defaults", schedule=None, default_args=defaults):
        tasks = [
            COSCreateObjectOperator(task_id="put", bucket="b", key="k", data="x"),
            COSListObjectsOperator(task_id="ls", bucket="b"),
            COSCopyObjectOperator(task_id="cp", source_bucket="b", source_key="a", dest_key="c"),
            COSDeleteObjectsOperator(task_id="rm", bucket="b", keys=["k"]),
            COSObjectSensor(task_id="wait", bucket="b", prefix="in/"),
            COSObjectsUnchangedSensor(task_id="quiet", bucket="b", prefix="in/"),
        ]
    for task in tasks:
        task.render_template_fields({"params": {"team": "data", "region": "ap-shanghai"}})
        assert task.hook_kwargs() == {"tencentcloud_conn_id": "tc_data", "region": "ap-shanghai"}
        # The hook is built on first use, from the rendered values.
        assert isinstance(task.hook, COSHook)
        assert (task.hook.tencentcloud_conn_id, task.hook._region_override) == (
            "tc_data",
            "ap-shanghai",
        )
