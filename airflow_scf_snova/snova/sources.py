"""Row sources: how one COS object's rows get into a relation, inside the caller's transaction.

- :class:`CopySource` streams the object from COS into ``COPY ... FROM STDIN`` (constant
  memory; gzip decompressed on the fly);
- :class:`ExternalTableSource` has Snova's segments read the object in parallel through a
  per-object ``cos_ext`` external table (``INSERT INTO ... SELECT``), created and dropped inside
  the transaction, with its secret-bearing DDL never logged in clear.

:class:`~airflow_scf_snova.snova.loader.SnovaLoader` owns the transactions and calls a source
once per object. psycopg2 is imported inside the methods.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, NamedTuple

from scf_snova_core.cos_ext import CosExtLocation, ExternalTableDDL, prefix_collisions
from scf_snova_core.formats import PG_ON_ERROR, PG_REJECT_LIMIT, LoadFormat
from scf_snova_core.loads import COPY_CHUNK, copy_from_stdin
from scf_snova_core.sql import column_list, describe_db_error, quote_table, redact

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    SnovaError,
    SnovaLoadError,
    invalid_input,
)
from airflow_scf_snova.snova.streams import RecordingReader, decompressing_reader

if TYPE_CHECKING:
    from psycopg2.sql import Composable
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.snova.loader import TargetTable

#: Objects up to this size are read ahead whole by a batch (:meth:`CopySource.prefetch`).
PREFETCH_MAX_BYTES = 256 * 1024
#: GETs in flight while a batch reads ahead.
PREFETCH_THREADS = 8
_PG_SKIPPED = re.compile(r"(\d+) rows? (?:was|were) skipped")
_GP_REJECTED = re.compile(r"(?i)found (\d+) data formatting errors?")

log = logging.getLogger(__name__)


class ServerInfo(NamedTuple):
    """What the loader needs to know about the server.

    :param version_num: ``server_version_num`` (Greenplum 6 reports 904xx).
    :param greenplum: whether ``version()`` names Greenplum.
    """

    version_num: int
    greenplum: bool


class RowSource:
    """Puts one object's rows into a relation, inside the caller's transaction.

    :param cos: the COS hook that reads the objects.
    :param fmt: the objects' format.
    :param server: the server's version and kind.
    :param reject_limit: malformed rows that may be skipped per object; ``None``: none.
    """

    method = ""
    #: Whether :meth:`load` reads exactly ``obj.etag`` (or fails with
    #: :class:`~airflow_scf_snova.exceptions.ObjectChangedError`), so the loader needs no HEAD
    #: after the load to know the version it loaded.
    reads_listed_version = False
    #: Whether several objects may share one transaction (``LoadSpec.batch_size``).
    batches = False

    def __init__(
        self,
        cos: COSHook,
        fmt: LoadFormat,
        server: ServerInfo,
        reject_limit: int | None = None,
    ) -> None:
        self.cos = cos
        self.fmt = fmt
        self.server = server
        self.reject_limit = reject_limit

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must be scrubbed from any message."""
        creds = self.cos.credentials
        return tuple(s for s in (creds.secret_key, creds.token) if s)

    def prepare(self, cur: Any) -> None:
        """Once per run, before any object (its own transaction, committed by the caller)."""

    def prefetch(self, objects: Sequence[COSObject]) -> None:
        """Start reading ``objects`` ahead of :meth:`load`, which will be called for each of
        them in this order (a batch's transaction); a source that does not read ahead ignores
        it."""

    def load_together(
        self, cur: Any, relation: Composable, target: TargetTable, objects: Sequence[COSObject]
    ) -> list[int] | None:
        """Insert the rows of all ``objects`` with one statement, when this source can tell how
        many rows each held; returns those counts, or ``None`` (nothing was done: the caller
        loads them one by one with :meth:`load`)."""
        return None

    def close(self) -> None:
        """Once per run, at its end, whatever happened (frees what :meth:`prefetch` holds)."""

    def check(self, obj: COSObject) -> None:
        """Refuse an object this source cannot load exactly (before its transaction)."""

    def load(
        self, cur: Any, relation: Composable, target: TargetTable, obj: COSObject
    ) -> tuple[int, int]:
        """Insert ``obj``'s rows into ``relation``; returns ``(rows, rejected)``."""
        raise NotImplementedError


