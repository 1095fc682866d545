"""COS emulator behaviour that needs its own service instance: restarts on the same data
directory, streaming memory use, session tokens and reset. Real SDK, real HTTP, real disk."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from qcloud_cos import CosConfig, CosS3Client, CosServiceError
from scf_snova_emulator.config import EmulatorConfig
from scf_snova_emulator.cos.service import CosService
from scf_snova_emulator.faults import Faults
from scf_snova_emulator.http import Exchange

MB = 1 << 20
BUCKET = "restart-1250000000"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        return "tencent-cos"

    def log_message(self, format, *args) -> None:
        pass

    def _dispatch(self) -> None:
        exchange = Exchange(self)
        try:
            self.server.cos.handle(exchange)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _dispatch


@contextmanager
def serve(cos: CosService) -> Iterator[int]:
    """Serve one CosService on a free loopback port (the path the emulator server takes for COS
    requests, without the SCF half); yields the port."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.cos = cos
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        cos.close()


def client(config: EmulatorConfig, port: int, token: str | None = None) -> CosS3Client:
    conf = CosConfig(
        Region=config.region,
        SecretId=config.secret_id,
        SecretKey=config.secret_key,
        Token=token,
        Scheme="http",
        IP="127.0.0.1",
        Port=port,
    )
    return CosS3Client(conf, retry=0)


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_buckets_objects_and_uploads_survive_a_restart(tmp_path):
    config, root = EmulatorConfig(port=0), tmp_path / "cos"
    body = os.urandom(3 * MB)
    with serve(CosService(config, Faults(), root)) as port:
        sdk = client(config, port)
        sdk.create_bucket(Bucket=BUCKET)
        put = sdk.put_object(
            Bucket=BUCKET,
            Key="中文/a b+c.bin",
            Body=body,
            ContentType="application/x-test",
            Metadata={"x-cos-meta-owner": "etl"},
        )
        sdk.put_object(Bucket=BUCKET, Key="gone.txt", Body=b"bye")
        sdk.put_object(Bucket=BUCKET, Key="overwritten.txt", Body=b"first")
        sdk.put_object(Bucket=BUCKET, Key="overwritten.txt", Body=b"second")
        sdk.delete_object(Bucket=BUCKET, Key="gone.txt")
        upload_id = sdk.create_multipart_upload(Bucket=BUCKET, Key="mp.bin")["UploadId"]
        part = sdk.upload_part(
            Bucket=BUCKET, Key="mp.bin", Body=body, PartNumber=1, UploadId=upload_id
        )
        before = sdk.head_object(Bucket=BUCKET, Key="中文/a b+c.bin")

    with serve(CosService(config, Faults(), root)) as port:
        sdk = client(config, port)
        assert sdk.bucket_exists(BUCKET)
        keys = [c["Key"] for c in sdk.list_objects(Bucket=BUCKET)["Contents"]]
        assert keys == ["overwritten.txt", "中文/a b+c.bin"]
        after = sdk.head_object(Bucket=BUCKET, Key="中文/a b+c.bin")
        for header in ("ETag", "Last-Modified", "Content-Type", "Content-Length"):
            assert after[header] == before[header], header
        assert after["ETag"] == put["ETag"] and after["x-cos-meta-owner"] == "etl"
        got = sdk.get_object(Bucket=BUCKET, Key="中文/a b+c.bin")["Body"].get_raw_stream().read()
        assert got == body
        again = sdk.get_object(Bucket=BUCKET, Key="overwritten.txt")["Body"].get_raw_stream()
        assert again.read() == b"second"

        uploads = sdk.list_multipart_uploads(Bucket=BUCKET)["Upload"]
        assert [u["UploadId"] for u in uploads] == [upload_id]
        done = sdk.complete_multipart_upload(
            Bucket=BUCKET,
            Key="mp.bin",
            UploadId=upload_id,
            MultipartUpload={"Part": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        assert done["ETag"].endswith('-1"')
        assert sdk.head_object(Bucket=BUCKET, Key="mp.bin")["Content-Length"] == str(len(body))

    # Exactly one data file per object is left: overwrites, deletes and parts were cleaned up.
    data_files = list((root / "buckets" / BUCKET / "data").iterdir())
    assert len(data_files) == 3
    assert list((root / "buckets" / BUCKET / "uploads").iterdir()) == []


def test_restart_discards_half_written_files(tmp_path):
    config, root = EmulatorConfig(port=0), tmp_path / "cos"
    cos = CosService(config, Faults(), root)
    cos.create_bucket(BUCKET)
    cos.put_object(BUCKET, "kept", b"kept")
    # What a crash leaves behind: a body still being received, and a body whose sidecar was never
    # written.
    (root / "tmp" / "receiving").write_bytes(b"partial")
    orphan = root / "buckets" / BUCKET / "data" / "orphan"
    orphan.write_bytes(b"never committed")

    restarted = CosService(config, Faults(), root)
    assert [r.key for r in restarted.list_objects(BUCKET)] == ["kept"]
    assert not orphan.exists() and list((root / "tmp").iterdir()) == []
    with restarted.open_object(BUCKET, "kept") as f:
        assert f.read() == b"kept"


def test_streaming_a_50mb_object_does_not_buffer_it(tmp_path):
    """Up and down through the real SDK; the peak of Python allocations in the whole process
    (client and server threads) must stay far below the object size."""
    config = EmulatorConfig(port=0)
    source, target = tmp_path / "source.bin", tmp_path / "target.bin"
    with open(source, "wb") as f:
        for i in range(50):
            f.write(i.to_bytes(4, "big") + os.urandom(MB - 4))
    with serve(CosService(config, Faults(), tmp_path / "cos")) as port:
        sdk = client(config, port)
        sdk.create_bucket(Bucket=BUCKET)
        tracemalloc.start()
        try:
            with open(source, "rb") as body:
                put = sdk.put_object(Bucket=BUCKET, Key="big.bin", Body=body)
            sdk.get_object(Bucket=BUCKET, Key="big.bin")["Body"].get_stream_to_file(str(target))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert put["ETag"] == f'"{file_md5(source)}"'
    assert file_md5(target) == file_md5(source)
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB while moving a 50 MB object"


def test_session_token_is_required_when_configured(tmp_path):
    config = EmulatorConfig(port=0, token="session-token-1")
    with serve(CosService(config, Faults(), tmp_path / "cos")) as port:
        client(config, port, token="session-token-1").create_bucket(Bucket=BUCKET)
        for token in (None, "another-token"):
            with pytest.raises(CosServiceError) as excinfo:
                client(config, port, token=token).head_object(Bucket=BUCKET, Key="k")
            assert excinfo.value.get_status_code() == 403
            with pytest.raises(CosServiceError) as excinfo:
                client(config, port, token=token).list_objects(Bucket=BUCKET)
            assert excinfo.value.get_error_code() == "InvalidAccessKeyId"
            assert "session-token-1" not in excinfo.value.get_origin_msg()


def test_reset_removes_everything_but_keeps_listeners(tmp_path):
    config, root = EmulatorConfig(port=0), tmp_path / "cos"
    cos = CosService(config, Faults(), root)
    events = []
    cos.add_listener(events.append)
    cos.create_bucket(BUCKET)
    cos.put_object(BUCKET, "a", b"1")
    cos.reset()
    assert list((root / "buckets").iterdir()) == []
    with pytest.raises(Exception, match="NoSuchBucket"):
        cos.list_objects(BUCKET)
    cos.create_bucket(BUCKET)
    cos.put_object(BUCKET, "b", b"2")
    assert [e.key for e in events] == ["a", "b"]
    assert [r.key for r in CosService(config, Faults(), root).list_objects(BUCKET)] == ["b"]
