"""Load COS objects into a Snova table exactly once, all-or-nothing per object, secret-safe.

.. seealso:: ``docs/snova.md`` (methods, modes, the ledger, least privileges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from scf_snova_core.names import split_table_name, validate_identifier

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError, invalid_input
from airflow_scf_snova.utils.load_format import LoadFormat, validate_reject_limit
from airflow_scf_snova.utils.mixins import TencentCloudHookMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_scf_snova.utils.snova_load import LoadObject, RowSource, ServerInfo

MODES = ("append", "replace", "upsert")
METHODS = ("auto", "copy", "external_table")
DEFAULT_LEDGER_TABLE = "airflow_scf_snova_load_ledger"


def _is_dynamic(value: Any) -> bool:
    """Whether ``value`` is only known at run time (a Jinja string or an XComArg)."""
    if value is None:
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, (list, tuple)):
        return any(_is_dynamic(item) for item in value)
    return not isinstance(value, dict)


def _validate_names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise InvalidInputError(f"{what} must be a non-empty list of names, got {value!r}")
    with invalid_input():
        names = [validate_identifier(item, what.rstrip("s")) for item in value]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(f"{what} name(s) {duplicates!r} appear more than once")
    return names


class COSToSnovaOperator(TencentCloudHookMixin, BaseOperator):
    """Load CSV or TEXT objects from COS into a Snova (or PostgreSQL) table.

    Each object version (bucket, key, ETag) is loaded at most once per table: a ledger table
    records it in the same transaction as its rows, and loads into one table serialise on an
    advisory lock, so retries and concurrent runs never duplicate rows. Returns (XCom) one dict
    per object: ``bucket``, ``key``, ``etag``, ``rows``, ``rejected``, ``status`` (``loaded`` or
    ``skipped``) and ``seconds``.

    :param table: the target table, ``table`` or ``schema.table``. (templated)
    :param bucket: the bucket (``name`` or ``name-appid``); needed unless every key is a
        ``cos://`` URL or an object dict with a bucket. (templated)
    :param keys: the objects: plain keys, ``cos://bucket/key`` URLs, or object dicts with
        ``bucket``/``key`` (the COS sensor's XCom). Exclusive with ``prefix``. (templated)
    :param prefix: load every object under this prefix, in key order. (templated)
    :param suffix: with ``prefix``: only keys ending with this. (templated)
    :param columns: the file's columns in order; default: all of the table's. (templated)
    :param format: ``csv`` or ``text``.
    :param delimiter: one character.
    :param header: whether each object starts with a header line.
    :param null_string: the string meaning NULL (server default when ``None``).
    :param quote: the CSV quote character (``"`` when ``None``).
    :param encoding: the objects' encoding.
    :param compression: ``None`` or ``gzip``.
    :param mode: ``append`` (add rows), ``replace`` (the table becomes exactly these objects,
        in one transaction) or ``upsert`` (replace rows whose ``upsert_keys`` match).
    :param upsert_keys: key columns for ``mode="upsert"``. (templated)
    :param method: ``copy`` (stream through the worker), ``external_table`` (Snova's segments
        read COS in parallel via ``cos_ext``) or ``auto`` (external_table on Greenplum).
    :param reject_limit: rows per object that may be rejected as malformed and skipped
        (counted and reported); ``None`` fails on the first bad row.
    :param ledger_table: the ledger, created on first use. (templated)
    :param snova_conn_id: the ``snova`` connection. (templated)
    :param tencentcloud_conn_id: the ``tencentcloud`` connection. (templated)
    :param region: overrides the connection's COS region. (templated)
    """

    template_fields: Sequence[str] = (
        "table",
        "bucket",
        "keys",
        "prefix",
        "suffix",
        "columns",
        "upsert_keys",
        "ledger_table",
        "snova_conn_id",
        "tencentcloud_conn_id",
        "region",
    )
    template_fields_renderers = {"keys": "json"}
    ui_color = "#c6e2ff"
    hook_class_path = "airflow_scf_snova.hooks.cos.COSHook"

    def __init__(
        self,
        *,
        table: str,
        bucket: str | None = None,
        keys: Any = None,
        prefix: str | None = None,
        suffix: str | None = None,
        columns: Sequence[str] | None = None,
        format: str = "csv",
        delimiter: str = ",",
        header: bool = False,
        null_string: str | None = None,
        quote: str | None = None,
        encoding: str = "UTF8",
        compression: str | None = None,
        mode: str = "append",
        upsert_keys: Sequence[str] | None = None,
        method: str = "auto",
        reject_limit: int | None = None,
        ledger_table: str = DEFAULT_LEDGER_TABLE,
        snova_conn_id: str = "snova_default",
        tencentcloud_conn_id: str = "tencentcloud_default",
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.bucket = bucket
        self.keys = keys
        self.prefix = prefix
        self.suffix = suffix
        self.columns = columns
        self.upsert_keys = upsert_keys
        self.ledger_table = ledger_table
        self.snova_conn_id = snova_conn_id
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region
        self.load_format = LoadFormat(
            format=format,
            delimiter=delimiter,
            header=header,
            null_string=null_string,
            quote=quote,
            encoding=encoding,
            compression=compression,
        )
        if mode not in MODES:
            raise InvalidInputError(f"mode must be one of {MODES}, got {mode!r}")
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
        self.mode = mode
        self.method = method
        self.reject_limit = validate_reject_limit(reject_limit)
        if keys is not None and prefix is not None:
            raise InvalidInputError("give either keys or prefix, not both")
        if keys is None and prefix is None:
            raise InvalidInputError("give keys (objects to load) or prefix (load a listing)")
        if suffix is not None and prefix is None:
            raise InvalidInputError("suffix filters a prefix listing: give prefix too")
        self._validate(static_only=True)

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, static_only: bool) -> None:
        """Validate the templated values: in ``__init__`` those that are already literal, at
        ``execute`` all of them (rendered)."""

        def ready(value: Any) -> bool:
            return not (static_only and _is_dynamic(value))

        with invalid_input():
            if ready(self.table):
                split_table_name(self.table)
            if ready(self.ledger_table):
                split_table_name(self.ledger_table)
        columns = _validate_names(self.columns, "columns") if ready(self.columns) else None
        if ready(self.upsert_keys):
            keys = _validate_names(self.upsert_keys, "upsert_keys")
            if self.mode == "upsert" and not keys:
                raise InvalidInputError("mode='upsert' needs upsert_keys")
            if keys and self.mode != "upsert":
                raise InvalidInputError("upsert_keys only apply to mode='upsert'")
            if keys and columns:
                missing = [k for k in keys if k not in columns]
                if missing:
                    raise InvalidInputError(f"upsert_keys {missing!r} are not in columns")
        for name in ("bucket", "prefix", "suffix", "snova_conn_id", "tencentcloud_conn_id"):
            value = getattr(self, name)
            if ready(value) and value is not None and not isinstance(value, str):
                raise InvalidInputError(f"{name} must be a string, got {value!r}")

    # -- objects -------------------------------------------------------------------------------
    def _resolve_objects(self) -> list[LoadObject]:
        """The object versions to load: listed under ``prefix``, or HEADed from ``keys`` (so the
        ETag is the one in COS now, not the one a sensor saw)."""
        from airflow_scf_snova.utils.snova_load import LoadObject

        cos = self.hook
        if self.prefix is not None:
            if not self.bucket:
                raise InvalidInputError("prefix needs bucket")
            return [
                LoadObject(o.bucket, o.key, o.etag, o.size)
                for o in cos.iter_objects(self.bucket, prefix=self.prefix, suffix=self.suffix)
                if not o.key.endswith("/")
            ]
        items = self.keys
        if isinstance(items, (str, dict)):
            items = [items]
        if not isinstance(items, (list, tuple)):
            raise InvalidInputError(f"keys must be a list, got {type(items).__name__}")
        seen: set[tuple[str, str]] = set()
        objects: list[LoadObject] = []
        for item in items:
            bucket, key, seen_etag = self._split_item(item)
            full = cos.full_bucket_name(bucket)
            if (full, key) in seen:
                continue
            seen.add((full, key))
            head = cos.head_object(full, key)
            obj = LoadObject(full, key, head.etag, head.size)
            if seen_etag and obj.etag != LoadObject(full, key, seen_etag).etag:
                self.log.info(
                    "cos://%s/%s changed since it was listed (etag %s -> %s): loading the "
                    "current version",
                    full,
                    key,
                    seen_etag,
                    head.etag,
                )
            objects.append(obj)
        return objects

    def _split_item(self, item: Any) -> tuple[str, str, str | None]:
        etag = None
        if isinstance(item, dict):
            if "key" not in item:
                raise InvalidInputError(f"object dict {item!r} has no 'key'")
            bucket, key, etag = item.get("bucket") or self.bucket, item["key"], item.get("etag")
        elif isinstance(item, str) and item[:6].lower() == "cos://":
            bucket, key = self.hook.parse_cos_url(item)
        elif isinstance(item, str):
            bucket, key = self.bucket, item
        else:
            raise InvalidInputError(f"cannot load {item!r}: give a key, cos:// URL or object dict")
        if not isinstance(key, str) or not key or key.endswith("/"):
            raise InvalidInputError(f"{item!r} does not name an object")
        if not bucket:
            raise InvalidInputError(f"{item!r} names no bucket: pass bucket=")
        return bucket, key, etag

    # -- method and source (overridden by tests as a documented seam) --------------------------
    def _server_is_greenplum(self, snova) -> bool:
        return snova.is_greenplum()

    def _resolve_method(self, greenplum: bool) -> str:
        if self.method == "auto":
            return "external_table" if greenplum else "copy"
        if self.method == "external_table" and not greenplum:
            raise SnovaError(
                "method='external_table' needs Snova (Greenplum with the cos_ext extension); "
                "this server is plain PostgreSQL. Use method='copy' or 'auto'."
            )
        return self.method

    def _make_source(self, method: str, server: ServerInfo) -> RowSource:
        from airflow_scf_snova.utils.snova_load import CopySource, ExternalTableSource

        cls = ExternalTableSource if method == "external_table" else CopySource
        return cls(self.hook, self.load_format, server, reject_limit=self.reject_limit)

    # -- run -----------------------------------------------------------------------------------
    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_scf_snova.hooks.snova import SnovaHook
        from airflow_scf_snova.utils.snova_load import (
            MIN_SERVER_VERSION,
            LoadSpec,
            ServerInfo,
            SnovaLoader,
        )

        self._validate(static_only=False)
        objects = self._resolve_objects()
        if not objects:
            self.log.info("No objects to load into %s", self.table)
            if self.mode != "replace":
                return []
        snova = SnovaHook(snova_conn_id=self.snova_conn_id)
        ti = context.get("ti")
        spec = LoadSpec(
            table=self.table,
            fmt=self.load_format,
            mode=self.mode,
            columns=self.columns,
            upsert_keys=self.upsert_keys,
            reject_limit=self.reject_limit,
            ledger_table=self.ledger_table,
            dag_id=getattr(ti, "dag_id", None),
            run_id=context.get("run_id") or getattr(ti, "run_id", None),
            task_id=self.task_id,
        )
        conn = snova.get_psycopg2_conn()
        try:
            # The Greenplum check reads version() on the load's own connection: one connection
            # per task, not two.
            snova.read_server_version(conn)
            greenplum = self._server_is_greenplum(snova)
            method = self._resolve_method(greenplum)
            server = ServerInfo(conn.server_version, greenplum)
            if server.version_num < MIN_SERVER_VERSION:
                raise SnovaError(
                    f"server_version_num {server.version_num} is too old: loads need Greenplum 6 "
                    "(PostgreSQL 9.4) or later"
                )
            self.log.info(
                "Loading %d object(s) into %s: mode=%s, method=%s",
                len(objects),
                self.table,
                self.mode,
                method,
            )
            loader = SnovaLoader(
                conn,
                self._make_source(method, server),
                spec,
                head_object=self.hook.head_object,
                logger=self.log,
            )
            results = loader.run(objects)
        finally:
            conn.close()
        loaded = [r for r in results if r.status == "loaded"]
        self.log.info(
            "%d object(s) loaded (%d rows, %d rejected), %d skipped as already loaded",
            len(loaded),
            sum(r.rows for r in loaded),
            sum(r.rejected for r in loaded),
            len(results) - len(loaded),
        )
        return [r.to_dict() for r in results]
