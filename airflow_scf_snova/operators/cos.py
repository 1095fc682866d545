"""Operators for COS objects: create, list, copy, delete.

Buckets are ``name`` (the connection's appid is appended) or ``name-appid``. Every operator is a
:class:`COSBaseOperator`: the connection and region are templated like its other fields, and the
:class:`~airflow_scf_snova.hooks.cos.COSHook` is built on first use (no SDK at import time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from airflow_scf_snova.cos.filters import is_blank
from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.cos import COSHook
from airflow_scf_snova.operators.base import TencentCloudBaseOperator, tencentcloud_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The colour of every COS task in the UI.
COS_UI_COLOR = "#e3f2fd"


class COSBaseOperator(TencentCloudBaseOperator[COSHook]):
    """The base of the COS operators: a :class:`~airflow_scf_snova.hooks.cos.COSHook` built on
    first use from ``tencentcloud_conn_id`` and ``region``.

    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    hook_class = COSHook
    ui_color = COS_UI_COLOR


class COSCreateObjectOperator(COSBaseOperator):
    """Upload ``data`` (bytes, or a string sent as UTF-8) or a local ``filename`` to a key.

    Files larger than ``part_size_mb`` go up as a multipart upload. Returns the ETag.

    :param bucket: the bucket.
    :param key: the object key.
    :param data: the content (templated when a string); excludes ``filename``.
    :param filename: a local file to upload (templated); excludes ``data``.
    :param content_type: the object's ``Content-Type``.
    :param replace: overwrite an existing object (otherwise fail if it exists).
    :param part_size_mb: multipart threshold and part size for files, in MiB.
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = tencentcloud_template_fields(
        "bucket", "key", "data", "filename", "content_type"
    )

    def __init__(
        self,
        *,
        bucket: str,
        key: str,
        data: str | bytes | None = None,
        filename: str | None = None,
        content_type: str | None = None,
        replace: bool = True,
        part_size_mb: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (data is None) == (filename is None):
            raise InvalidInputError("pass exactly one of data and filename")
        self.bucket = bucket
        self.key = key
        self.data = data
        self.filename = filename
        self.content_type = content_type
        self.replace = replace
        self.part_size_mb = part_size_mb

    def execute(self, context: Context) -> str:
        hook = self.hook
        if not self.replace and hook.object_exists(self.bucket, self.key):
            raise AirflowException(f"cos://{self.bucket}/{self.key} exists and replace=False")
        if self.filename is not None:
            etag = hook.upload_file(
                self.bucket,
                self.key,
                self.filename,
                part_size_mb=self.part_size_mb,
                content_type=self.content_type,
            )
        else:
            etag = hook.put_object(self.bucket, self.key, self.data, content_type=self.content_type)
        self.log.info("Uploaded cos://%s/%s (ETag %s)", self.bucket, self.key, etag)
        return etag

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The object written and the local file read (OpenLineage; ``docs/lineage.md``)."""
        import os

        from airflow_scf_snova.lineage.cos import create_object_lineage

        if self.filename is not None:
            size = os.path.getsize(self.filename) if os.path.exists(self.filename) else None
        else:
            data = self.data
            size = len(data.encode("utf-8") if isinstance(data, str) else data or b"")
        return create_object_lineage(self, size)