class CopySource(RowSource):
    """``COPY relation (columns) FROM STDIN`` fed from the COS object stream.

    With ``reject_limit``: PostgreSQL 18 ``ON_ERROR ignore, REJECT_LIMIT n``; PostgreSQL 17
    ``ON_ERROR ignore`` with the limit checked from the server's notice (the transaction is
    rolled back when it is exceeded); Greenplum ``LOG ERRORS SEGMENT REJECT LIMIT n ROWS``.
    """

    method = "copy"
    reads_listed_version = True
    batches = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: dict[tuple[str, str, str], Future] = {}
        if self.reject_limit is not None and not self.server.greenplum:
            if self.server.version_num < PG_ON_ERROR:
                raise SnovaError(
                    f"reject_limit needs PostgreSQL 17 or later (COPY ... ON_ERROR ignore) or "
                    f"Greenplum; this server reports server_version_num "
                    f"{self.server.version_num}. Remove reject_limit or fix the input files."
                )

    def statement(self, relation: Composable, columns: Sequence[str]) -> Composable:
        """The ``COPY`` statement for this server and reject limit."""
        from psycopg2 import sql

        ignore = self.reject_limit is not None and not self.server.greenplum
        options = self.fmt.copy_options(
            ignore_errors=ignore,
            reject_limit=(
                self.reject_limit if ignore and self.server.version_num >= PG_REJECT_LIMIT else None
            ),
        )
        stmt = copy_from_stdin(relation, columns, options)
        if self.reject_limit is not None and self.server.greenplum:
            stmt = sql.SQL("{} LOG ERRORS SEGMENT REJECT LIMIT {} ROWS").format(
                stmt, sql.Literal(int(self.reject_limit))
            )
        return stmt

    def prefetch(self, objects: Sequence[COSObject]) -> None:
        """Read the small objects (up to :data:`PREFETCH_MAX_BYTES`) of a batch into memory,
        :data:`PREFETCH_THREADS` GETs at a time, while the earlier ones are copied: with small
        objects the GET's round trip, not the bytes, is what costs. A batch holds at most
        ``LoadSpec.batch_bytes``; what an object's read raised is raised by its :meth:`load`.
        What an earlier call read and no :meth:`load` used is dropped."""
        self._drop_ahead()
        small = [obj for obj in objects if obj.size <= PREFETCH_MAX_BYTES]
        if len(small) < 2:
            return
        if self._pool is None:
            self.cos.conn  # noqa: B018 -- build the SDK client once, before the threads use it
            self._pool = ThreadPoolExecutor(PREFETCH_THREADS, thread_name_prefix="cos-prefetch")
        for obj in small:
            self._ahead[_version(obj)] = self._pool.submit(self._read, obj)
        wait(list(self._ahead.values()))

    def _read(self, obj: COSObject) -> bytes:
        with self.open_stream(obj) as stream:
            return stream.read()

    def _drop_ahead(self) -> None:
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()

    def close(self) -> None:
        self._drop_ahead()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def open_stream(self, obj: COSObject):
        """The bytes of exactly the version ``obj.etag`` names (the COS hook's streaming reader,
        with ``If-Match``: another version raises
        :class:`~airflow_scf_snova.exceptions.ObjectChangedError`)."""
        return self.cos.open_object(obj.bucket, obj.key, if_match=obj.etag)

    def load_together(
        self, cur: Any, relation: Composable, target: TargetTable, objects: Sequence[COSObject]
    ) -> list[int] | None:
        """One ``COPY`` of the prefetched objects joined, when each object's rows can be counted
        from its bytes (:func:`countable_rows`) and no rows may be rejected. The server's count
        must equal the sum, or :class:`SnovaLoadError` is raised (the caller rolls back and loads
        the objects one by one, which also names the object a database error is about)."""
        if self.reject_limit is not None or len(objects) < 2:
            return None
        if any(_version(obj) not in self._ahead for obj in objects):
            return None
        parts: list[bytes] = []
        counts: list[int] = []
        for n, obj in enumerate(objects):
            raw = io.BytesIO(self._ahead[_version(obj)].result())
            with decompressing_reader(raw, self.fmt.compression) as plain:
                counted = countable_rows(plain.read(), self.fmt, first=n == 0)
            if counted is None:
                return None
            parts.append(counted[0])
            counts.append(counted[1])
        for obj in objects:
            self._ahead.pop(_version(obj))
        cur.copy_expert(
            self.statement(relation, target.load_columns), io.BytesIO(b"".join(parts)), COPY_CHUNK
        )
        if cur.rowcount != sum(counts):
            raise SnovaLoadError(
                objects[0].key,
                f"one COPY of {len(objects)} objects from here loaded {cur.rowcount} rows where "
                f"their lines add up to {sum(counts)}",
            )
        return counts

    def _body(self, obj: COSObject):
        """What :meth:`prefetch` read of ``obj`` (once), or its stream."""
        ahead = self._ahead.pop(_version(obj), None)
        if ahead is None:
            return self.open_stream(obj)
        return io.BytesIO(ahead.result())

    def load(
        self, cur: Any, relation: Composable, target: TargetTable, obj: COSObject
    ) -> tuple[int, int]:
        import psycopg2

        stmt = self.statement(relation, target.load_columns)
        notices = cur.connection.notices
        del notices[:]
        with self._body(obj) as raw:
            reader = RecordingReader(decompressing_reader(raw, self.fmt.compression))
            try:
                cur.copy_expert(stmt, reader, size=COPY_CHUNK)
            except psycopg2.Error:
                if reader.error is None:
                    raise
                raise SnovaLoadError(
                    obj.key,
                    redact(f"reading the object failed: {reader.error}", self.secrets),
                ) from reader.error
        rows = cur.rowcount
        rejected = 0
        if self.reject_limit is not None:
            # psycopg2 collects a COPY's notices on the next statement.
            cur.execute("SELECT 1")
            rejected = count_rejected(notices, self.server.greenplum)
            if rejected > self.reject_limit:
                raise SnovaLoadError(
                    obj.key,
                    f"{rejected} rows were rejected, more than reject_limit {self.reject_limit}",
                )
        return rows, rejected


