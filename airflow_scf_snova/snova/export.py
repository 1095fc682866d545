"""Snova-to-COS exports: a query's rows written to COS, streamed in constant memory.

- :func:`export_copy` runs ``COPY (query) TO STDOUT`` in a read-only transaction and streams the
  rows, through a bounded in-memory pipe (:class:`~.streams.StreamPipe`), into a multipart upload
  running on another thread. If either side fails the other stops and the upload is aborted, so
  no partial object appears.
- :func:`export_external` (Snova only) has the segments write in parallel through a ``cos_ext``
  writable external table; the key is then an output prefix.

Entry point: :meth:`airflow_scf_snova.hooks.snova.SnovaHook.export_query`. psycopg2 is imported
inside the functions.
"""

from __future__ import annotations

import gzip
import logging
import threading
import uuid
from typing import TYPE_CHECKING, Any

from scf_snova_core.cos_ext import CosExtLocation, ExternalTableDDL
from scf_snova_core.names import validate_identifier
from scf_snova_core.sql import describe_db_error, quote_table

from airflow_scf_snova.exceptions import SnovaError, invalid_input
from airflow_scf_snova.snova.streams import StreamPipe

if TYPE_CHECKING:
    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.snova.spec import ExportSpec

#: How long to wait for the upload thread once the query side has finished or failed.
UPLOAD_JOIN_TIMEOUT = 600

log = logging.getLogger(__name__)


def export_copy(
    conn: Any, spec: ExportSpec, cos: COSHook, logger: logging.Logger | None = None
) -> dict[str, Any]:
    """``COPY (query) TO STDOUT`` into one object; returns ``bucket``, ``key``, ``etag``,
    ``rows`` and ``bytes``.

    :param conn: a psycopg2 connection, idle; it is left in a read-only session.
    :param spec: what to export.
    :param cos: the COS hook that uploads.
    :param logger: where progress goes.
    :raises SnovaError: the query or the upload failed (no object was written).
    """
    from psycopg2 import sql

    logger = logger or log
    bucket = cos.full_bucket_name(spec.bucket)
    fmt = spec.fmt
    statement = sql.SQL("COPY ({}) TO STDOUT WITH {}").format(
        sql.SQL(spec.query), fmt.copy_options()
    )
    pipe = StreamPipe()
    outcome: dict[str, Any] = {}

    def upload() -> None:
        try:
            outcome["etag"] = cos.upload_fileobj(
                bucket,
                spec.key,
                pipe,
                part_size=spec.part_size,
                content_type="application/gzip" if fmt.compression else "text/csv",
            )
        except BaseException as err:
            outcome["error"] = err
            pipe.reader_abort(err)

    uploader = threading.Thread(target=upload, name=f"upload-{spec.key}", daemon=True)
    try:
        conn.set_session(readonly=True, autocommit=False)
        uploader.start()
        sink = gzip.GzipFile(fileobj=pipe, mode="wb", mtime=0) if fmt.compression else pipe
        with conn.cursor() as cur:
            logger.info("Exporting to cos://%s/%s: %s", bucket, spec.key, spec.query)
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
                f"upload to cos://{bucket}/{spec.key} failed: {upload_error}"
            ) from upload_error
        raise SnovaError(f"export query failed: {describe_db_error(err)[0]}") from err
    uploader.join(UPLOAD_JOIN_TIMEOUT)
    if uploader.is_alive():
        raise SnovaError(f"upload to cos://{bucket}/{spec.key} did not finish")
    if "error" in outcome:
        raise SnovaError(
            f"upload to cos://{bucket}/{spec.key} failed: {outcome['error']}"
        ) from outcome["error"]
    logger.info(
        "Exported %d row(s), %d byte(s) to cos://%s/%s", rows, pipe.bytes_written, bucket, spec.key
    )
    return {
        "bucket": bucket,
        "key": spec.key,
        "etag": outcome["etag"],
        "rows": rows,
        "bytes": pipe.bytes_written,
    }


def writable_ddl(cur: Any, spec: ExportSpec, cos: COSHook, bucket: str, name: str):
    """The writable external table for the spec's query: columns and types from the query's
    result description (``format_type`` of each column's type; modifiers are not kept).

    :param cur: a psycopg2 cursor.
    :param spec: the export.
    :param cos: the COS hook whose key pair the LOCATION carries.
    :param bucket: the full bucket name.
    :param name: the external table's name.
    """
    from psycopg2 import sql

    cur.execute(sql.SQL("SELECT * FROM ({}) AS q LIMIT 0").format(sql.SQL(spec.query)))
    columns = []
    for column in cur.description:
        cur.execute("SELECT pg_catalog.format_type(%s, NULL)", (column.type_code,))
        with invalid_input():
            column_name = validate_identifier(column.name, "result column")
        columns.append((column_name, cur.fetchone()[0]))
    creds = cos.credentials
    with invalid_input():
        return ExternalTableDDL(
            name=name,
            columns=columns,
            location=CosExtLocation(
                bucket=bucket,
                prefix=spec.key,
                region=cos.region,
                secret_id=creds.secret_id,
                secret_key=creds.secret_key,
                compress_type=spec.fmt.compression,
            ),
            fmt=spec.fmt,
            writable=True,
        )


def export_external(
    conn: Any, spec: ExportSpec, cos: COSHook, logger: logging.Logger | None = None
) -> dict[str, Any]:
    """``INSERT INTO`` a writable ``cos_ext`` table: each segment writes its own file under the
    key (a prefix). Returns ``bucket``, ``key``, ``rows`` (``etag`` and ``bytes`` are ``None``).

    :param conn: a psycopg2 connection to Snova.
    :param spec: what to export.
    :param cos: the COS hook whose key pair the LOCATION carries (a permanent one).
    :param logger: where progress goes.
    """
    from psycopg2 import sql

    logger = logger or log
    if cos.credentials.token:
        raise SnovaError(
            "method='external_table' needs a permanent API key (cos_ext has no token "
            "parameter); use method='copy'"
        )
    bucket = cos.full_bucket_name(spec.bucket)
    with conn.cursor() as cur:
        ddl = writable_ddl(
            cur, spec, cos, bucket, f"airflow_scf_snova_wext_{uuid.uuid4().hex[:16]}"
        )
        logger.info("Creating external table: %s", ddl.redacted(cur))
        try:
            cur.execute(ddl.render(cur))
        except Exception as err:
            reason, _ = describe_db_error(err, ddl.location.secrets)
            # Not chained: the driver's exception may quote the statement's secrets.
            raise SnovaError(f"creating external table failed: {reason}") from None
        cur.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM ({}) AS q").format(
                quote_table(ddl.name), sql.SQL(spec.query)
            )
        )
        rows = cur.rowcount
        cur.execute(ddl.drop())
    conn.commit()
    logger.info("Exported %d row(s) under cos://%s/%s", rows, bucket, spec.key)
    return {"bucket": bucket, "key": spec.key, "etag": None, "rows": rows, "bytes": None}
