"""Load COS objects into a Snova table exactly once, all-or-nothing per object, secret-safe.

.. seealso:: ``docs/snova.md`` (methods, modes, the ledger, least privileges).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE
from scf_snova_core.loads import METHODS, MODES

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.operators.base import is_templated, tencentcloud_template_fields
from airflow_scf_snova.snova.spec import (
    DEFAULT_BATCH_SIZE,
    LoadSpec,
    check_choice,
    check_names,
    check_positive,
    check_reject_limit,
    check_table,
    check_upsert_keys,
    load_format,
)
from airflow_scf_snova.transfers.base import COSSnovaTransferOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class COSToSnovaOperator(COSSnovaTransferOperator):
    """Load CSV or TEXT objects from COS into a Snova (or PostgreSQL) table.

    Each object version (bucket, key, ETag) is loaded at most once per table: a ledger table
    records it in the same transaction as its rows, and loads into one table serialise on an
    advisory lock, so retries and concurrent runs never duplicate rows. Returns (XCom) one dict
    per object: the object (``bucket``, ``key``, ``size``, ``etag``, ``last_modified``) plus
    ``rows``, ``rejected``, ``status`` (``loaded`` or ``skipped``) and ``seconds``.

    The work is done by
    :meth:`SnovaHook.load_objects <airflow_scf_snova.hooks.snova.SnovaHook.load_objects>`; this
    operator maps its arguments. Two hooks: :attr:`cos_hook` reads the objects,
    :attr:`snova_hook` loads them.

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
    :param batch_size: ``append`` mode with the ``copy`` method: at most this many objects
        commit in one transaction (and at most 16 MiB of them); a failing object still fails
        alone, naming itself, with the objects before it committed. ``1``: one transaction
        per object.
    :param snova_conn_id: the ``snova`` connection. (templated)
    :param tencentcloud_conn_id: the ``tencentcloud`` connection. (templated)
    :param region: overrides the connection's COS region. (templated)
    """

    template_fields: Sequence[str] = tencentcloud_template_fields(
        "table",
        "bucket",
        "keys",
        "prefix",
        "suffix",
        "columns",
        "upsert_keys",
        "ledger_table",
        "snova_conn_id",
    )
    template_fields_renderers = {"keys": "json"}

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
        batch_size: int = DEFAULT_BATCH_SIZE,
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
        self.load_format = load_format(
            format=format,
            delimiter=delimiter,
            header=header,
            null_string=null_string,
            quote=quote,
            encoding=encoding,
            compression=compression,
        )
        self.mode = check_choice(mode, MODES, "mode")
        self.method = check_choice(method, METHODS, "method")
        self.reject_limit = check_reject_limit(reject_limit)
        self.batch_size = check_positive(batch_size, "batch_size")
        if keys is not None and prefix is not None:
            raise InvalidInputError("give either keys or prefix, not both")
        if keys is None and prefix is None:
            raise InvalidInputError("give keys (objects to load) or prefix (load a listing)")
        if suffix is not None and prefix is None:
            raise InvalidInputError("suffix filters a prefix listing: give prefix too")
        self._check_literals()

    def _check_literals(self) -> None:
        """Check now what is already known; templated values are checked once rendered, when
        :meth:`execute` builds the :class:`~airflow_scf_snova.snova.spec.LoadSpec`."""
        for name in ("table", "ledger_table"):
            if not is_templated(getattr(self, name)):
                check_table(getattr(self, name))
        columns = None if is_templated(self.columns) else check_names(self.columns, "columns")
        if not is_templated(self.upsert_keys):
            check_upsert_keys(self.mode, check_names(self.upsert_keys, "upsert_keys"), columns)
        for name in ("bucket", "prefix", "suffix", "snova_conn_id", "tencentcloud_conn_id"):
            value = getattr(self, name)
            if not is_templated(value) and value is not None and not isinstance(value, str):
                raise InvalidInputError(f"{name} must be a string, got {value!r}")

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_scf_snova.snova.objects import resolve_objects

        ti = context.get("ti")
        spec = LoadSpec(
            table=self.table,
            fmt=self.load_format,
            mode=self.mode,
            method=self.method,
            columns=self.columns,
            upsert_keys=self.upsert_keys,
            reject_limit=self.reject_limit,
            ledger_table=self.ledger_table,
            dag_id=getattr(ti, "dag_id", None),
            run_id=context.get("run_id") or getattr(ti, "run_id", None),
            task_id=self.task_id,
            batch_size=self.batch_size,
        )
        objects = resolve_objects(
            self.cos_hook,
            bucket=self.bucket,
            keys=self.keys,
            prefix=self.prefix,
            suffix=self.suffix,
            logger=self.log,
        )
        results = self.snova_hook.load_objects(objects, spec, self.cos_hook, logger=self.log)
        self._load_results = results
        return [result.to_dict() for result in results]

    def get_openlineage_facets_on_start(self) -> Any:
        """The objects (or prefix) to read and the table to write (OpenLineage;
        ``docs/lineage.md``)."""
        from airflow_scf_snova.lineage.snova import cos_to_snova_lineage

        return cos_to_snova_lineage(self, None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What the load read and wrote, with the rows loaded and rejected (OpenLineage;
        ``docs/lineage.md``)."""
        from airflow_scf_snova.lineage.snova import cos_to_snova_lineage

        return cos_to_snova_lineage(self, getattr(self, "_load_results", None))
