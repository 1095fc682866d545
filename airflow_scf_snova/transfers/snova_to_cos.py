"""Export a Snova query to one COS object, streamed in constant memory.

.. seealso:: ``docs/snova.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_scf_snova.operators.base import tencentcloud_template_fields
from airflow_scf_snova.snova.spec import (
    DEFAULT_PART_SIZE,
    ExportSpec,
    check_export_options,
    load_format,
)
from airflow_scf_snova.transfers.base import COSSnovaTransferOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class SnovaToCOSOperator(COSSnovaTransferOperator):
    """Write the result of a query to COS as CSV or TEXT, optionally gzipped.

    ``method="copy"`` (the default) runs ``COPY (query) TO STDOUT`` in a read-only transaction
    and streams the rows, through a bounded in-memory pipe, into a multipart upload running on
    another thread: memory stays constant whatever the result size, and if either side fails the
    upload is aborted, so no partial object appears. Returns (XCom) ``bucket``, ``key``, ``etag``,
    ``rows`` and ``bytes``.

    ``method="external_table"`` (Snova only; not runnable on plain PostgreSQL) has the segments
    write in parallel through a ``cos_ext`` writable external table: ``key`` is then an output
    **prefix** under which each segment writes its own file (names chosen by Snova), there is no
    header line, and the DDL is logged with its secrets redacted.

    The work is done by
    :meth:`SnovaHook.export_query <airflow_scf_snova.hooks.snova.SnovaHook.export_query>`; this
    operator maps its arguments. Two hooks: :attr:`snova_hook` runs the query, :attr:`cos_hook`
    uploads.

    :param sql: the query (a SELECT, or a ``.sql`` file). (templated)
    :param bucket: the bucket, ``name`` or ``name-appid``. (templated)
    :param key: the object key (the output prefix with ``method="external_table"``). (templated)
    :param format: ``csv`` or ``text``.
    :param header: write a header line (``copy`` only).
    :param compression: ``None`` or ``gzip`` (compressed on the fly).
    :param delimiter: one character; default ``,`` for CSV and tab for TEXT.
    :param null_string: how NULL is written (server default when ``None``).
    :param quote: the CSV quote character.
    :param encoding: the output encoding.
    :param method: ``copy`` or ``external_table``.
    :param part_size: bytes per multipart part (1 MiB to 5 GiB; 10,000 parts at most).
    :param snova_conn_id: the ``snova`` connection. (templated)
    :param tencentcloud_conn_id: the ``tencentcloud`` connection. (templated)
    :param region: overrides the connection's COS region. (templated)
    """

    template_fields: Sequence[str] = tencentcloud_template_fields(
        "sql", "bucket", "key", "snova_conn_id"
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}

    def __init__(
        self,
        *,
        sql: str,
        bucket: str,
        key: str,
        format: str = "csv",
        header: bool = True,
        compression: str | None = None,
        delimiter: str | None = None,
        null_string: str | None = None,
        quote: str | None = None,
        encoding: str = "UTF8",
        method: str = "copy",
        part_size: int = DEFAULT_PART_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.bucket = bucket
        self.key = key
        self.method = method
        self.part_size = part_size
        self.export_format = load_format(
            format=format,
            delimiter=delimiter if delimiter is not None else ("," if format == "csv" else "\t"),
            header=header,
            null_string=null_string,
            quote=quote,
            encoding=encoding,
            compression=compression,
        )
        check_export_options(method, self.export_format)

    def execute(self, context: Context) -> dict[str, Any]:
        spec = ExportSpec(
            sql=self.sql,
            bucket=self.bucket,
            key=self.key,
            fmt=self.export_format,
            method=self.method,
            part_size=self.part_size,
        )
        self._export_result = self.snova_hook.export_query(spec, self.cos_hook, logger=self.log)
        return self._export_result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The tables the query reads, the object written (OpenLineage; ``docs/lineage.md``)."""
        from airflow_scf_snova.lineage.snova import snova_to_cos_lineage

        return snova_to_cos_lineage(self, getattr(self, "_export_result", None))
