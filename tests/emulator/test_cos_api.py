"""The COS emulator against the real ``cos-python-sdk-v5`` over real HTTP (no mocks).

The SDK is configured as a user would point it at the emulator,
``CosConfig(Region, SecretId, SecretKey, Scheme="http", IP="127.0.0.1", Port=PORT)``, which sends
the bucket in the Host header. A few tests send raw ``requests`` signed by the SDK's own
``CosS3Auth``, where the SDK would hide the wire (status codes, headers) or retry with sleeps.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from email.utils import parsedate_to_datetime
from types import SimpleNamespace

import pytest
import requests
from qcloud_cos import CosConfig, CosServiceError
from qcloud_cos.cos_auth import CosS3Auth

MB = 1 << 20

WEIRD_KEYS = [
    "dir/a b.txt",
    "plus+sign+.csv",
    "100%.csv",
    "%41%2F-not-decoded-twice",
    "what?.txt",
    "hash#tag",
    "中文/数据 文件.csv",
    "x/./y",
    "amp&eq=semi;colon",
    "tilde~'quote'\"dq\"",
    "trailing space ",
]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def error_of(excinfo) -> tuple[int, str]:
    err = excinfo.value
    return err.get_status_code(), err.get_error_code()


# -- buckets ------------------------------------------------------------------------------------
def test_bucket_lifecycle(cos_client, emulator, unique_name):
    bucket = f"{unique_name('lc')}-{emulator.config.appid}"
    assert cos_client.bucket_exists(bucket) is False

    cos_client.create_bucket(Bucket=bucket)
    assert cos_client.bucket_exists(bucket) is True
    head = cos_client.head_bucket(Bucket=bucket)
    assert head["x-cos-bucket-region"] == emulator.config.region
    assert head["Server"] == "tencent-cos" and head["x-cos-request-id"]

    with pytest.raises(CosServiceError) as excinfo:  # COS answers this, not S3's ...OwnedByYou
        cos_client.create_bucket(Bucket=bucket)
    assert error_of(excinfo) == (409, "BucketAlreadyExists")

    cos_client.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.delete_bucket(Bucket=bucket)
    assert error_of(excinfo) == (409, "BucketNotEmpty")

    cos_client.delete_object(Bucket=bucket, Key="k")
    cos_client.delete_bucket(Bucket=bucket)
    assert cos_client.bucket_exists(bucket) is False


def test_unknown_bucket_is_no_such_bucket(cos_client, emulator, unique_name):
    bucket = f"{unique_name('nb')}-{emulator.config.appid}"
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.list_objects(Bucket=bucket)
    assert error_of(excinfo) == (404, "NoSuchBucket")
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert error_of(excinfo) == (404, "NoSuchBucket")
    err = excinfo.value
    assert err.get_request_id() and err.get_trace_id() != "Unknown"
    assert err.get_resource_location().startswith(f"{bucket}.cos.")


def test_bucket_of_another_appid_is_denied(cos_client, unique_name):
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.list_objects(Bucket=f"{unique_name('x')}-1111111111")
    assert error_of(excinfo) == (403, "AccessDenied")


# -- objects ------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", WEIRD_KEYS)
def test_object_round_trip_with_weird_keys(cos_client, bucket, key):
    body = f"payload of {key}".encode() * 100
    put = cos_client.put_object(Bucket=bucket, Key=key, Body=body)
    assert put["ETag"] == f'"{md5_hex(body)}"'

    head = cos_client.head_object(Bucket=bucket, Key=key)
    assert head["Content-Length"] == str(len(body))
    assert head["ETag"] == f'"{md5_hex(body)}"'
    assert head["Content-Type"] == "application/octet-stream"
    assert abs(time.time() - parsedate_to_datetime(head["Last-Modified"]).timestamp()) < 60
    assert head["Last-Modified"].endswith(" GMT")

    got = cos_client.get_object(Bucket=bucket, Key=key)
    assert got["Body"].get_raw_stream().read() == body

    listed = cos_client.list_objects(Bucket=bucket)
    assert [c["Key"] for c in listed["Contents"]] == [key]

    cos_client.delete_object(Bucket=bucket, Key=key)
    assert cos_client.object_exists(Bucket=bucket, Key=key) is False
    assert "Contents" not in cos_client.list_objects(Bucket=bucket)


def test_put_with_chunked_body(cos_client, bucket):
    """A body of unknown length goes out as ``Transfer-Encoding: chunked`` (and is signed so)."""
    chunks = [b"first,", b"second,", b"x" * 70000]
    put = cos_client.put_object(Bucket=bucket, Key="chunked", Body=iter(chunks))
    assert put["ETag"] == f'"{md5_hex(b"".join(chunks))}"'
    got = cos_client.get_object(Bucket=bucket, Key="chunked")["Body"].get_raw_stream().read()
    assert got == b"".join(chunks)


def test_missing_key(cos_client, bucket):
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.get_object(Bucket=bucket, Key="missing/key.csv")
    assert error_of(excinfo) == (404, "NoSuchKey")
    assert excinfo.value.get_resource_location().endswith("/missing/key.csv")
    with pytest.raises(CosServiceError) as excinfo:  # HEAD: the SDK ignores the body
        cos_client.head_object(Bucket=bucket, Key="missing/key.csv")
    assert error_of(excinfo) == (404, "NoSuchResource")
    # DELETE of a missing key succeeds, as on COS.
    assert cos_client.delete_object(Bucket=bucket, Key="missing/key.csv")["x-cos-request-id"]


def test_metadata_round_trip(cos_client, bucket):
    cos_client.put_object(
        Bucket=bucket,
        Key="meta.csv",
        Body=b"a,b\n1,2\n",
        ContentType="text/csv",
        CacheControl="max-age=60",
        ContentDisposition='attachment; filename="meta.csv"',
        Metadata={"x-cos-meta-owner": "etl", "x-cos-meta-Batch": "42/7"},
    )
    head = cos_client.head_object(Bucket=bucket, Key="meta.csv")
    assert head["Content-Type"] == "text/csv"
    assert head["Cache-Control"] == "max-age=60"
    assert head["Content-Disposition"] == 'attachment; filename="meta.csv"'
    assert head["x-cos-meta-owner"] == "etl"
    assert head["x-cos-meta-batch"] == "42/7"
    got = cos_client.get_object(Bucket=bucket, Key="meta.csv", ResponseContentType="text/plain")
    assert got["Content-Type"] == "text/plain"
    assert got["x-cos-meta-owner"] == "etl"


def test_range_get(cos_client, bucket, raw):
    body = bytes(range(256)) * 4
    cos_client.put_object(Bucket=bucket, Key="r.bin", Body=body)

    part = cos_client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=10-19")
    assert part["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert part["Body"].get_raw_stream().read() == body[10:20]
    tail = cos_client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=-5")
    assert tail["Body"].get_raw_stream().read() == body[-5:]
    rest = cos_client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=1000-")
    assert rest["Body"].get_raw_stream().read() == body[1000:]

    response = raw("GET", bucket, "r.bin", headers={"Range": "bytes=5-9"})
    assert response.status_code == 206 and response.content == body[5:10]

    with pytest.raises(CosServiceError) as excinfo:
        cos_client.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={len(body)}-")
    assert error_of(excinfo) == (416, "InvalidRange")
    response = raw("GET", bucket, "r.bin", headers={"Range": f"bytes={len(body) + 5}-"})
    assert response.headers["Content-Range"] == f"bytes */{len(body)}"


def test_content_md5_is_checked(cos_client, bucket, raw):
    body = b"checked body"
    cos_client.put_object(Bucket=bucket, Key="ok", Body=body, EnableMD5=True)
    wrong = "1B2M2Y8AsgTpgAmY7PhCfg=="  # MD5 of the empty string
    response = raw("PUT", bucket, "bad", headers={"Content-MD5": wrong}, data=body)
    assert response.status_code == 400 and b"<Code>BadDigest</Code>" in response.content
    assert cos_client.object_exists(Bucket=bucket, Key="bad") is False


# -- listings -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_bucket(emulator):
    """2,500 objects under ``data/`` plus three elsewhere, created once through the Python helper
    (the listing tests only read it)."""
    bucket = f"big-{uuid.uuid4().hex[:8]}-{emulator.config.appid}"
    emulator.cos.create_bucket(bucket)
    keys = [f"data/{i:05d}.csv" for i in range(2500)] + ["logs/a.log", "logs/b.log", "top.txt"]
    for key in keys:
        emulator.cos.put_object(bucket, key, key.encode())
    return bucket, sorted(keys)


def test_list_objects_pages_through_2500_objects(cos_client, big_bucket):
    bucket, keys = big_bucket
    seen, marker, pages = [], "", []
    while True:
        page = cos_client.list_objects(Bucket=bucket, Marker=marker, MaxKeys=1000)
        pages.append(len(page["Contents"]))
        seen += [c["Key"] for c in page["Contents"]]
        assert page["MaxKeys"] == "1000"
        if page["IsTruncated"] == "false":
            assert "NextMarker" not in page
            break
        assert page["NextMarker"] == page["Contents"][-1]["Key"]  # even without a delimiter
        marker = page["NextMarker"]
    assert pages == [1000, 1000, 503]
    assert seen == keys
    first = cos_client.list_objects(Bucket=bucket, MaxKeys=1)["Contents"][0]
    assert first["Size"] == str(len(keys[0]))
    assert first["ETag"] == f'"{md5_hex(keys[0].encode())}"'
    assert first["StorageClass"] == "STANDARD"
    assert first["LastModified"].endswith(".000Z") and "T" in first["LastModified"]
    # max-keys is capped at 1000
    assert len(cos_client.list_objects(Bucket=bucket, MaxKeys=5000)["Contents"]) == 1000


def test_list_objects_with_delimiter_and_prefix(cos_client, big_bucket):
    bucket, _ = big_bucket
    top = cos_client.list_objects(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["data/", "logs/"]
    assert [c["Key"] for c in top["Contents"]] == ["top.txt"]
    assert top["IsTruncated"] == "false"

    # Common prefixes count towards max-keys and can end a page.
    first = cos_client.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert first["IsTruncated"] == "true" and first["NextMarker"] == "data/"
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["data/"]
    second = cos_client.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker="data/")
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["logs/"]

    logs = cos_client.list_objects(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [c["Key"] for c in logs["Contents"]] == ["logs/a.log", "logs/b.log"]
    assert logs["Prefix"] == "logs/"
    nested = cos_client.list_objects(Bucket=bucket, Prefix="data/0249", MaxKeys=1000)
    assert [c["Key"] for c in nested["Contents"]] == [f"data/0249{i}.csv" for i in range(10)]


def test_list_objects_versions_of_an_unversioned_bucket(cos_client, big_bucket):
    # One "null" version per object, paged by key-marker, with the same roll-up as GET Bucket.
    bucket, keys = big_bucket
    seen, marker = [], ""
    while True:
        page = cos_client.list_objects_versions(Bucket=bucket, KeyMarker=marker, MaxKeys=1000)
        versions = page["Version"]
        seen += [v["Key"] for v in versions]
        assert {(v["VersionId"], v["IsLatest"]) for v in versions} == {("null", "true")}
        assert page["VersionIdMarker"] is None and page["MaxKeys"] == "1000"  # empty element
        if page["IsTruncated"] == "false":
            assert "NextKeyMarker" not in page
            break
        assert page["NextKeyMarker"] == versions[-1]["Key"]
        assert page["NextVersionIdMarker"] == "null"
        marker = page["NextKeyMarker"]
    assert seen == keys
    first = versions[0]
    assert first["ETag"] == f'"{md5_hex(first["Key"].encode())}"'
    assert first["Size"] == str(len(first["Key"]))

    top = cos_client.list_objects_versions(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["data/", "logs/"]
    assert top["IsTruncated"] == "true" and top["NextKeyMarker"] == "logs/"
    rest = cos_client.list_objects_versions(Bucket=bucket, Delimiter="/", KeyMarker="logs/")
    assert [v["Key"] for v in rest["Version"]] == ["top.txt"]


def test_encoding_type_url(cos_client, bucket):
    keys = sorted(WEIRD_KEYS + ["x/a+b c%d"])
    for key in keys:
        cos_client.put_object(Bucket=bucket, Key=key, Body=b"1")

    # The SDK asks for encoding-type=url and decodes; pages of two exercise NextMarker/Marker.
    seen, marker = [], ""
    while True:
        page = cos_client.list_objects(Bucket=bucket, Marker=marker, MaxKeys=2)
        seen += [c["Key"] for c in page["Contents"]]
        if page["IsTruncated"] == "false":
            break
        marker = page["NextMarker"]
    assert seen == keys

    # Asked explicitly, the SDK leaves the percent-encoding in place: check it on the wire.
    encoded = cos_client.list_objects(Bucket=bucket, EncodingType="url", Prefix="x/a+b")
    assert encoded["EncodingType"] == "url"
    assert encoded["Prefix"] == "x/a%2Bb"
    assert [c["Key"] for c in encoded["Contents"]] == ["x/a%2Bb%20c%25d"]

    grouped = cos_client.list_objects(Bucket=bucket, Prefix="中文/", Delimiter="/")
    assert [c["Key"] for c in grouped["Contents"]] == ["中文/数据 文件.csv"]
    grouped = cos_client.list_objects(Bucket=bucket, Delimiter=" ")
    assert "dir/a " in [p["Prefix"] for p in grouped["CommonPrefixes"]]


# -- multipart, copy, delete multiple -----------------------------------------------------------
def test_upload_file_multipart_and_download(cos_client, emulator, bucket, tmp_path):
    data = os.urandom(5 * MB + 12345)
    source = tmp_path / "five.bin"
    source.write_bytes(data)
    events = []
    emulator.cos.add_listener(lambda e: events.append(e) if e.bucket == bucket else None)

    result = cos_client.upload_file(
        Bucket=bucket,
        Key="big/five.bin",
        LocalFilePath=str(source),
        PartSize=1,
        MAXThread=3,
        Metadata={"x-cos-meta-kind": "multipart"},
    )
    parts = [data[i : i + MB] for i in range(0, len(data), MB)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert result["ETag"] == f'"{expected}-{len(parts)}"'
    assert len(parts) == 6

    head = cos_client.head_object(Bucket=bucket, Key="big/five.bin")
    assert head["Content-Length"] == str(len(data)) and head["x-cos-meta-kind"] == "multipart"
    assert "Upload" not in cos_client.list_multipart_uploads(Bucket=bucket)

    plain = tmp_path / "plain.bin"
    cos_client.get_object(Bucket=bucket, Key="big/five.bin")["Body"].get_stream_to_file(str(plain))
    assert plain.read_bytes() == data
    # Ranged parallel download, checked against x-cos-hash-crc64ecma by the SDK itself.
    ranged = tmp_path / "ranged.bin"
    cos_client.download_file(
        Bucket=bucket,
        Key="big/five.bin",
        DestFilePath=str(ranged),
        PartSize=1,
        MAXThread=3,
        EnableCRC=True,
        DumpRecordDir=str(tmp_path / "records"),
    )
    assert ranged.read_bytes() == data

    created = [e for e in events if e.key == "big/five.bin"]
    assert [e.event_name for e in created] == ["cos:ObjectCreated:CompleteMultipartUpload"]
    assert created[0].size == len(data) and created[0].etag == result["ETag"]
    assert created[0].meta == {"x-cos-meta-kind": "multipart"}


def test_upload_file_resumes_an_unfinished_upload(cos_client, bucket, tmp_path):
    """``upload_file`` looks for an unfinished upload of the key (ListMultipartUploads), checks
    its parts (ListParts ETags against local MD5s) and uploads only what is missing."""
    data = os.urandom(3 * MB + 100)
    source = tmp_path / "resume.bin"
    source.write_bytes(data)
    upload_id = cos_client.create_multipart_upload(Bucket=bucket, Key="resume.bin")["UploadId"]
    cos_client.upload_part(
        Bucket=bucket, Key="resume.bin", Body=data[:MB], PartNumber=1, UploadId=upload_id
    )

    result = cos_client.upload_file(
        Bucket=bucket, Key="resume.bin", LocalFilePath=str(source), PartSize=1
    )
    parts = [data[i : i + MB] for i in range(0, len(data), MB)]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert result["ETag"] == f'"{expected}-4"'
    # Had the SDK not recognised the old upload, it would have started a new one and left the
    # old one behind.
    assert "Upload" not in cos_client.list_multipart_uploads(Bucket=bucket)
    body = cos_client.get_object(Bucket=bucket, Key="resume.bin")["Body"].get_raw_stream()
    assert body.read() == data


def test_multipart_validation(cos_client, bucket):
    upload_id = cos_client.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    small = cos_client.upload_part(
        Bucket=bucket, Key="mp", Body=b"tiny", PartNumber=1, UploadId=upload_id
    )
    last = cos_client.upload_part(
        Bucket=bucket, Key="mp", Body=b"last", PartNumber=2, UploadId=upload_id
    )
    assert small["ETag"] == f'"{md5_hex(b"tiny")}"'
    listed = cos_client.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Part"]] == [
        ("1", small["ETag"], "4"),
        ("2", last["ETag"], "4"),
    ]
    uploads = cos_client.list_multipart_uploads(Bucket=bucket, Prefix="mp")["Upload"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", upload_id)]

    def complete(parts):
        with pytest.raises(CosServiceError) as excinfo:
            cos_client.complete_multipart_upload(
                Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Part": parts}
            )
        return error_of(excinfo)

    one = {"PartNumber": 1, "ETag": small["ETag"]}
    two = {"PartNumber": 2, "ETag": last["ETag"]}
    assert complete([two, one]) == (400, "InvalidPartOrder")
    assert complete([one, {"PartNumber": 2, "ETag": small["ETag"]}]) == (400, "InvalidPart")
    assert complete([one, {"PartNumber": 3, "ETag": last["ETag"]}]) == (400, "InvalidPart")
    assert complete([one, two]) == (400, "EntityTooSmall")  # part 1 is under 1 MB

    cos_client.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert error_of(excinfo) == (404, "NoSuchUpload")
    assert cos_client.object_exists(Bucket=bucket, Key="mp") is False


def test_copy_object(cos_client, emulator, bucket, unique_name):
    cfg = emulator.config
    other = f"{unique_name('dst')}-{cfg.appid}"
    cos_client.create_bucket(Bucket=other)
    cos_client.put_object(
        Bucket=bucket,
        Key="src/a b+c.csv",
        Body=b"copied bytes",
        ContentType="text/csv",
        Metadata={"x-cos-meta-owner": "etl"},
    )
    source = {"Bucket": bucket, "Key": "src/a b+c.csv", "Region": cfg.region}

    copied = cos_client.copy_object(Bucket=other, Key="dst/copy.csv", CopySource=source)
    assert copied["ETag"] == f'"{md5_hex(b"copied bytes")}"'
    head = cos_client.head_object(Bucket=other, Key="dst/copy.csv")
    assert head["Content-Type"] == "text/csv" and head["x-cos-meta-owner"] == "etl"
    body = cos_client.get_object(Bucket=other, Key="dst/copy.csv")["Body"].get_raw_stream()
    assert body.read() == b"copied bytes"

    cos_client.copy_object(
        Bucket=bucket,
        Key="src/replaced.csv",
        CopySource=source,
        CopyStatus="Replaced",
        ContentType="application/json",
        Metadata={"x-cos-meta-stage": "2"},
    )
    head = cos_client.head_object(Bucket=bucket, Key="src/replaced.csv")
    assert head["Content-Type"] == "application/json"
    assert head["x-cos-meta-stage"] == "2" and "x-cos-meta-owner" not in head

    # The source can change or go without affecting the copy.
    cos_client.delete_object(Bucket=bucket, Key="src/a b+c.csv")
    body = cos_client.get_object(Bucket=other, Key="dst/copy.csv")["Body"].get_raw_stream()
    assert body.read() == b"copied bytes"
    with pytest.raises(CosServiceError) as excinfo:
        cos_client.copy_object(Bucket=other, Key="again", CopySource=source)
    assert error_of(excinfo) == (404, "NoSuchKey")


def test_delete_objects(cos_client, bucket):
    for key in ("a", "b", "c d", "e+f"):
        cos_client.put_object(Bucket=bucket, Key=key, Body=b"x")
    loud = cos_client.delete_objects(
        Bucket=bucket,
        Delete={"Quiet": "false", "Object": [{"Key": "a"}, {"Key": "c d"}, {"Key": "never"}]},
    )
    assert sorted(d["Key"] for d in loud["Deleted"]) == ["a", "c d", "never"]
    quiet = cos_client.delete_objects(
        Bucket=bucket, Delete={"Quiet": "true", "Object": [{"Key": "b"}, {"Key": "e+f"}]}
    )
    assert quiet.get("Deleted", []) == [] and quiet.get("Error", []) == []
    assert "Contents" not in cos_client.list_objects(Bucket=bucket)


def test_delete_objects_requires_content_md5(bucket, raw):
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    response = raw("POST", bucket, params={"delete": ""}, data=body)
    assert response.status_code == 400
    assert b"<Code>InvalidRequest</Code>" in response.content


# -- signatures ---------------------------------------------------------------------------------
def test_wrong_secret_key_is_signature_does_not_match(client_for, bucket):
    intruder = client_for(secret_key="not-the-secret-key-0000000000000")
    with pytest.raises(CosServiceError) as excinfo:
        intruder.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_of(excinfo) == (403, "SignatureDoesNotMatch")
    assert "not-the-secret" not in excinfo.value.get_origin_msg()


def test_unknown_secret_id_is_invalid_access_key_id(client_for, bucket):
    with pytest.raises(CosServiceError) as excinfo:
        client_for(secret_id="AKIDunknown").list_objects(Bucket=bucket)
    assert error_of(excinfo) == (403, "InvalidAccessKeyId")


def test_expired_and_future_signatures(raw, bucket, monkeypatch):
    expired = raw("GET", bucket, params={"prefix": ""}, expire=-120)
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in expired.content

    # A client clock an hour fast: only a fake clock for the SDK signer can produce that.
    import qcloud_cos.cos_auth

    fast = SimpleNamespace(time=lambda: time.time() + 3600)
    monkeypatch.setattr(qcloud_cos.cos_auth, "time", fast)
    future = raw("GET", bucket, params={"prefix": ""})
    assert future.status_code == 403 and b"RequestTimeTooSkewed" in future.content


def test_anonymous_and_tampered_requests(raw, bucket):
    anonymous = raw("GET", bucket, "k", auth=False)
    assert anonymous.status_code == 403 and b"<Code>AccessDenied</Code>" in anonymous.content
    # Signed for one key, sent for another: the decoded path is part of the signature.
    cfg_headers = {"Authorization": raw("HEAD", bucket, "k").request.headers["Authorization"]}
    tampered = raw("GET", bucket, "other", headers=cfg_headers, auth=False)
    assert tampered.status_code == 403 and b"SignatureDoesNotMatch" in tampered.content


def test_presigned_url(emulator, cos_client, bucket):
    """Query-string signatures work; in IP mode the SDK's URL has no bucket in it, so the client
    must send the bucket's Host header, and must not sign the URL's host (``SignHost=False``)."""
    cos_client.put_object(Bucket=bucket, Key="p r/s.txt", Body=b"presigned")
    host = {"Host": f"{bucket}.cos.{emulator.config.region}.myqcloud.com"}
    url = cos_client.get_presigned_url(bucket, "p r/s.txt", "GET", SignHost=False)
    assert "q-signature=" in url
    got = requests.get(url, headers=host, timeout=30)
    assert got.status_code == 200 and got.content == b"presigned"
    url = cos_client.get_presigned_url(bucket, "p r/s.txt", "GET", Expired=-100, SignHost=False)
    assert requests.get(url, headers=host, timeout=30).status_code == 403


def test_path_style_requests(emulator, bucket):
    """Non-SDK clients may address ``/<bucket>/<key>`` on the bare endpoint."""
    cfg = emulator.config
    conf = CosConfig(Region=cfg.region, SecretId=cfg.secret_id, SecretKey=cfg.secret_key)
    url = f"http://127.0.0.1:{emulator.port}/{bucket}/p/a%20b.txt"
    put = requests.put(url, data=b"path style", auth=CosS3Auth(conf, "p/a b.txt"), timeout=30)
    assert put.status_code == 200, put.content
    got = requests.get(url, auth=CosS3Auth(conf, f"/{bucket}/p/a b.txt"), timeout=30)
    assert got.status_code == 200 and got.content == b"path style"
    assert emulator.cos.open_object(bucket, "p/a b.txt").read() == b"path style"


# -- faults -------------------------------------------------------------------------------------
def test_injected_503_then_recovery(emulator, cos_client, bucket, raw, client_for):
    cos_client.put_object(Bucket=bucket, Key="k", Body=b"value")
    emulator.faults.cos_errors(1, status=503, operations=["GET"])
    first = raw("GET", bucket, "k")
    assert first.status_code == 503
    assert b"<Code>ServiceUnavailable</Code>" in first.content
    assert first.headers["x-cos-request-id"]
    second = raw("GET", bucket, "k")
    assert second.status_code == 200 and second.content == b"value"

    emulator.faults.cos_errors(1, status=500, operations=["LIST"])
    assert raw("GET", bucket, "k").status_code == 200  # a GET Object is not a LIST
    listing = raw("GET", bucket, params={"prefix": ""})
    assert listing.status_code == 500 and b"<Code>InternalError</Code>" in listing.content

    # The SDK retries a 5xx (after a 1 s sleep) and succeeds: the one slow test.
    emulator.faults.cos_errors(1, status=503, operations=["HEAD"])
    assert client_for(retry=1).head_object(Bucket=bucket, Key="k")["Content-Length"] == "5"


def test_dropped_connection_mid_download(emulator, cos_client, bucket, tmp_path):
    data = os.urandom(256 * 1024)
    cos_client.put_object(Bucket=bucket, Key="drop.bin", Body=data)
    emulator.faults.drop_connections(1, after_bytes=1000)
    target = tmp_path / "drop.bin"
    # requests reports the cut body as ChunkedEncodingError (an IOError, like the SDK's own
    # "download failed with incomplete file").
    with pytest.raises(OSError, match="IncompleteRead\\(1000 bytes read"):
        cos_client.get_object(Bucket=bucket, Key="drop.bin")["Body"].get_stream_to_file(str(target))
    assert not target.exists()
    # The next download is whole again.
    cos_client.get_object(Bucket=bucket, Key="drop.bin")["Body"].get_stream_to_file(str(target))
    assert target.read_bytes() == data


def test_latency_fault(emulator, cos_client, bucket):
    emulator.faults.latency(0.3, service="cos")
    started = time.monotonic()
    cos_client.bucket_exists(bucket)
    assert time.monotonic() - started >= 0.3


# -- notifications ------------------------------------------------------------------------------
def test_listeners_receive_object_events(emulator, cos_client, bucket):
    events, arrived = [], threading.Event()

    def listen(event):
        if event.bucket == bucket:
            events.append(event)
            arrived.set()

    emulator.cos.add_listener(listen)
    put = cos_client.put_object(
        Bucket=bucket,
        Key="in/数据 1.csv",
        Body=b"a,b\n",
        ContentType="text/csv",
        Metadata={"x-cos-meta-owner": "etl"},
    )
    cos_client.copy_object(
        Bucket=bucket,
        Key="out/copy.csv",
        CopySource={"Bucket": bucket, "Key": "in/数据 1.csv", "Region": emulator.config.region},
    )
    removed = cos_client.delete_object(Bucket=bucket, Key="in/数据 1.csv")
    cos_client.delete_object(Bucket=bucket, Key="never-existed")  # no event for nothing removed
    emulator.cos.put_object(bucket, "local.txt", b"from python", content_type="text/plain")

    assert arrived.wait(5)
    assert [(e.event_name, e.key) for e in events] == [
        ("cos:ObjectCreated:Put", "in/数据 1.csv"),
        ("cos:ObjectCreated:Copy", "out/copy.csv"),
        ("cos:ObjectRemove:Delete", "in/数据 1.csv"),
        ("cos:ObjectCreated:Put", "local.txt"),
    ]
    created, copied, deleted, local = events
    assert created.request_id == put["x-cos-request-id"]
    assert created.size == 4 and created.etag == put["ETag"] and created.content_type == "text/csv"
    assert created.meta == {"x-cos-meta-owner": "etl"}
    assert created.source_ip == "127.0.0.1"
    assert created.authorization.startswith("q-sign-algorithm=sha1&q-ak=")
    assert abs(created.event_time - time.time()) < 60
    assert copied.size == 4 and copied.meta == {"x-cos-meta-owner": "etl"}
    assert deleted.request_id == removed["x-cos-request-id"] and deleted.size == 0
    assert local.size == len(b"from python") and local.content_type == "text/plain"


def test_python_helpers(emulator, unique_name):
    from scf_snova_emulator.cos.exceptions import NoSuchBucket, NoSuchKey

    cos = emulator.cos
    name = f"{unique_name('py')}-{emulator.config.appid}"
    with pytest.raises(NoSuchBucket):
        cos.put_object(name, "k", b"x")
    cos.create_bucket(name)
    cos.create_bucket(name)  # idempotent
    etag = cos.put_object(name, "a/b.txt", b"hello", meta={"x-cos-meta-who": "测试"})
    assert etag == f'"{md5_hex(b"hello")}"'
    with cos.open_object(name, "a/b.txt") as f:
        assert f.read() == b"hello"
    assert [r.key for r in cos.list_objects(name, prefix="a/")] == ["a/b.txt"]
    assert cos.head_object(name, "a/b.txt").size == 5
    with pytest.raises(NoSuchKey):
        cos.open_object(name, "missing")
    assert cos.delete_object(name, "a/b.txt") is True
    assert cos.delete_object(name, "a/b.txt") is False
