"""Export a Snova query to one COS object, streamed in constant memory.

.. seealso:: ``docs/snova.md``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError
from airflow_scf_snova.utils.load_format import LoadFormat
from airflow_scf_snova.utils.mixins import TencentCloudHookMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

METHODS = ("copy", "external_table")
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: How long to wait for the upload thread once the query side has finished or failed.
UPLOAD_JOIN_TIMEOUT = 600


class SnovaToCOSOperator(TencentCloudHookMixin, BaseOperator):
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

    template_fields: Sequence[str] = (
        "sql",
        "bucket",
        "key",
        "snova_conn_id",
        "tencentcloud_conn_id",
        "region",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}
    ui_color = "#c6e2ff"
    hook_class_path = "airflow_scf_snova.hooks.cos.COSHook"

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
        snova_conn_id: str = "snova_default",
        tencentcloud_conn_id: str = "tencentcloud_default",
        region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.bucket = bucket
        self.key = key
        self.snova_conn_id = snova_conn_id
        self.tencentcloud_conn_id = tencentcloud_conn_id
        self.region = region
        if method not in METHODS:
            raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.part_size = part_size
        self.export_format = LoadFormat(
            format=format,
            delimiter=delimiter if delimiter is not None else ("," if format == "csv" else "\t"),
            header=header,
            null_string=null_string,
            quote=quote,
            encoding=encoding,
            compression=compression,
        )
        if method == "external_table":
            if header:
                raise InvalidInputError(
                    "method='external_table' cannot write a header line: pass header=False"
                )

    def _query(self) -> str:
        if not isinstance(self.sql, str) or not self.sql.strip().rstrip(";").strip():
            raise InvalidInputError("sql must be a non-empty query")
        if not isinstance(self.key, str) or not self.key:
            raise InvalidInputError(f"key must be a non-empty string, got {self.key!r}")
        if self.method == "copy" and self.key.endswith("/"):
            raise InvalidInputError(f"key {self.key!r} does not name an object")
        return self.sql.strip().rstrip(";").strip()

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_scf_snova.hooks.snova import SnovaHook

        query = self._query()
        snova = SnovaHook(snova_conn_id=self.snova_conn_id)
        if self.method == "external_table":
            if not snova.is_greenplum():
                raise SnovaError(
                    "method='external_table' needs Snova (Greenplum with cos_ext); this server is "
                    "plain PostgreSQL. Use method='copy'."
                )
            return self._export_external(snova, query)
        return self._export_copy(snova, query)

    # -- COPY TO STDOUT -> multipart upload ----------------------------------------------------
    def _export_copy(self, snova, query: str) -> dict[str, Any]:
        import gzip

        from psycopg2 import sql

        from airflow_scf_snova.utils.csv_stream import StreamPipe

        cos = self.hook
        bucket = cos.full_bucket_name(self.bucket)
        fmt = self.export_format
        statement = sql.SQL("COPY ({}) TO STDOUT WITH {}").format(
            sql.SQL(query), fmt.copy_options()
        )
        pipe = StreamPipe()
        outcome: dict[str, Any] = {}

        def upload() -> None:
            try:
                outcome["etag"] = cos.upload_fileobj(
                    bucket,
                    self.key,
                    pipe,
                    part_size=self.part_size,
                    content_type="application/gzip" if fmt.compression else "text/csv",
                )
            except BaseException as err:
                outcome["error"] = err
                pipe.reader_abort(err)

        uploader = threading.Thread(target=upload, name=f"{self.task_id}-upload", daemon=True)
        conn = snova.get_psycopg2_conn()
        try:
            conn.set_session(readonly=True, autocommit=False)
            uploader.start()
            sink = gzip.GzipFile(fileobj=pipe, mode="wb", mtime=0) if fmt.compression else pipe
            with conn.cursor() as cur:
                self.log.info("Exporting to cos://%s/%s: %s", bucket, self.key, query)
                cur.copy_expert(statement, sink)
                rows = cur.rowcount
            if sink is not pipe:
                sink.close()
            pipe.close()
            conn.rollback()  # read-only; nothing to commit
        except BaseException as err:
            # Decided before aborting: the upload side fails too once the pipe is aborted.
            upload_failed_first = pipe.reader_failed
            pipe.abort(err)
            uploader.join(UPLOAD_JOIN_TIMEOUT)
            upload_error = outcome.get("error")
            if upload_error is not None and upload_failed_first:
                raise SnovaError(
                    f"upload to cos://{bucket}/{self.key} failed: {upload_error}"
                ) from upload_error
            raise SnovaError(f"export query failed: {_reason(err)}") from err
        finally:
            conn.close()
        uploader.join(UPLOAD_JOIN_TIMEOUT)
        if uploader.is_alive():
            raise SnovaError(f"upload to cos://{bucket}/{self.key} did not finish")
        if "error" in outcome:
            raise SnovaError(
                f"upload to cos://{bucket}/{self.key} failed: {outcome['error']}"
            ) from outcome["error"]
        result = {
            "bucket": bucket,
            "key": self.key,
            "etag": outcome["etag"],
            "rows": rows,
            "bytes": pipe.bytes_written,
        }
        self.log.info(
            "Exported %d row(s), %d byte(s) to cos://%s/%s",
            rows,
            pipe.bytes_written,
            bucket,
            self.key,
        )
        return result

    # -- Greenplum writable external table -----------------------------------------------------
    def writable_ddl(self, cur: Any, query: str, bucket: str, name: str):
        """The writable external table for ``query``: columns and types from the query's result
        description (``format_type`` of each column's type; modifiers are not kept)."""
        from psycopg2 import sql
        from scf_snova_core.names import validate_identifier

        from airflow_scf_snova.exceptions import invalid_input
        from airflow_scf_snova.utils.external_table import CosExtLocation, ExternalTableDDL

        cur.execute(sql.SQL("SELECT * FROM ({}) AS q LIMIT 0").format(sql.SQL(query)))
        columns = []
        for column in cur.description:
            cur.execute("SELECT pg_catalog.format_type(%s, NULL)", (column.type_code,))
            with invalid_input():
                column_name = validate_identifier(column.name, "result column")
            columns.append((column_name, cur.fetchone()[0]))
        creds = self.hook.credentials
        return ExternalTableDDL(
            name=name,
            columns=columns,
            location=CosExtLocation(
                bucket=bucket,
                prefix=self.key,
                region=self.hook.region,
                secret_id=creds.secret_id,
                secret_key=creds.secret_key,
                compress_type=self.export_format.compression,
            ),
            fmt=self.export_format,
            writable=True,
        )

    def _export_external(self, snova, query: str) -> dict[str, Any]:
        import uuid

        from psycopg2 import sql

        from airflow_scf_snova.utils.external_table import redact

        if self.hook.credentials.token:
            raise SnovaError(
                "method='external_table' needs a permanent API key (cos_ext has no token "
                "parameter); use method='copy'"
            )
        bucket = self.hook.full_bucket_name(self.bucket)
        conn = snova.get_psycopg2_conn()
        try:
            with conn.cursor() as cur:
                ddl = self.writable_ddl(
                    cur, query, bucket, f"airflow_scf_snova_wext_{uuid.uuid4().hex[:16]}"
                )
                self.log.info("Creating external table: %s", ddl.redacted(cur))
                try:
                    cur.execute(ddl.render(cur))
                except Exception as err:
                    reason = redact(_reason(err), ddl.location.secrets)
                    # Not chained: the driver's exception may quote the statement's secrets.
                    raise SnovaError(f"creating external table failed: {reason}") from None
                cur.execute(
                    sql.SQL("INSERT INTO {} SELECT * FROM ({}) AS q").format(
                        sql.Identifier(ddl.name), sql.SQL(query)
                    )
                )
                rows = cur.rowcount
                cur.execute(ddl.drop())
            conn.commit()
        finally:
            conn.close()
        self.log.info("Exported %d row(s) under cos://%s/%s", rows, bucket, self.key)
        return {"bucket": bucket, "key": self.key, "etag": None, "rows": rows, "bytes": None}


def _reason(err: BaseException) -> str:
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None)
    return primary or str(err).strip() or type(err).__name__
