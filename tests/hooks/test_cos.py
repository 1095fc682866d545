"""COSHook against the emulator, through the real cos-python-sdk-v5 over HTTP."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import socket
from itertools import islice

import pytest
from conftest import tencentcloud_conn_json
from scf_snova_core.objects import COSObject

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    TencentCloudApiError,
    TencentCloudAuthError,
    TencentCloudNetworkError,
    TencentCloudThrottledError,
)
from airflow_scf_snova.hooks.cos import COSHook

SPECIAL_KEYS = [
    "odd/a b.csv",
    "odd/plus+sign.csv",
    "odd/100%.csv",
    "odd/%2F not a slash.csv",
    "odd/数据/文件 一.csv",
    "odd/<&>'.csv",  # XML-special: the multi-delete request body must escape it
]


@pytest.fixture
def hook(emulator):
    # retries=0: an injected 5xx must surface at once instead of after the SDK's 1+2+3 s sleeps.
    return COSHook(retries=0)


def _keys(objects) -> list[str]:
    return [obj.key for obj in objects]


# -- names ---------------------------------------------------------------------------------------
def test_full_bucket_name_appends_the_connection_appid(hook, emulator):
    appid = emulator.config.appid
    assert hook.full_bucket_name("logs") == f"logs-{appid}"
    assert hook.full_bucket_name(f"logs-{appid}") == f"logs-{appid}"
    assert hook.full_bucket_name("logs-1300000000") == "logs-1300000000"  # another account's


@pytest.mark.parametrize("bad", ["", "-logs", "logs-", "Logs", "lo_gs", "a" * 51, "logs/x"])
def test_full_bucket_name_rejects_invalid_names(hook, bad):
    with pytest.raises(InvalidInputError):
        hook.full_bucket_name(bad)


def test_short_bucket_name_needs_an_appid(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_COS_NO_APPID", tencentcloud_conn_json(emulator, appid=""))
    hook = COSHook(tencentcloud_conn_id="cos_no_appid")
    with pytest.raises(InvalidInputError, match="appid"):
        hook.full_bucket_name("logs")
    assert hook.full_bucket_name("logs-1250000000") == "logs-1250000000"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("cos://b-1250000000/a/b.csv", ("b-1250000000", "a/b.csv")),
        ("cos://b/", ("b", "")),
        ("cos://b", ("b", "")),
        ("COS://b/x%20y", ("b", "x%20y")),  # keys are literal: COS keys may contain '%'
    ],
)
def test_parse_cos_url(url, expected):
    assert COSHook.parse_cos_url(url) == expected


@pytest.mark.parametrize("url", ["s3://b/k", "b/k", "cos:///k", ""])
def test_parse_cos_url_rejects_other_urls(url):
    with pytest.raises(InvalidInputError):
        COSHook.parse_cos_url(url)


# -- listing -------------------------------------------------------------------------------------
def test_prefix_and_suffix_select_like_a_cos_trigger(hook, bucket):
    for key in [
        "snova/a.txt",
        "snova2/b.log",
        "other/snova/c.log",
        "snova/sub/d.log",
        "snova/e.log",
        "snova/e.log.bak",
    ]:
        hook.put_object(bucket, key, key)
    assert _keys(hook.iter_objects(bucket, prefix="snova/", suffix=".log")) == [
        "snova/e.log",
        "snova/sub/d.log",  # a COS trigger's Prefix/Suffix filter is a plain string test
    ]


def test_glob_star_stays_within_a_segment_and_double_star_crosses(hook, bucket):
    for key in ["top.log", "snova/e.log", "snova/sub/d.log", "snova/sub/deeper/f.log", "x.txt"]:
        hook.put_object(bucket, key, b"x")
    assert _keys(hook.iter_objects(bucket, glob="*.log")) == ["top.log"]
    assert _keys(hook.iter_objects(bucket, glob="snova/*.log")) == ["snova/e.log"]
    assert _keys(hook.iter_objects(bucket, glob="snova/**/*.log")) == [
        "snova/e.log",
        "snova/sub/d.log",
        "snova/sub/deeper/f.log",
    ]
    assert _keys(hook.iter_objects(bucket, glob="snova/**")) == [
        "snova/e.log",
        "snova/sub/d.log",
        "snova/sub/deeper/f.log",
    ]
    assert _keys(hook.iter_objects(bucket, regex=r"snova/[^/]+/d\.log")) == ["snova/sub/d.log"]
    # prefix and glob that cannot both hold select nothing (and list nothing)
    assert _keys(hook.iter_objects(bucket, prefix="other/", glob="snova/*")) == []


def test_keys_with_spaces_plus_percent_and_chinese_round_trip(hook, bucket, cos_client):
    for key in SPECIAL_KEYS:
        hook.put_object(bucket, key, key.encode())
    assert _keys(hook.iter_objects(bucket, prefix="odd/", page_size=2)) == sorted(SPECIAL_KEYS)
    assert _keys(hook.iter_objects(bucket, prefix="odd/数据/")) == ["odd/数据/文件 一.csv"]
    assert _keys(hook.iter_objects(bucket, prefix="odd/", glob="odd/*%*")) == [
        "odd/%2F not a slash.csv",
        "odd/100%.csv",
    ]
    for key in SPECIAL_KEYS:
        obj = hook.head_object(bucket, key)
        assert (obj.key, obj.size) == (key, len(key.encode()))
        assert hook.read_object(bucket, key) == key.encode()
        # what the raw SDK sees agrees with the hook
        assert cos_client.head_object(Bucket=bucket, Key=key)["ETag"] == f'"{obj.etag}"'
    assert sorted(hook.delete_objects(bucket, SPECIAL_KEYS)) == sorted(SPECIAL_KEYS)
    assert list(hook.iter_objects(bucket)) == []


def test_iter_objects_streams_2500_objects_page_by_page(hook, emulator, bucket):
    keys = [f"many/{i:05d}.csv" for i in range(2500)]
    for key in keys:
        emulator.cos.put_object(bucket, key, key.encode())
    emulator.cos.put_object(bucket, "manz/decoy.csv", b"x")

    listing = hook.iter_objects(bucket, prefix="many/", page_size=300)
    assert inspect.isgenerator(listing)
    first = list(islice(listing, 300))  # exactly one page consumed
    # The next page has not been fetched yet: a fault armed now hits the very next request.
    emulator.faults.cos_errors(1, status=400, operations=["LIST"])
    with pytest.raises(TencentCloudApiError):
        next(listing)

    objects = list(hook.iter_objects(bucket, prefix="many/", page_size=300))
    assert _keys(first) == keys[:300]
    assert _keys(objects) == keys
    assert all(isinstance(o, COSObject) and o.size == len(o.key) for o in objects)
    assert objects[0].last_modified.tzinfo is not None
    assert objects[0].etag == hashlib.md5(keys[0].encode()).hexdigest()


def test_iter_objects_starts_after_a_key_taken_literally(hook, emulator, bucket):
    keys = ["m/a b", "m/a%41", "m/a+b", "m/aA", "m/z", "m/\u65e5\u5fd7", "m/\u65e5\u5fd7/x"]
    for key in keys:
        emulator.cos.put_object(bucket, key, b"x")
    emulator.cos.put_object(bucket, "n/decoy", b"x")
    for start_after, page_size in [("m/a%41", 1000), ("m/a b", 2), ("m/\u65e5", 1)]:
        found = hook.iter_objects(bucket, prefix="m/", start_after=start_after, page_size=page_size)
        assert _keys(found) == [k for k in keys if k > start_after], start_after
    for below_or_at_the_prefix in ("", "a", "m/"):
        assert (
            _keys(hook.iter_objects(bucket, prefix="m/", start_after=below_or_at_the_prefix))
            == keys
        )
    assert _keys(hook.iter_objects(bucket, prefix="m/", start_after="n")) == []
    emulator.cos.put_object(bucket, "m/", b"folder")  # a key equal to the prefix
    assert _keys(hook.iter_objects(bucket, prefix="m/", start_after="m/")) == keys


def test_empty_listing_and_modified_after(hook, bucket):
    assert list(hook.iter_objects(bucket, prefix="nothing/")) == []
    hook.put_object(bucket, "t/one.csv", b"1")
    stamp = hook.head_object(bucket, "t/one.csv").last_modified
    assert _keys(hook.iter_objects(bucket, prefix="t/", modified_after=stamp)) == ["t/one.csv"]
    later = stamp.replace(year=stamp.year + 1)
    assert _keys(hook.iter_objects(bucket, prefix="t/", modified_after=later)) == []
    assert _keys(hook.iter_objects(bucket, prefix="t/", modified_after=stamp.isoformat())) == [
        "t/one.csv"
    ]


def test_invalid_filters_are_input_errors(hook, bucket):
    with pytest.raises(InvalidInputError):
        list(hook.iter_objects(bucket, regex="("))
    with pytest.raises(InvalidInputError):
        list(hook.iter_objects(bucket, glob="a[b"))
    with pytest.raises(InvalidInputError):
        list(hook.iter_objects(bucket, page_size=1001))


# -- single objects ------------------------------------------------------------------------------
def test_head_and_exists(hook, bucket, unique_name):
    etag = hook.put_object(bucket, "h/x.bin", b"12345", content_type="text/csv")
    obj = hook.head_object(bucket, "h/x.bin")
    assert (obj.bucket, obj.key, obj.size, obj.etag) == (bucket, "h/x.bin", 5, etag)
    assert COSObject.from_dict(json.loads(json.dumps(obj.to_dict()))) == obj
    assert hook.object_exists(bucket, "h/x.bin")
    assert not hook.object_exists(bucket, "h/missing.bin")
    with pytest.raises(ResourceNotFoundError) as err:
        hook.head_object(bucket, "h/missing.bin")
    assert err.value.status == 404
    with pytest.raises(ResourceNotFoundError):
        hook.read_object(bucket, "h/missing.bin")
    with pytest.raises(ResourceNotFoundError):
        list(hook.iter_objects(f"{unique_name('nobucket')}-{hook.appid}"))


def test_open_object_reads_what_is_asked_not_1kb(hook, bucket):
    data = b"".join(f"line {i}\n".encode() for i in range(2000))
    hook.put_object(bucket, "s/lines.txt", data)
    with hook.open_object(bucket, "s/lines.txt") as stream:
        assert stream.read(5000) == data[:5000]
        assert stream.readline() == data[5000 : data.index(b"\n", 5000) + 1]
        rest = stream.read()
    assert data[:5000] + data[5000 : data.index(b"\n", 5000) + 1] + rest == data
    with hook.open_object(bucket, "s/lines.txt", byte_range=(7, 13)) as stream:
        assert stream.read() == data[7:14]
    stream = hook.open_object(bucket, "s/lines.txt")
    stream.close()
    with pytest.raises(ValueError):
        stream.read(1)


def test_broken_download_raises_and_leaves_no_file(hook, emulator, bucket, tmp_path):
    data = os.urandom(300_000)
    hook.put_object(bucket, "d/blob.bin", data)
    emulator.faults.drop_connections(1, after_bytes=70_000)
    with pytest.raises(TencentCloudNetworkError), hook.open_object(bucket, "d/blob.bin") as s:
        while s.read(8192):
            pass
    emulator.faults.drop_connections(1, after_bytes=70_000)
    target = tmp_path / "blob.bin"
    with pytest.raises(TencentCloudNetworkError):
        hook.download_file(bucket, "d/blob.bin", target)
    assert list(tmp_path.iterdir()) == []
    hook.download_file(bucket, "d/blob.bin", target)
    assert target.read_bytes() == data


# -- writing -------------------------------------------------------------------------------------
def test_put_object_text_and_content_type(hook, bucket, cos_client):
    etag = hook.put_object(bucket, "p/hello.txt", "héllo", content_type="text/plain")
    assert etag == hashlib.md5("héllo".encode()).hexdigest()
    assert cos_client.head_object(Bucket=bucket, Key="p/hello.txt")["Content-Type"] == (
        "text/plain"
    )


def test_upload_file_goes_multipart_above_the_part_size(hook, bucket, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2_500_000))
    etag = hook.upload_file(bucket, "u/big.bin", big, part_size_mb=1)
    assert etag.endswith("-3") and '"' not in etag
    assert hook.read_object(bucket, "u/big.bin") == big.read_bytes()
    small = tmp_path / "small.bin"
    small.write_bytes(b"tiny")
    assert hook.upload_file(bucket, "u/small.bin", small, part_size_mb=1) == (
        hashlib.md5(b"tiny").hexdigest()
    )


class _Trickle(io.RawIOBase):
    """A non-seekable stream of unknown length that returns short reads, like a pipe or a socket;
    optionally fails after ``fail_after`` bytes."""

    def __init__(self, data: bytes, chunk: int = 65_536, fail_after: int | None = None) -> None:
        self._data = data
        self._pos = 0
        self._chunk = chunk
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._fail_after is not None and self._pos >= self._fail_after:
            raise OSError("producer died")
        size = self._chunk if size < 0 else min(size, self._chunk)
        out = self._data[self._pos : self._pos + size]
        self._pos += len(out)
        return out


def test_upload_fileobj_streams_unknown_length_in_parts(hook, bucket):
    data = os.urandom(2_600_000)
    etag = hook.upload_fileobj(bucket, "f/stream.bin", _Trickle(data), part_size=1024 * 1024)
    assert etag.endswith("-3") and '"' not in etag
    assert hook.read_object(bucket, "f/stream.bin") == data
    assert hook.upload_fileobj(bucket, "f/short.bin", _Trickle(b"abc")) == (
        hashlib.md5(b"abc").hexdigest()
    )


def test_failed_stream_upload_is_aborted(hook, bucket, cos_client):
    stream = _Trickle(os.urandom(3_000_000), fail_after=2_200_000)
    with pytest.raises(OSError, match="producer died"):
        hook.upload_fileobj(bucket, "f/broken.bin", stream, part_size=1024 * 1024)
    assert not hook.object_exists(bucket, "f/broken.bin")
    uploads = cos_client.list_multipart_uploads(Bucket=bucket, Prefix="f/")
    assert not uploads.get("Upload")
    with pytest.raises(InvalidInputError):
        hook.upload_fileobj(bucket, "f/x", _Trickle(b""), part_size=1000)


def test_copy_object_between_buckets(hook, emulator, bucket, unique_name):
    other = f"{unique_name('dst')}-{emulator.config.appid}"
    hook.create_bucket(other)
    etag = hook.put_object(bucket, "c/中文 src.csv", b"copy me")
    assert hook.copy_object(bucket, "c/中文 src.csv", other, "c/dst+1.csv") == etag
    assert hook.read_object(other, "c/dst+1.csv") == b"copy me"
    with pytest.raises(ResourceNotFoundError):
        hook.copy_object(bucket, "c/missing", other, "c/x")


def test_delete_objects_in_batches(hook, emulator, bucket):
    keys = [f"del/{i:04d}" for i in range(2100)]
    for key in keys:
        emulator.cos.put_object(bucket, key, b"x")
    emulator.cos.put_object(bucket, "keep/me", b"x")
    deleted = hook.delete_objects(bucket, iter(keys + ["del/never-existed"]))
    assert sorted(deleted) == sorted(keys + ["del/never-existed"])
    assert _keys(hook.iter_objects(bucket)) == ["keep/me"]
    assert hook.delete_objects(bucket, []) == []


def test_create_bucket_is_idempotent(hook, emulator, unique_name):
    name = unique_name("nb") + "x"  # a short name: it must not end with -<digits>
    assert not hook.bucket_exists(name)
    hook.create_bucket(name)
    hook.create_bucket(name)
    assert hook.bucket_exists(f"{name}-{emulator.config.appid}")


# -- errors --------------------------------------------------------------------------------------
def test_wrong_secret_is_an_auth_error_without_the_secret(emulator, bucket, monkeypatch):
    wrong = "WrongSecretKeyValue1234567890abcd"
    conn = json.loads(tencentcloud_conn_json(emulator))
    conn["password"] = wrong
    monkeypatch.setenv("AIRFLOW_CONN_COS_WRONG", json.dumps(conn))
    hook = COSHook(tencentcloud_conn_id="cos_wrong", retries=0)
    with pytest.raises(TencentCloudAuthError) as err:
        hook.put_object(bucket, "x", b"x")
    assert err.value.code == "SignatureDoesNotMatch"
    assert wrong not in str(err.value) and wrong not in repr(err.value)


def test_server_errors_and_throttling_map_to_typed_errors(hook, emulator, bucket):
    emulator.faults.cos_errors(1, status=503, operations=["PUT"])
    with pytest.raises(TencentCloudApiError) as err:
        hook.put_object(bucket, "e/x", b"x")
    assert (err.value.status, err.value.code) == (503, "ServiceUnavailable")
    emulator.faults.cos_errors(1, status=429, operations=["HEAD"])
    with pytest.raises(TencentCloudThrottledError):
        hook.head_object(bucket, "e/x")
    hook.put_object(bucket, "e/x", b"x")  # faults used up: normal service


def test_sdk_retries_a_5xx_once_when_asked(emulator, bucket):
    emulator.faults.cos_errors(1, status=500, operations=["PUT"])
    assert COSHook(retries=1).put_object(bucket, "e/retried", b"x")


def test_unreachable_endpoint_is_a_network_error(emulator, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = tencentcloud_conn_json(emulator, endpoint=f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AIRFLOW_CONN_COS_DOWN", conn)
    hook = COSHook(tencentcloud_conn_id="cos_down", retries=0, timeout=5)
    with pytest.raises(TencentCloudNetworkError) as err:
        hook.head_object("any", "key")
    assert emulator.config.secret_key not in str(err.value)