def _version(obj: COSObject) -> tuple[str, str, str]:
    return (obj.bucket, obj.key, obj.etag)


def countable_rows(body: bytes, fmt: LoadFormat, first: bool) -> tuple[bytes, int] | None:
    """``(bytes, rows)`` of one object's decompressed body as it may be joined to others in one
    ``COPY`` (its header line cut unless it comes ``first``, a final newline added), when every
    line is one row: no CSV quote character (a quoted field may hold a newline), no backslash
    before a line end or a ``.`` (a continued line, an end-of-data marker), no carriage return
    that does not end a line. ``None`` otherwise: such an object is copied alone.

    :param body: the object's bytes, decompressed.
    :param fmt: its format.
    :param first: whether it comes first (its header line is kept for ``COPY ... HEADER`` to
        skip; the others' are cut). The rows never count a header line.
    """
    if fmt.format == "csv":
        quote = fmt.quote or '"'
        if not quote.isascii() or quote.encode("ascii") in body:
            return None
    if b"\\\n" in body or b"\\\r" in body or b"\\." in body:
        return None
    if body.count(b"\r") != body.count(b"\r\n"):
        return None
    header = b""
    if fmt.header:
        cut = body.find(b"\n")
        header, body = (body, b"") if cut < 0 else (body[: cut + 1], body[cut + 1 :])
    if body and not body.endswith(b"\n"):
        body += b"\r\n" if b"\r\n" in header + body else b"\n"
    rows = body.count(b"\n")
    return (header + body if first else body), rows


def count_rejected(notices: Sequence[str], greenplum: bool) -> int:
    """Rows a ``COPY`` skipped, from the server's notices: PostgreSQL's "N rows were skipped",
    Greenplum's "found N data formatting errors".

    :param notices: the connection's notices after the ``COPY``.
    :param greenplum: which wording to read.
    """
    pattern = _GP_REJECTED if greenplum else _PG_SKIPPED
    total = 0
    for notice in notices:
        match = pattern.search(notice)
        if match:
            total += int(match.group(1))
    return total


