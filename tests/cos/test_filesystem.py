"""``cos://`` as an fsspec filesystem and an Airflow ``ObjectStoragePath``, against the emulator
through the real COS SDK."""

from __future__ import annotations

import os

import pytest

MiB = 1024 * 1024


@pytest.fixture
def fs(emulator):
    from airflow_scf_snova.cos.filesystem import COSFileSystem

    return COSFileSystem(conn_id="tencentcloud_default", skip_instance_cache=True)


# -- registration and path syntax -----------------------------------------------------------------
def test_airflow_fsspec_and_upath_resolve_cos_to_the_provider():
    import fsspec
    from airflow.sdk.io import get_fs, has_fs
    from upath.registry import get_upath_class

    from airflow_scf_snova.cos.filesystem import COSFileSystem, COSPath
    from airflow_scf_snova.get_provider_info import get_provider_info

    assert get_provider_info()["filesystems"] == ["airflow_scf_snova.fs.cos"]
    assert has_fs("cos")
    attached = get_fs("cos", "some_conn", {"block_size": 2 * MiB})
    assert isinstance(attached, COSFileSystem)
    assert (attached.conn_id, attached.blocksize) == ("some_conn", 2 * MiB)
    assert fsspec.get_filesystem_class("cos") is COSFileSystem
    assert get_upath_class("cos") is COSPath


#: Run in a fresh interpreter: universal_pathlib caches a protocol's syntax on its first path.
PATH_SYNTAX = """
from airflow.sdk import ObjectStoragePath

path = ObjectStoragePath("cos://bkt/a/b.txt", conn_id="tencentcloud_default")
assert (path.bucket, path.key, path.name, path.stem) == ("bkt", "a/b.txt", "b.txt", "b")
assert str(path) == "cos://tencentcloud_default@bkt/a/b.txt"
assert str(path.parent) == "cos://tencentcloud_default@bkt/a"
assert str(path.parent.parent) == str(path.parent.parent.parent)  # the bucket is the anchor
assert path.parent.parent.key == ""
joined = ObjectStoragePath("cos://bkt/a/", conn_id="tencentcloud_default") / "c" / "d.csv"
assert joined.key == "a/c/d.csv"
base = ObjectStoragePath("cos://bkt/a", conn_id="tencentcloud_default")
assert joined.relative_to(base).parts == ("c", "d.csv")
assert joined.is_relative_to(base)
print("ok")
"""


def test_cos_paths_split_like_bucket_and_key():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", PATH_SYNTAX],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "ok", result.stderr[-3000:]


# -- through ObjectStoragePath --------------------------------------------------------------------
def test_object_storage_path_round_trip_on_a_short_bucket_name(emulator, unique_name):
    from airflow.sdk import ObjectStoragePath

    name = f"{unique_name('s')}-short"  # its last segment is not an APPID
    bucket = f"{name}-{emulator.config.appid}"
    emulator.cos.create_bucket(bucket)
    base = ObjectStoragePath(f"cos://{name}/data/", conn_id="tencentcloud_default")
    (base / "a.txt").write_text("hello")
    (base / "sub" / "b.csv").write_bytes(b"x,y\n1,2\n")
    assert (base / "a.txt").read_text() == "hello"
    assert (base / "a.txt").stat().st_size == 5
    assert (base / "a.txt").is_file() and (base / "sub").is_dir()
    assert not (base / "missing").exists()
    assert sorted(p.name for p in base.iterdir()) == ["a.txt", "sub"]
    assert [p.key for p in base.glob("**/*.csv")] == ["data/sub/b.csv"]
    (base / "a.txt").unlink()
    assert not (base / "a.txt").exists()
    from airflow_scf_snova.hooks.cos import COSHook

    assert [o.key for o in COSHook().iter_objects(bucket)] == ["data/sub/b.csv"]


def test_plain_fsspec_urls_use_the_default_connection(emulator, bucket):
    import fsspec

    with fsspec.open(f"cos://{bucket}/plain/x.txt", "wb") as out:
        out.write(b"written by fsspec.open")
    with fsspec.open(f"cos://{bucket}/plain/x.txt", "rb") as source:
        assert source.read() == b"written by fsspec.open"
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath(f"cos://{bucket}/plain/x.txt")  # no conn_id
    assert path.read_bytes() == b"written by fsspec.open"
    with path.open("wb", block_size=MiB) as out:
        out.write(b"z" * (2 * MiB + 1))
    # Multipart: 1 MiB blocks (with the default 8 MiB, one PUT).
    assert "-" in fsspec.filesystem("cos").info(path.path)["ETag"]


