"""COS answers as strict as COS: conditional GET/HEAD (412/304), Upload Part - Copy (through the
real SDK's ``upload_part_copy`` and ``copy()``), and errors, never a different success, for what the
emulator does not implement (ListObjectsV2, ``versionId``, unknown parameters, settings headers).

Rules and sources: ``docs/emulator.md``, "Strictness: rules, sources and tests". The ``raw`` and
``client_for`` fixtures are in this folder's ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import os
import socket
from email.utils import formatdate

import pytest
from qcloud_cos import CosServiceError

MB = 1 << 20


def error_of(excinfo) -> tuple[int, str]:
    return excinfo.value.get_status_code(), excinfo.value.get_error_code()


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


@pytest.fixture
def stored(emulator, bucket):
    """``(bucket, key, etag, last_modified epoch)`` of one object."""
    etag = emulator.cos.put_object(bucket, "k.txt", b"conditional body")
    record = emulator.cos.head_object(bucket, "k.txt")
    return bucket, "k.txt", etag, int(record.last_modified)


# -- conditional GET and HEAD -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditional_requests_answer_412_and_304_as_cos_does(raw, stored, method):
    bucket, key, etag, modified = stored
    before, after = http_date(modified - 60), http_date(modified + 60)

    def status(**headers) -> int:
        response = raw(method, bucket, key, headers=headers)
        if response.status_code == 304:
            assert response.content == b"" and response.headers["Content-Length"] == "0"
            assert response.headers["ETag"] == etag and response.headers["Last-Modified"]
        return response.status_code

    assert status(**{"If-Match": etag}) == 200
    assert status(**{"If-Match": etag.strip('"')}) == 200  # quotes do not matter
    assert status(**{"If-Match": '"0123", ' + etag}) == 200  # any of a list
    assert status(**{"If-Match": "*"}) == 200
    assert status(**{"If-Match": '"0123456789abcdef0123456789abcdef"'}) == 412
    assert status(**{"If-Unmodified-Since": after}) == 200
    assert status(**{"If-Unmodified-Since": before}) == 412
    assert status(**{"If-None-Match": etag}) == 304
    assert status(**{"If-None-Match": "W/" + etag}) == 304
    assert status(**{"If-None-Match": "*"}) == 304
    assert status(**{"If-None-Match": '"0123"'}) == 200
    assert status(**{"If-Modified-Since": http_date(modified)}) == 304
    assert status(**{"If-Modified-Since": after}) == 304
    assert status(**{"If-Modified-Since": before}) == 200
    assert status(**{"If-Modified-Since": "not a date"}) == 200  # ignored, as RFC 7232 says
    # RFC 7232 order: If-Match first, If-Unmodified-Since only without it; If-None-Match before
    # If-Modified-Since, which is then ignored.
    assert status(**{"If-Match": etag, "If-Unmodified-Since": before}) == 200
    assert status(**{"If-None-Match": '"0123"', "If-Modified-Since": after}) == 200
    assert status(**{"If-Match": '"0123"', "If-None-Match": '"0123"'}) == 412


def test_the_sdk_raises_on_412_and_returns_an_empty_body_on_304(cos_client, stored):
    """cos-python-sdk-v5 counts 2xx and 3xx as success: a 304 does not raise, it reads empty."""
    bucket, key, etag, _ = stored
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.get_object(Bucket=bucket, Key=key, IfMatch='"0123"')
    assert error_of(excinfo) == (412, "PreconditionFailed")
    not_modified = cos_client.get_object(Bucket=bucket, Key=key, IfNoneMatch=etag)
    assert not_modified["Body"].read() in ("", b"")  # no error: check ETag/status yourself
    body = cos_client.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"].get_raw_stream()
    assert body.read() == b"conditional body"


# -- the list marker ----------------------------------------------------------------------------
#: Keys whose order tells a literal marker from one decoded a second time (``%41`` is ``A``).
MARKED = ["m/a b", "m/a%41", "m/a+b", "m/aA", "m/z", "m/\u65e5\u5fd7"]


@pytest.mark.parametrize(
    ("marker", "after"),
    [
        ("m/a%41", ["m/a+b", "m/aA", "m/z", "m/\u65e5\u5fd7"]),  # decoded again: after m/aA
        ("m/a b", MARKED[1:]),
        ("m/\u65e5", ["m/\u65e5\u5fd7"]),  # UTF-8 byte order: m/z sorts first
        ("m/", MARKED),
        ("l", MARKED),  # below the prefix
    ],
)
def test_the_list_marker_is_a_key_never_decoded_again(emulator, cos_client, bucket, marker, after):
    # The SDK sends encoding-type=url and unquotes the answer's NextMarker, which its demo
    # (demo/list_objects.py) passes back as Marker: the marker is the key itself.
    for key in MARKED:
        emulator.cos.put_object(bucket, key, b"x")
    page = cos_client.list_objects(Bucket=bucket, Prefix="m/", Marker=marker)
    assert [entry["Key"] for entry in page.get("Contents", [])] == after
    assert (page.get("Marker") or "") == marker


def test_the_list_marker_is_encoded_in_the_answer_only(raw, emulator, bucket):
    emulator.cos.put_object(bucket, "m/a%41", b"x")
    params = {"prefix": "m/", "marker": "m/a%41", "encoding-type": "url", "max-keys": "0"}
    answer = raw("GET", bucket, params=params)
    assert answer.ok, answer.text
    assert "<Marker>m/a%2541</Marker>" in answer.text


# -- what is not implemented is refused ---------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"list-type": "2"}, "list-type"),
        ({"list-type": "2", "prefix": ""}, "list-type"),
        ({"continuation-token": "abc"}, "continuation-token"),
        ({"start-after": "a"}, "start-after"),
        ({"fetch-owner": "true"}, "fetch-owner"),
    ],
)
def test_list_objects_v2_is_refused(raw, bucket, params, named):
    response = raw("GET", bucket, params=params)
    assert response.status_code == 400
    assert b"<Code>InvalidArgument</Code>" in response.content
    assert named.encode() in response.content and b"ListObjectsV2" in response.content


def test_version_ids_are_refused_on_unversioned_buckets(cos_client, raw, stored):
    bucket, key, _, _ = stored
    calls = [
        lambda: cos_client.get_object(Bucket=bucket, Key=key, VersionId="MTg0NDUxMzc4"),
        lambda: cos_client.delete_object(Bucket=bucket, Key=key, VersionId="MTg0NDUxMzc4"),
        lambda: cos_client.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": key, "Region": "ap-guangzhou", "VersionId": "v1"},
        ),
        lambda: cos_client.delete_objects(
            Bucket=bucket, Delete={"Object": [{"Key": key, "VersionId": "v1"}]}
        ),
    ]
    for call in calls:
        with pytest.raises(CosServiceError) as excinfo:
            call()
        assert error_of(excinfo) == (400, "BucketVersionNotOpen")
    assert raw("HEAD", bucket, key, params={"versionId": "null"}).status_code == 400  # no body
    assert raw("GET", bucket, key).content == b"conditional body"  # nothing was deleted
    page = raw("GET", bucket, params={"versions": "", "version-id-marker": "v1"})
    assert page.status_code == 400 and b"BucketVersionNotOpen" in page.content
    assert raw("GET", bucket, params={"versions": "", "version-id-marker": "null"}).ok


@pytest.mark.parametrize(
    ("method", "key", "params", "answer"),
    [
        ("GET", "k.txt", {"foo": "bar"}, (400, "InvalidArgument")),
        ("GET", "", {"max-results": "5"}, (400, "InvalidArgument")),
        ("HEAD", "k.txt", {"response-content-type": "text/plain"}, (400, None)),
        ("GET", "k.txt", {"x-cos-traffic-limit": "819200"}, (400, "InvalidArgument")),
        ("GET", "k.txt", {"tagging": ""}, (400, "NotImplemented")),
        ("GET", "", {"inventory": ""}, (400, "NotImplemented")),
        ("DELETE", "k.txt", {"uploads": ""}, (400, "InvalidArgument")),
    ],
)
def test_unknown_query_parameters_are_refused(raw, stored, method, key, params, answer):
    bucket = stored[0]
    response = raw(method, bucket, key, params=params)
    status, code = answer
    assert response.status_code == status
    if code:  # a HEAD answer has no body
        assert f"<Code>{code}</Code>".encode() in response.content
    assert raw("GET", bucket, "k.txt").content == b"conditional body"


@pytest.mark.parametrize(
    "headers",
    [
        {"StorageClass": "STANDARD_IA"},
        {"ACL": "public-read"},
        {"GrantRead": 'id="100000000001"'},
        {"Tagging": "team=data"},
        {"ServerSideEncryption": "AES256"},
        {"IfNoneMatch": "*"},
        {"IfMatch": '"0123"'},
    ],
)
def test_settings_the_emulator_would_ignore_are_refused(cos_client, bucket, headers):
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.put_object(Bucket=bucket, Key="w", Body=b"x", **headers)
    assert error_of(excinfo) == (400, "NotImplemented")
    with pytest.raises(CosServiceError):
        cos_client.head_object(Bucket=bucket, Key="w")  # not written


def test_forbid_overwrite_is_refused_and_defaults_are_accepted(cos_client, raw, bucket):
    forbid = raw("PUT", bucket, "w", headers={"x-cos-forbid-overwrite": "true"}, data=b"x")
    assert forbid.status_code == 400 and b"x-cos-forbid-overwrite" in forbid.content
    cos_client.put_object(Bucket=bucket, Key="w", Body=b"x", StorageClass="STANDARD", ACL="private")
    assert raw("GET", bucket, "w").content == b"x"


# -- Upload Part - Copy --------------------------------------------------------------------------
@pytest.fixture
def source(emulator, bucket):
    """A 2.5 MB object of random bytes: ``(bucket, key, bytes)``."""
    data = os.urandom(5 * MB // 2)
    emulator.cos.put_object(bucket, "src/big.bin", data)
    return bucket, "src/big.bin", data


def copy_source(emulator, bucket, key, **extra) -> dict:
    return {"Bucket": bucket, "Key": key, "Region": emulator.config.region, **extra}


def test_upload_part_copy_through_the_sdk(emulator, cos_client, source):
    bucket, key, data = source
    upload_id = cos_client.create_multipart_upload(Bucket=bucket, Key="dst.bin")["UploadId"]
    spans = [(0, MB - 1), (MB, 2 * MB - 1), (2 * MB, len(data) - 1)]
    parts = []
    for number, (first, last) in enumerate(spans, 1):
        answer = cos_client.upload_part_copy(
            Bucket=bucket,
            Key="dst.bin",
            PartNumber=number,
            UploadId=upload_id,
            CopySource=copy_source(emulator, bucket, key),
            CopySourceRange=f"bytes={first}-{last}",
        )
        assert answer["ETag"] == f'"{hashlib.md5(data[first : last + 1]).hexdigest()}"'
        assert answer["LastModified"]
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    listed = cos_client.list_parts(Bucket=bucket, Key="dst.bin", UploadId=upload_id)["Part"]
    assert [int(p["Size"]) for p in listed] == [MB, MB, len(data) - 2 * MB]
    cos_client.complete_multipart_upload(
        Bucket=bucket, Key="dst.bin", UploadId=upload_id, MultipartUpload={"Part": parts}
    )
    assert emulator.cos.open_object(bucket, "dst.bin").read() == data
    assert emulator.cos.head_object(bucket, "dst.bin").etag.endswith('-3"')


def test_upload_part_copy_of_a_whole_object_and_its_errors(emulator, cos_client, source):
    bucket, key, data = source
    upload_id = cos_client.create_multipart_upload(Bucket=bucket, Key="whole")["UploadId"]
    whole = cos_client.upload_part_copy(  # CopySourceRange defaults to "" (sent empty)
        bucket, "whole", 1, upload_id, copy_source(emulator, bucket, key)
    )
    assert whole["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    etag = emulator.cos.head_object(bucket, key).etag

    def refused(**kwargs) -> tuple[int, str]:
        arguments = {
            "Bucket": bucket,
            "Key": "whole",
            "PartNumber": 2,
            "UploadId": upload_id,
            "CopySource": copy_source(emulator, bucket, key),
            **kwargs,
        }
        with pytest.raises(CosServiceError) as excinfo:
            cos_client.upload_part_copy(**arguments)
        return error_of(excinfo)

    invalid = (400, "InvalidArgument")
    assert refused(CopySourceRange="bytes=5-2") == invalid
    assert refused(CopySourceRange=f"bytes=0-{len(data)}") == invalid  # one past the end
    assert refused(CopySourceRange="bytes=0-") == invalid
    assert refused(CopySourceIfMatch='"0123"') == (412, "PreconditionFailed")
    assert refused(CopySourceIfNoneMatch=etag) == (412, "PreconditionFailed")
    assert refused(CopySourceIfModifiedSince=http_date(2e9)) == (412, "PreconditionFailed")
    assert refused(CopySourceIfMatch=etag, CopySourceIfNoneMatch='"0"') == invalid  # conflict
    versioned = copy_source(emulator, bucket, key, VersionId="v1")
    assert refused(CopySource=versioned) == (400, "BucketVersionNotOpen")
    assert refused(CopySource=copy_source(emulator, bucket, "nope")) == (404, "NoSuchKey")
    assert refused(UploadId="no-such-upload") == (404, "NoSuchUpload")
    allowed = cos_client.upload_part_copy(
        bucket,
        "whole",
        2,
        upload_id,
        copy_source(emulator, bucket, key),
        CopySourceIfMatch=etag,
        CopySourceIfUnmodifiedSince=http_date(2e9),
    )
    assert allowed["ETag"] == whole["ETag"]


def test_copy_object_checks_its_source_conditions(emulator, cos_client, source):
    bucket, key, _ = source
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.copy_object(
            Bucket=bucket,
            Key="c",
            CopySource=copy_source(emulator, bucket, key),
            CopySourceIfMatch='"0123"',
        )
    assert error_of(excinfo) == (412, "PreconditionFailed")
    elsewhere = copy_source(emulator, bucket, key, Region="ap-shanghai")
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.copy_object(Bucket=bucket, Key="c", CopySource=elsewhere)
    assert error_of(excinfo) == (404, "NoSuchBucket")  # the bucket is in another region


@pytest.fixture
def loopback_only(monkeypatch):
    """Name resolution refuses anything but loopback, so a stray real COS host fails the test
    instead of being contacted."""
    resolve = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"the test tried to reach {host}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def test_sdk_copy_takes_the_multipart_path_with_a_lowered_threshold(
    emulator, client_for, source, loopback_only
):
    """``copy()`` heads the source at the real host it builds from ``CopySource`` (IP mode does
    not apply there), so the client's proxy is the emulator. The source is named by COS's newer
    domain, which the SDK takes for another endpoint; with the threshold lowered to 1 MB it
    copies a 2.5 MB object as three ``upload_part_copy`` parts of 1 MB."""
    bucket, key, data = source
    proxy = f"http://127.0.0.1:{emulator.port}"
    client = client_for(retry=1, Proxies={"http": proxy, "https": proxy})
    client._conf.set_copy_part_threshold_size(MB)
    region = emulator.config.region
    other_domain = copy_source(emulator, bucket, key, Endpoint=f"cos.{region}.tencentcos.cn")
    client.copy(Bucket=bucket, Key="copied.bin", CopySource=other_domain, PartSize=1, MAXThread=2)
    assert emulator.cos.open_object(bucket, "copied.bin").read() == data
    assert emulator.cos.head_object(bucket, "copied.bin").etag.endswith('-3"')