class ExternalTableSource(RowSource):
    """A per-object readable ``cos_ext`` external table whose LOCATION is the object's full key,
    read with ``INSERT INTO relation SELECT ...`` and dropped in the same transaction.

    Because a LOCATION is a prefix, :meth:`check` refuses an object whose key is a prefix of
    another key in the bucket (the table would read both). The DDL is logged redacted only.

    :param https: ``False`` to have the segments read COS over HTTP; ``None``: the default.
    """

    method = "external_table"

    def __init__(self, *args: Any, https: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.https = https
        if self.cos.credentials.token:
            raise SnovaError(
                "method='external_table' needs a permanent API key: cos_ext has no session-token "
                "parameter, and the connection holds temporary credentials. Use method='copy'."
            )

    def prepare(self, cur: Any) -> None:
        """Install ``cos_ext`` when it is missing and the user may; otherwise say who must."""
        cur.execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'cos_ext'")
        if cur.fetchone() is not None:
            return
        cur.execute("SAVEPOINT airflow_scf_snova_cos_ext")
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS cos_ext SCHEMA public")
        except Exception as err:
            cur.execute("ROLLBACK TO SAVEPOINT airflow_scf_snova_cos_ext")
            reason, _ = describe_db_error(err)
            raise SnovaError(
                "the cos_ext extension is not installed in this database and could not be "
                f"created ({reason}); ask an administrator to run "
                "'CREATE EXTENSION IF NOT EXISTS cos_ext SCHEMA public', or use method='copy'"
            ) from err

    def check(self, obj: COSObject) -> None:
        self.location_for(obj)
        collisions = prefix_collisions(
            obj.key, self.cos.iter_objects(obj.bucket, prefix=obj.key, page_size=10)
        )
        if collisions:
            raise InvalidInputError(
                f"cannot load {obj.url} exactly with method='external_table': cos_ext reads every "
                f"key starting with {obj.key!r}, and the bucket also holds {collisions!r}. Rename "
                "the object(s) or use method='copy'."
            )

    def location_for(self, obj: COSObject) -> CosExtLocation:
        """The LOCATION reading exactly ``obj`` (with :meth:`check`'s collision check).

        :raises InvalidInputError: the key or the key pair cannot be written in a LOCATION.
        """
        creds = self.cos.credentials
        with invalid_input():
            return CosExtLocation(
                bucket=obj.bucket,
                prefix=obj.key,
                region=self.cos.region,
                secret_id=creds.secret_id,
                secret_key=creds.secret_key,
                compress_type=self.fmt.compression,
                https=self.https,
            )

    def ddl_for(self, target: TargetTable, obj: COSObject) -> ExternalTableDDL:
        """The external table for ``obj``, in the target's schema, with the target's columns."""
        schema = target.name.split(".", 1)[0]
        with invalid_input():
            return ExternalTableDDL(
                name=f"{schema}.airflow_scf_snova_ext_{uuid.uuid4().hex[:16]}",
                columns=[(c, target.column_types[c]) for c in target.load_columns],
                location=self.location_for(obj),
                fmt=self.fmt,
                reject_limit=self.reject_limit,
            )

    def create_external_table(self, cur: Any, ddl: ExternalTableDDL) -> None:
        """Execute the DDL. Errors are re-raised with the statement's secrets removed.

        This is the test seam: on plain PostgreSQL (no ``cos_ext``) the tests override it to
        create an ordinary table with the same columns, filled by COPY from the same object.
        """
        statement = ddl.render(cur)
        try:
            cur.execute(statement)
        except Exception as err:
            reason, _ = describe_db_error(err, ddl.location.secrets)
            # Not chained: the driver's exception may quote the statement, secrets included.
            raise SnovaError(f"creating external table {ddl.name} failed: {reason}") from None

    def drop_external_table(self, cur: Any, ddl: ExternalTableDDL) -> None:
        """Drop the table (the transaction would also undo its creation on failure)."""
        cur.execute(ddl.drop())

    def count_rejected(self, cur: Any, ddl: ExternalTableDDL) -> int:
        """Rows the segments rejected (``gp_read_error_log``), before the table is dropped."""
        cur.execute("SELECT count(*) FROM gp_read_error_log(%s)", (ddl.name,))
        return int(cur.fetchone()[0])

    def load(
        self, cur: Any, relation: Composable, target: TargetTable, obj: COSObject
    ) -> tuple[int, int]:
        from psycopg2 import sql

        ddl = self.ddl_for(target, obj)
        log.info("Creating external table: %s", ddl.redacted(cur))
        self.create_external_table(cur, ddl)
        columns = column_list(target.load_columns)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                relation, columns, columns, quote_table(ddl.name)
            )
        )
        rows = cur.rowcount
        rejected = self.count_rejected(cur, ddl) if self.reject_limit is not None else 0
        self.drop_external_table(cur, ddl)
        return rows, rejected