# -- listing --------------------------------------------------------------------------------------
@pytest.fixture
def tree(fs, bucket):
    from airflow_scf_snova.hooks.cos import COSHook

    hook = COSHook()
    for key in ("d/a.txt", "d/e/b.csv", "d/e/f/c.csv", "d/marker/", "dx.txt", "top.csv"):
        hook.put_object(bucket, key, b"" if key.endswith("/") else key.encode())
    return bucket


def test_ls_gives_one_level_with_directories(fs, tree):
    b = tree
    assert fs.ls(f"cos://{b}/d", detail=False) == [f"{b}/d/a.txt", f"{b}/d/e", f"{b}/d/marker"]
    by_name = {entry["name"]: entry for entry in fs.ls(f"{b}/d/")}
    assert by_name[f"{b}/d/a.txt"]["type"] == "file"
    assert by_name[f"{b}/d/a.txt"]["size"] == len(b"d/a.txt")
    assert by_name[f"{b}/d/e"]["type"] == "directory"
    assert fs.ls(f"{b}/d/marker", detail=False) == []  # the marker object is not listed
    assert fs.ls(b, detail=False) == [f"{b}/d", f"{b}/dx.txt", f"{b}/top.csv"]
    assert fs.ls(f"{b}/d/a.txt", detail=False) == [f"{b}/d/a.txt"]
    with pytest.raises(FileNotFoundError):
        fs.ls(f"{b}/nothing")
    with pytest.raises(FileNotFoundError):
        fs.ls("no-such-bucket-1250000000")


def test_info_of_files_directories_buckets_and_missing_paths(fs, tree):
    b = tree
    info = fs.info(f"{b}/d/e/b.csv")
    assert (info["type"], info["size"]) == ("file", len(b"d/e/b.csv"))
    assert info["ETag"] and info["LastModified"].tzinfo is not None
    assert fs.modified(f"{b}/d/e/b.csv") == info["LastModified"]
    assert fs.ukey(f"{b}/d/e/b.csv") == info["ETag"]
    assert fs.info(f"{b}/d/e")["type"] == "directory"
    assert fs.info(b)["type"] == "directory"
    assert fs.isdir(f"{b}/d") and fs.isfile(f"{b}/d/a.txt") and not fs.exists(f"{b}/d/zz")
    for missing in (f"{b}/d/zz", f"{b}/d/a.tx", "no-such-bucket-1250000000"):
        with pytest.raises(FileNotFoundError):
            fs.info(missing)


def test_find_and_glob(fs, tree):
    b = tree
    assert fs.find(f"{b}/d") == [f"{b}/d/a.txt", f"{b}/d/e/b.csv", f"{b}/d/e/f/c.csv"]
    assert fs.find(f"{b}/d", withdirs=True) == [
        f"{b}/d",
        f"{b}/d/a.txt",
        f"{b}/d/e",
        f"{b}/d/e/b.csv",
        f"{b}/d/e/f",
        f"{b}/d/e/f/c.csv",
        f"{b}/d/marker",
    ]
    assert fs.find(f"{b}/d/a.txt") == [f"{b}/d/a.txt"]
    assert fs.find(f"{b}/nothing") == []
    assert fs.glob(f"{b}/d/**/*.csv") == [f"{b}/d/e/b.csv", f"{b}/d/e/f/c.csv"]
    assert fs.glob(f"cos://{b}/d/*/*.csv") == [f"{b}/d/e/b.csv"]
    assert fs.glob(f"{b}/*.csv") == [f"{b}/top.csv"]
    assert fs.find(f"{b}/d", maxdepth=1) == [f"{b}/d/a.txt"]


def test_listings_follow_pages(fs, tree, monkeypatch):
    b = tree
    one_page = (fs.ls(b, detail=False), fs.ls(f"{b}/d", detail=False), fs.find(b, withdirs=True))
    monkeypatch.setattr(fs, "page_size", 1)  # every entry, key or common prefix, its own page
    assert (fs.ls(b, detail=False), fs.ls(f"{b}/d", detail=False)) == one_page[:2]
    assert fs.find(b, withdirs=True) == one_page[2]
    assert len(one_page[0]) == 3 and len(one_page[2]) == 9


