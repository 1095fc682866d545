"""An fsspec filesystem for ``cos://bucket/key`` on :class:`~airflow_scf_snova.hooks.cos.COSHook`.

Paths are ``bucket/key`` (``cos://`` optional); the bucket is short (the connection's APPID is
appended) or full ``name-appid``, and names come back with the bucket as it was given. COS has
no directories: a "directory" is a key prefix ending at ``/``, and ``mkdir`` of anything but a
bucket does nothing.

- Reading is ranged: ``open(path, "rb")`` fetches blocks with HTTP ``Range`` requests, so seeks
  and partial reads of large objects transfer only what is read; ``cat_file`` with ``start`` and
  ``end`` sends one ranged GET.
- Writing is streamed: ``open(path, "wb")`` buffers one block (``block_size``, default 8 MiB),
  sends it as a part of a multipart upload when full, and completes the upload on ``close``; a
  file closed within its first block goes up with one PUT. Leaving a ``with`` block by an
  exception aborts the upload, so no partial object appears.
- ``ls``, ``info`` and ``find`` (and so ``glob``, ``walk`` and ``rm(recursive=True)``) list with
  the hook's page reader; ``find`` without ``maxdepth`` is one flat listing of the prefix.
- A missing object raises ``FileNotFoundError``; other failures raise the provider's
  :mod:`~airflow_scf_snova.exceptions` (secrets scrubbed).

Listings are not cached: every ``ls`` and ``info`` asks COS.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem
from upath.implementations.cloud import CloudPath

from airflow_scf_snova.exceptions import ResourceNotFoundError, TencentCloudApiError

if TYPE_CHECKING:
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.cos.streams import MultipartUpload
    from airflow_scf_snova.hooks.cos import COSHook

#: The connection used when none is named (``cos://bucket/key`` without ``conn_id``).
DEFAULT_CONN_ID = "tencentcloud_default"
MiB = 1024 * 1024
#: The block (and multipart part) size of files opened without ``block_size``.
DEFAULT_BLOCK_SIZE = 8 * MiB


class COSFileSystem(AbstractFileSystem):
    """fsspec filesystem over COS.

    :param conn_id: the ``tencentcloud`` connection (default ``tencentcloud_default``).
    :param region: overrides the connection's region.
    :param block_size: read block and write part size in bytes (1 MiB to 5 GiB for writes).
    :param hook: a ready :class:`COSHook` to use instead of building one from ``conn_id``.
    """

    protocol = ("cos",)
    root_marker = ""
    #: Entries per listing request (COS allows 1 to 1,000).
    page_size = 1000

    def __init__(
        self,
        conn_id: str | None = None,
        region: str | None = None,
        block_size: int | None = None,
        hook: COSHook | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id or (hook.tencentcloud_conn_id if hook else DEFAULT_CONN_ID)
        self.region = region
        self.blocksize = block_size or DEFAULT_BLOCK_SIZE
        if hook is not None:
            self.__dict__["hook"] = hook

    @cached_property
    def hook(self) -> COSHook:
        """The hook every request goes through (built on first use)."""
        from airflow_scf_snova.hooks.cos import COSHook

        return COSHook(tencentcloud_conn_id=self.conn_id, region=self.region)

    @property
    def fsid(self) -> str:
        return f"cos-{self.conn_id}-{self.region or ''}"

    # -- names -------------------------------------------------------------------------------------
    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("cos://"):
            path = path[len("cos://") :]
            # ``cos://conn_id@bucket/key`` (how ObjectStoragePath prints a path with a
            # connection): bucket names have no "@".
            head, at, _ = path.partition("/")[0].rpartition("@")
            if at:
                path = path[len(head) + 1 :]
        return path.rstrip("/")

    def split_path(self, path: str) -> tuple[str, str]:
        """``cos://bucket/a/b`` -> ``("bucket", "a/b")``; the key is empty for the bucket."""
        bucket, _, key = self._strip_protocol(path).partition("/")
        return bucket, key

    @staticmethod
    def _file_info(bucket: str, obj: COSObject, key: str | None = None) -> dict[str, Any]:
        return {
            "name": f"{bucket}/{key or obj.key}",
            "size": obj.size,
            "type": "file",
            "ETag": obj.etag,
            "LastModified": obj.last_modified,
            "mtime": obj.last_modified.timestamp(),
        }

    @staticmethod
    def _dir_info(name: str) -> dict[str, Any]:
        return {"name": name, "size": 0, "type": "directory"}

    # -- listing -----------------------------------------------------------------------------------
    def _level(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        """The entries right under ``prefix`` (which is empty or ends with ``/``), page by page."""
        from scf_snova_core.objects import COSObject

        full = self.hook.full_bucket_name(bucket)
        marker = ""
        while True:
            with self.hook._translate("list objects", full, prefix or None):
                page = self.hook._list_page(full, prefix, marker, self.page_size, delimiter="/")
            for entry in page["Contents"]:
                if entry["Key"] != prefix:  # the "directory marker" object of the prefix itself
                    yield self._file_info(bucket, COSObject.from_listing(full, entry))
            for common in page["CommonPrefixes"]:
                yield self._dir_info(f"{bucket}/{common.rstrip('/')}")
            if str(page.get("IsTruncated") or "false").lower() != "true":
                return
            last = [entry["Key"] for entry in page["Contents"][-1:]] + page["CommonPrefixes"][-1:]
            next_marker = page.get("NextMarker") or max(last, default="")
            if not next_marker or next_marker == marker:
                raise TencentCloudApiError(
                    "InvalidListing",
                    f"list objects {full}/{prefix}: truncated page without a usable NextMarker",
                )
            marker = next_marker

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        bucket, key = self.split_path(path)
        with self._not_found(path):  # no such bucket
            entries = sorted(self._level(bucket, f"{key}/" if key else ""), key=lambda e: e["name"])
        if not entries and key:
            info = self.info(path)  # a missing path raises
            return [] if info["type"] == "directory" else [info if detail else info["name"]]
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        bucket, key = self.split_path(path)
        if not key:
            if self.hook.bucket_exists(bucket):
                return self._dir_info(bucket)
            raise FileNotFoundError(path)
        # Listings, not HEAD: the key itself is the first key with its own prefix, and a missing
        # object is no error (the SDK logs a warning for every HEAD answered 404).
        with self._not_found(path):
            first = next(self.hook.iter_objects(bucket, prefix=key, page_size=1), None)
            if first is not None and first.key == key:
                return self._file_info(bucket, first, key)
            below = next(self.hook.iter_objects(bucket, prefix=f"{key}/", page_size=1), None)
        if below is not None:
            return self._dir_info(f"{bucket}/{key}")
        raise FileNotFoundError(path)

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        bucket, key = self.split_path(path)
        found: dict[str, dict[str, Any]] = {}
        with self._not_found(path):  # no such bucket
            prefix = f"{key}/" if key else ""
            objects = list(self.hook.iter_objects(bucket, prefix=prefix, page_size=self.page_size))
        for obj in objects:
            parts = obj.key.rstrip("/").split("/")
            if withdirs:
                for depth in range(len(key.split("/")) if key else 0, len(parts) - 1):
                    name = f"{bucket}/{'/'.join(parts[: depth + 1])}"
                    found.setdefault(name, self._dir_info(name))
            if obj.key.endswith("/"):  # a directory marker
                if withdirs and len(obj.key) > len(key) + 1:
                    found.setdefault(
                        f"{bucket}/{obj.key[:-1]}", self._dir_info(f"{bucket}/{obj.key[:-1]}")
                    )
            else:
                info = self._file_info(bucket, obj)
                found[info["name"]] = info
        if key and not found:
            try:
                info = self.info(path)
            except FileNotFoundError:
                info = {}
            if info.get("type") == "file":
                found[info["name"]] = info
        elif withdirs and key:
            found[f"{bucket}/{key}"] = self._dir_info(f"{bucket}/{key}")
        names = sorted(found)
        return {name: found[name] for name in names} if detail else names

    # -- whole objects -----------------------------------------------------------------------------
    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        bucket, key = self.split_path(path)
        if start is None and end is None:
            with self._not_found(path):
                return self.hook.read_object(bucket, key)
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = self.info(path)["size"]
            start = start + size if start is not None and start < 0 else start
            end = end + size if end is not None and end < 0 else end
        first = max(start or 0, 0)
        if end is not None and end <= first:
            return b""
        last = (end - 1) if end is not None else 2**62
        with self._not_found(path), self.hook.open_object(bucket, key, (first, last)) as stream:
            return stream.read()

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        bucket, key = self.split_path(path)
        self.hook.put_object(bucket, key, value)

    def put_file(self, lpath: str, rpath: str, callback: Any = None, **kwargs: Any) -> None:
        import os

        if os.path.isdir(lpath):
            return  # prefixes need no object
        bucket, key = self.split_path(rpath)
        self.hook.upload_file(bucket, key, lpath, part_size_mb=max(1, self.blocksize // MiB))

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        import os

        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        bucket, key = self.split_path(rpath)
        with self._not_found(rpath):
            self.hook.download_file(bucket, key, lpath)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        source_bucket, source_key = self.split_path(path1)
        dest_bucket, dest_key = self.split_path(path2)
        if not source_key:
            raise IsADirectoryError(path1)
        with self._not_found(path1):
            self.hook.copy_object(source_bucket, source_key, dest_bucket, dest_key)

    def rm_file(self, path: str) -> None:
        bucket, key = self.split_path(path)
        self.hook.delete_objects(bucket, [key])

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files (and, with ``recursive``, everything under directories), in batches of
        1,000 keys per bucket."""
        keys: dict[str, list[str]] = defaultdict(list)
        for name in self.expand_path(path, recursive=recursive, maxdepth=maxdepth):
            bucket, key = self.split_path(name)
            if key:
                keys[bucket] += [key, f"{key}/"] if recursive else [key]
        for bucket, batch in keys.items():
            self.hook.delete_objects(bucket, batch)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        bucket, key = self.split_path(path)
        if not key:
            self.hook.create_bucket(bucket)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self.mkdir(path)

    def rmdir(self, path: str) -> None:
        """Nothing to do: a prefix disappears with its last object."""

    def modified(self, path: str) -> Any:
        info = self.info(path)
        if "LastModified" not in info:
            raise IsADirectoryError(path)
        return info["LastModified"]

    def ukey(self, path: str) -> str:
        return self.info(path).get("ETag") or super().ukey(path)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> COSFile:
        if block_size in (None, "default"):
            block_size = self.blocksize
        return COSFile(self, path, mode, block_size, autocommit, cache_options, **kwargs)

    @staticmethod
    def _not_found(path: str):
        """Turn :class:`ResourceNotFoundError` into ``FileNotFoundError`` (fsspec's contract)."""
        return _NotFound(path)


class _NotFound:
    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if isinstance(error, ResourceNotFoundError):
            raise FileNotFoundError(self.path) from error


class COSFile(AbstractBufferedFile):
    """An open COS object: ranged reads, or a streamed (multipart) write."""

    fs: COSFileSystem

    def __init__(
        self,
        fs: COSFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int = DEFAULT_BLOCK_SIZE,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if mode not in ("rb", "wb"):
            raise ValueError(f"COS objects open as 'rb' or 'wb', not {mode!r}")
        if not autocommit:
            raise NotImplementedError("COS files commit when closed (autocommit=False)")
        self.bucket, self.key = fs.split_path(path)
        if not self.key:
            raise IsADirectoryError(path)
        self.upload: MultipartUpload | None = None
        if mode == "rb":
            with fs._not_found(path):
                kwargs.setdefault("size", fs.info(path)["size"])
        else:
            from airflow_scf_snova.cos.streams import check_part_size

            check_part_size(block_size)
        super().__init__(
            fs, path, mode, block_size, autocommit, cache_options=cache_options, **kwargs
        )

    def _fetch_range(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        with self.fs._not_found(self.path):
            with self.fs.hook.open_object(self.bucket, self.key, (start, end - 1)) as stream:
                return stream.read()

    def _initiate_upload(self) -> None:
        if not self.forced:  # more than one block: stream it as parts
            self.upload = self.fs.hook.start_multipart(self.bucket, self.key)

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getvalue()
        if self.upload is None:
            self.fs.hook.put_object(self.bucket, self.key, data)
            return True
        try:
            if data:
                self.upload.part(len(self.upload.parts) + 1, data)
            if final:
                self.upload.complete()
        except BaseException:
            self.discard()
            raise
        return True

    def discard(self) -> None:
        """Abort the multipart upload, if one was started: no object appears."""
        if self.upload is not None:
            upload, self.upload = self.upload, None
            upload.abort()
        self.buffer = io.BytesIO()

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if error is not None and self.writable() and not self.closed:
            self.discard()
            self.closed = True
            return
        self.close()


class COSPath(CloudPath):
    """The ``universal_pathlib`` path class for ``cos://`` (Airflow's ``ObjectStoragePath``
    wraps one)."""

    __slots__ = ()


def _register() -> None:
    """Make ``cos`` parse like ``s3`` before the first ``cos://`` path is split.

    ``universal_pathlib`` loads :class:`COSPath` (entry point ``universal_pathlib.implementations``)
    before it parses a path, and takes the path's syntax from the fsspec class registered for the
    protocol and from its per-protocol settings: the bucket is the anchor (``parent`` stops at
    ``cos://bucket/``, ``name`` is the last key segment) and keys may hold empty segments.
    Without this, ``cos://bucket/a/b.txt`` would be split as a plain path.
    """
    from fsspec.registry import register_implementation, registry
    from upath._flavour import WrappedFileSystemFlavour

    if "cos" not in registry:
        register_implementation("cos", COSFileSystem)
    config = getattr(WrappedFileSystemFlavour, "protocol_config", {})
    for setting in ("netloc_is_anchor", "supports_empty_parts"):
        config.get(setting, set()).add("cos")
    WrappedFileSystemFlavour.from_protocol.cache_clear()


_register()