class COSListObjectsOperator(COSBaseOperator):
    """List keys (in key order) matching the filters; returns them (mind XCom size: use
    ``max_keys``). Filters as in :mod:`airflow_scf_snova.cos.filters`.

    :param bucket: the bucket.
    :param prefix: keys start with this.
    :param suffix: keys end with this.
    :param glob: path-aware glob on the whole key (``*`` stays within one ``/`` segment).
    :param regex: regular expression the whole key must match.
    :param modified_after: only objects modified at or after this instant (ISO string or
        datetime; templated).
    :param max_keys: return at most this many keys (``None``: all).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = tencentcloud_template_fields(
        "bucket", "prefix", "suffix", "glob", "regex", "modified_after"
    )

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        suffix: str | None = None,
        glob: str | None = None,
        regex: str | None = None,
        modified_after: datetime | str | None = None,
        max_keys: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.prefix = prefix
        self.suffix = suffix
        self.glob = glob
        self.regex = regex
        self.modified_after = modified_after
        self.max_keys = max_keys

    def execute(self, context: Context) -> list[str]:
        modified_after = None if is_blank(self.modified_after) else self.modified_after
        keys: list[str] = []
        for obj in self.hook.iter_objects(
            self.bucket,
            prefix=self.prefix or "",
            suffix=self.suffix or None,
            glob=self.glob or None,
            regex=self.regex or None,
            modified_after=modified_after,
        ):
            if self.max_keys is not None and len(keys) >= self.max_keys:
                break
            keys.append(obj.key)
        self.log.info("Listed %d key(s) in %s", len(keys), self.bucket)
        return keys


class COSCopyObjectOperator(COSBaseOperator):
    """Copy an object server-side (up to 5 GB); returns the new ETag.

    :param source_bucket: the source bucket.
    :param source_key: the source key.
    :param dest_key: the destination key.
    :param dest_bucket: the destination bucket (default: the source bucket).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region (both buckets are in it).
    """

    template_fields: Sequence[str] = tencentcloud_template_fields(
        "source_bucket", "source_key", "dest_bucket", "dest_key"
    )

    def __init__(
        self,
        *,
        source_bucket: str,
        source_key: str,
        dest_key: str,
        dest_bucket: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_bucket = source_bucket
        self.source_key = source_key
        self.dest_bucket = dest_bucket
        self.dest_key = dest_key

    def execute(self, context: Context) -> str:
        dest_bucket = self.dest_bucket or self.source_bucket
        etag = self.hook.copy_object(
            self.source_bucket, self.source_key, dest_bucket, self.dest_key
        )
        self.log.info(
            "Copied cos://%s/%s to cos://%s/%s",
            self.source_bucket,
            self.source_key,
            dest_bucket,
            self.dest_key,
        )
        return etag

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The source object in, the copy out (OpenLineage; ``docs/lineage.md``)."""
        from airflow_scf_snova.lineage.cos import copy_object_lineage

        return copy_object_lineage(self)


class COSDeleteObjectsOperator(COSBaseOperator):
    """Delete the given ``keys``, or every object under a non-empty ``prefix`` (listed and deleted
    in batches of 1,000, in constant memory). Missing keys count as deleted, as in COS. Returns
    the number of keys deleted.

    :param bucket: the bucket.
    :param keys: one key or a list of keys; excludes ``prefix``.
    :param prefix: delete everything under it; must not be empty (no accidental bucket wipes).
    :param tencentcloud_conn_id: the ``tencentcloud`` connection.
    :param region: overrides the connection's region.
    """

    template_fields: Sequence[str] = tencentcloud_template_fields("bucket", "keys", "prefix")

    def __init__(
        self,
        *,
        bucket: str,
        keys: str | list[str] | None = None,
        prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (keys is None) == (prefix is None):
            raise InvalidInputError("pass exactly one of keys and prefix")
        self.bucket = bucket
        self.keys = keys
        self.prefix = prefix

    def execute(self, context: Context) -> int:
        if self.prefix is not None:
            if not self.prefix:
                raise InvalidInputError("prefix must not be empty; pass keys to delete objects")
            keys: Any = (obj.key for obj in self.hook.iter_objects(self.bucket, prefix=self.prefix))
        else:
            keys = [self.keys] if isinstance(self.keys, str) else list(self.keys or [])
        deleted = self.hook.delete_objects(self.bucket, keys)
        self.log.info("Deleted %d object(s) from %s", len(deleted), self.bucket)
        return len(deleted)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The objects (or prefix) deleted, each with a ``DROP`` lifecycle change (OpenLineage;
        ``docs/lineage.md``)."""
        from airflow_scf_snova.lineage.cos import delete_objects_lineage

        return delete_objects_lineage(self)