def test_rm_files_and_trees(fs, tree):
    b = tree
    fs.rm(f"{b}/d/a.txt")
    assert not fs.exists(f"{b}/d/a.txt")
    fs.rm_file(f"{b}/d/a.txt")  # deleting a missing key succeeds, as in COS
    fs.rm(f"{b}/d", recursive=True)
    assert fs.find(b, withdirs=True) == [f"{b}/dx.txt", f"{b}/top.csv"]
    from airflow_scf_snova.hooks.cos import COSHook

    assert [o.key for o in COSHook().iter_objects(b)] == ["dx.txt", "top.csv"]  # marker too


# -- streaming ------------------------------------------------------------------------------------
def test_large_writes_stream_as_multipart_and_reads_are_ranged(fs, bucket):
    data = os.urandom(11 * MiB + 3)
    path = f"{bucket}/big/object.bin"
    with fs.open(path, "wb", block_size=5 * MiB) as out:
        for start in range(0, len(data), MiB):
            out.write(data[start : start + MiB])
    assert fs.info(path)["ETag"].endswith("-3")  # three parts: 5 + 5 + 1 MiB and 3 bytes
    assert fs.info(path)["size"] == len(data)

    with fs.open(path, "rb", block_size=MiB) as source:
        source.seek(9 * MiB + 17)
        assert source.read(100) == data[9 * MiB + 17 : 9 * MiB + 117]
        # One block fetched is exactly the requested range, not the object.
        assert source._fetch_range(7 * MiB, 8 * MiB) == data[7 * MiB : 8 * MiB]
        assert source.cache.total_requested_bytes <= 2 * MiB
    assert fs.cat_file(path, start=10, end=20) == data[10:20]
    assert fs.cat_file(path, start=-5) == data[-5:]
    assert fs.cat_file(path, start=5, end=5) == b""
    assert fs.cat_file(path) == data


def test_small_writes_are_one_put(fs, bucket):
    with fs.open(f"{bucket}/small.txt", "wb") as out:
        out.write(b"tiny")
    assert "-" not in fs.info(f"{bucket}/small.txt")["ETag"]
    assert fs.cat(f"{bucket}/small.txt") == b"tiny"


def test_a_failed_write_leaves_no_object_and_no_upload(fs, bucket, cos_client):
    path = f"{bucket}/aborted.bin"
    with pytest.raises(RuntimeError, match="producer failed"):
        with fs.open(path, "wb", block_size=MiB) as out:
            out.write(os.urandom(3 * MiB))  # two parts are already sent
            raise RuntimeError("producer failed")
    assert not fs.exists(path)
    uploads = cos_client.list_multipart_uploads(Bucket=bucket)
    assert not uploads.get("Upload"), uploads


def test_put_get_and_server_side_copy(fs, bucket, tmp_path):
    source = tmp_path / "local.bin"
    data = os.urandom(3 * MiB + 1)
    source.write_bytes(data)
    fs = type(fs)(conn_id="tencentcloud_default", block_size=MiB, skip_instance_cache=True)
    fs.put(str(source), f"{bucket}/up/local.bin")
    assert fs.info(f"{bucket}/up/local.bin")["ETag"].endswith("-4")  # parallel parts
    fs.copy(f"{bucket}/up/local.bin", f"{bucket}/copy/local.bin")
    fs.get(f"{bucket}/copy/local.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{bucket}/up/missing.bin")
    with pytest.raises(FileNotFoundError):
        fs.open(f"{bucket}/up/missing.bin", "rb")


def test_asking_for_missing_paths_logs_no_warnings(fs, bucket, caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        assert not fs.exists(f"{bucket}/missing/key.json")  # the XCom backend asks before writing
        assert not fs.isdir(f"{bucket}/missing")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_copy_between_connections_streams_through_ranged_reads_and_parts(
    emulator, bucket, monkeypatch
):
    """Two connections are two stores: ObjectStoragePath.copy streams (as FileTransferOperator
    does) instead of copying server-side."""
    from airflow.sdk import ObjectStoragePath

    monkeypatch.setenv(
        "AIRFLOW_CONN_TENCENTCLOUD_OTHER", os.environ["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"]
    )
    data = os.urandom(9 * MiB + 5)  # more than one 8 MiB block
    source = ObjectStoragePath(f"cos://{bucket}/from/a.bin", conn_id="tencentcloud_default")
    source.write_bytes(data)
    target = ObjectStoragePath(f"cos://{bucket}/to/a.bin", conn_id="tencentcloud_other")
    assert not source.samestore(target)
    source.copy(target)
    assert target.read_bytes() == data
    assert target.fs.info(target.path)["ETag"].endswith("-2")  # written as parts, not copied
