"""Exactly-once, all-or-nothing loads of COS objects into one Snova table.

:class:`SnovaLoader` owns the transactions; a row source puts one object's rows into a relation
inside the transaction it is given:

- :class:`CopySource` streams the object from COS into ``COPY ... FROM STDIN`` (constant
  memory; gzip decompressed on the fly);
- :class:`ExternalTableSource` has Snova's segments read the object in parallel through a
  per-object ``cos_ext`` external table (``INSERT INTO ... SELECT``), created and dropped inside
  the transaction, with its secret-bearing DDL never logged in clear.

Transactions per mode (see ``docs/snova.md``):

- ``append`` and ``upsert``: one transaction per object holding the table's advisory lock, the
  ledger check, the rows and the ledger row. An object version already in the ledger is skipped.
- ``replace``: one transaction for the whole run: lock, ``DELETE`` the table and its ledger
  entries, load every object, record them, commit. Readers see the old contents until commit.

psycopg2 is imported inside functions: this module is imported by operators at run time only.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from scf_snova_core.ledger import LedgerEntry, LoadLedger, canonical_table
from scf_snova_core.objects import normalize_etag

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError, SnovaLoadError
from airflow_scf_snova.utils.csv_stream import RecordingReader, decompressing_reader
from airflow_scf_snova.utils.external_table import (
    CosExtLocation,
    ExternalTableDDL,
    prefix_collisions,
    redact,
)
from airflow_scf_snova.utils.load_format import PG_ON_ERROR, PG_REJECT_LIMIT, LoadFormat

if TYPE_CHECKING:
    from psycopg2.sql import Composable

    from airflow_scf_snova.hooks.cos import COSHook

MODES = ("append", "replace", "upsert")
METHODS = ("auto", "copy", "external_table")
#: Oldest server the loader supports: Greenplum 6 (PostgreSQL 9.4); Greenplum 5 (8.3) lacks
#: ``pg_advisory_xact_lock`` and parenthesised ``COPY`` options.
MIN_SERVER_VERSION = 90400
#: Bytes per ``read`` while streaming into COPY.
COPY_CHUNK = 256 * 1024

_LINE = re.compile(r"\bline (\d+)")
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


@dataclass(frozen=True)
class LoadObject:
    """One COS object version to load.

    :param bucket: the full bucket name.
    :param key: the key.
    :param etag: the ETag the loader expects to read (quotes removed).
    :param size: bytes, when known.
    """

    bucket: str
    key: str
    etag: str
    size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "etag", normalize_etag(self.etag))

    @property
    def url(self) -> str:
        return f"cos://{self.bucket}/{self.key}"


@dataclass
class ObjectResult:
    """What happened to one object (one XCom entry)."""

    bucket: str
    key: str
    etag: str
    rows: int
    status: str  # "loaded" | "skipped"
    seconds: float
    rejected: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "rows": self.rows,
            "rejected": self.rejected,
            "status": self.status,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class LoadSpec:
    """What to load where, and how (validated by the operator).

    :param table: the target, ``table`` or ``schema.table``.
    :param fmt: the file format.
    :param mode: ``append``, ``replace`` or ``upsert``.
    :param columns: the file's columns, in order; ``None`` means all of the table's.
    :param upsert_keys: the key columns for ``upsert``.
    :param reject_limit: rows that may be rejected per object; ``None`` rejects none.
    :param ledger_table: the ledger.
    :param dag_id: recorded in the ledger.
    :param run_id: recorded in the ledger.
    :param task_id: recorded in the ledger.
    """

    table: str
    fmt: LoadFormat
    mode: str = "append"
    columns: Sequence[str] | None = None
    upsert_keys: Sequence[str] | None = None
    reject_limit: int | None = None
    ledger_table: str = "airflow_scf_snova_load_ledger"
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None


@dataclass
class TargetTable:
    """The resolved target: canonical name, quoted relation and column types."""

    name: str
    relation: Composable
    column_types: dict[str, str]
    load_columns: list[str] = field(default_factory=list)


def describe_db_error(err: BaseException, secrets: Iterable[str] = ()) -> tuple[str, int | None]:
    """``(reason, line)`` from a psycopg2 error: the server's primary message and context (e.g.
    ``COPY t1, line 3, column a1: "x"``), redacted; the line number parsed from the context."""
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None)
    context = getattr(diag, "context", None)
    detail = getattr(diag, "message_detail", None)
    if primary:
        reason = primary
        if detail:
            reason += f" ({detail})"
        if context:
            reason += f" [{context.strip()}]"
    else:
        reason = str(err).strip() or type(err).__name__
    line = None
    if context:
        match = _LINE.search(context)
        if match:
            line = int(match.group(1))
    return redact(reason, secrets), line


class RowSource:
    """Puts one object's rows into a relation, inside the caller's transaction."""

    method = ""

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

    def check(self, obj: LoadObject) -> None:
        """Refuse an object this source cannot load exactly (before its transaction)."""

    def load(
        self, cur: Any, relation: Composable, target: TargetTable, obj: LoadObject
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.reject_limit is not None and not self.server.greenplum:
            if self.server.version_num < PG_ON_ERROR:
                raise SnovaError(
                    f"reject_limit needs PostgreSQL 17 or later (COPY ... ON_ERROR ignore) or "
                    f"Greenplum; this server reports server_version_num "
                    f"{self.server.version_num}. Remove reject_limit or fix the input files."
                )

    def statement(self, relation: Composable, columns: Sequence[str]) -> Composable:
        from psycopg2 import sql

        ignore = self.reject_limit is not None and not self.server.greenplum
        options = self.fmt.copy_options(
            ignore_errors=ignore,
            reject_limit=(
                self.reject_limit if ignore and self.server.version_num >= PG_REJECT_LIMIT else None
            ),
        )
        stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH {}").format(
            relation, sql.SQL(", ").join(sql.Identifier(c) for c in columns), options
        )
        if self.reject_limit is not None and self.server.greenplum:
            stmt = sql.SQL("{} LOG ERRORS SEGMENT REJECT LIMIT {} ROWS").format(
                stmt, sql.Literal(int(self.reject_limit))
            )
        return stmt

    def open_stream(self, obj: LoadObject):
        """The object's bytes (the COS hook's streaming reader)."""
        return self.cos.open_object(obj.bucket, obj.key)

    def load(
        self, cur: Any, relation: Composable, target: TargetTable, obj: LoadObject
    ) -> tuple[int, int]:
        stmt = self.statement(relation, target.load_columns)
        notices = cur.connection.notices
        del notices[:]
        import psycopg2

        with self.open_stream(obj) as raw:
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
            rejected = _count_rejected(notices, self.server.greenplum)
            if rejected > self.reject_limit:
                raise SnovaLoadError(
                    obj.key,
                    f"{rejected} rows were rejected, more than reject_limit {self.reject_limit}",
                )
        return rows, rejected


def _count_rejected(notices: Sequence[str], greenplum: bool) -> int:
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

    def check(self, obj: LoadObject) -> None:
        collisions = prefix_collisions(
            obj.key, self.cos.iter_objects(obj.bucket, prefix=obj.key, page_size=10)
        )
        if collisions:
            raise InvalidInputError(
                f"cannot load {obj.url} exactly with method='external_table': cos_ext reads every "
                f"key starting with {obj.key!r}, and the bucket also holds {collisions!r}. Rename "
                "the object(s) or use method='copy'."
            )

    def ddl_for(self, target: TargetTable, obj: LoadObject) -> ExternalTableDDL:
        creds = self.cos.credentials
        schema = target.name.split(".", 1)[0]
        return ExternalTableDDL(
            name=f"{schema}.airflow_scf_snova_ext_{uuid.uuid4().hex[:16]}",
            columns=[(c, target.column_types[c]) for c in target.load_columns],
            location=CosExtLocation(
                bucket=obj.bucket,
                prefix=obj.key,
                region=self.cos.region,
                secret_id=creds.secret_id,
                secret_key=creds.secret_key,
                compress_type=self.fmt.compression,
                https=self.https,
            ),
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
        self, cur: Any, relation: Composable, target: TargetTable, obj: LoadObject
    ) -> tuple[int, int]:
        from psycopg2 import sql

        from airflow_scf_snova.hooks.snova import SnovaHook

        ddl = self.ddl_for(target, obj)
        log.info("Creating external table: %s", ddl.redacted(cur))
        self.create_external_table(cur, ddl)
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in target.load_columns)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                relation, columns, columns, SnovaHook.quote_table(ddl.name)
            )
        )
        rows = cur.rowcount
        rejected = self.count_rejected(cur, ddl) if self.reject_limit is not None else 0
        self.drop_external_table(cur, ddl)
        return rows, rejected


class SnovaLoader:
    """Runs one load: resolves the target, makes sure the ledger exists, and loads each object
    with the transaction layout of its mode.

    :param conn: a psycopg2 connection (the loader sets READ COMMITTED and manual commit).
    :param source: the row source.
    :param spec: what to load.
    :param head_object: ``(bucket, key) -> COSObject``, to check that an object did not change
        while it was loaded (its ETag is compared before commit).
    :param logger: where progress goes (the task's logger).
    """

    def __init__(
        self,
        conn: Any,
        source: RowSource,
        spec: LoadSpec,
        head_object: Callable[[str, str], Any] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.conn = conn
        self.source = source
        self.spec = spec
        self.head_object = head_object
        self.log = logger or log
        self.ledger = LoadLedger(spec.ledger_table)
        conn.set_session(isolation_level="READ COMMITTED", autocommit=False)

    # -- set-up ------------------------------------------------------------------------------
    def resolve_target(self) -> TargetTable:
        """Canonical name and column types of the target; checks columns and upsert keys."""
        import psycopg2
        from psycopg2 import sql

        try:
            with self.conn.cursor() as cur:
                name = canonical_table(cur, self.spec.table)
                schema, table = name.split(".", 1)
                cur.execute(
                    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
                    "FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass "
                    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                    (sql.Identifier(schema, table).as_string(cur),),
                )
                types = dict(cur.fetchall())
            self.conn.commit()
        except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as err:
            self._rollback()
            raise SnovaError(f"target table {self.spec.table!r} does not exist") from err
        except psycopg2.Error as err:
            self._rollback()
            reason, _ = describe_db_error(err)
            raise SnovaError(
                f"reading the definition of {self.spec.table!r} failed: {reason}"
            ) from err
        columns = list(self.spec.columns) if self.spec.columns else list(types)
        missing = [c for c in columns if c not in types]
        if missing:
            raise InvalidInputError(f"table {name} has no column(s) {missing!r}")
        for key in self.spec.upsert_keys or ():
            if key not in columns:
                raise InvalidInputError(
                    f"upsert key {key!r} is not among the loaded columns {columns!r}"
                )
        return TargetTable(name, sql.Identifier(schema, table), types, columns)

    def prepare(self) -> None:
        """Create the ledger if needed and let the source prepare; committed."""
        try:
            with self.conn.cursor() as cur:
                if self.ledger.ensure(cur):
                    self.log.info("Created the load ledger %s", self.ledger.table)
                self.source.prepare(cur)
            self.conn.commit()
        except BaseException as err:
            self._rollback()
            wrapped = self._as_load_error(err, None)
            if wrapped is err:
                raise
            raise wrapped from err

    # -- the run -----------------------------------------------------------------------------
    def run(self, objects: Sequence[LoadObject]) -> list[ObjectResult]:
        """Load ``objects`` in order; returns one result per object.

        :raises SnovaLoadError: an object failed (nothing of it was committed; in ``append`` and
            ``upsert`` mode the objects before it stay committed, in ``replace`` mode nothing is).
        """
        target = self.resolve_target()
        self.prepare()
        if self.spec.mode == "replace":
            if not objects:
                self.log.warning("No objects to load: %s is left unchanged", target.name)
                return []
            return self._replace(target, objects)
        results: list[ObjectResult] = []
        for obj in objects:
            results.append(self._load_one(target, obj))
        return results

    def _load_one(self, target: TargetTable, obj: LoadObject) -> ObjectResult:
        started = time.monotonic()
        self.source.check(obj)
        try:
            with self.conn.cursor() as cur:
                self.ledger.lock_table(cur, target.name)
                found = self.ledger.find(cur, target.name, obj.bucket, obj.key, obj.etag)
                if found is not None:
                    self.conn.rollback()
                    self.log.info(
                        "Skipped %s (etag %s): already loaded into %s at %s by %s/%s (%d rows)",
                        obj.url,
                        obj.etag,
                        target.name,
                        found["loaded_at"],
                        found["dag_id"],
                        found["run_id"],
                        found["rows"],
                    )
                    return ObjectResult(
                        obj.bucket,
                        obj.key,
                        obj.etag,
                        int(found["rows"]),
                        "skipped",
                        time.monotonic() - started,
                        int(found["rejected"]),
                    )
                if self.spec.mode == "upsert":
                    rows, rejected = self._upsert(cur, target, obj)
                else:
                    rows, rejected = self._insert(cur, target.relation, target, obj)
                self._record(cur, target, obj, rows, rejected)
            self._commit(obj)
        except BaseException as err:
            self._rollback()
            wrapped = self._as_load_error(err, obj)
            if wrapped is err:
                raise
            raise wrapped from err
        result = ObjectResult(
            obj.bucket, obj.key, obj.etag, rows, "loaded", time.monotonic() - started, rejected
        )
        self._log_loaded(target, result)
        return result

    def _replace(self, target: TargetTable, objects: Sequence[LoadObject]) -> list[ObjectResult]:
        from psycopg2 import sql

        started = time.monotonic()
        for obj in objects:
            self.source.check(obj)
        results: list[ObjectResult] = []
        current: LoadObject | None = objects[0]
        try:
            with self.conn.cursor() as cur:
                self.ledger.lock_table(cur, target.name)
                cur.execute(sql.SQL("DELETE FROM {}").format(target.relation))
                deleted = cur.rowcount
                self.ledger.forget_table(cur, target.name)
                for obj in objects:
                    current = obj
                    one = time.monotonic()
                    rows, rejected = self._insert(cur, target.relation, target, obj)
                    self._record(cur, target, obj, rows, rejected)
                    results.append(
                        ObjectResult(
                            obj.bucket,
                            obj.key,
                            obj.etag,
                            rows,
                            "loaded",
                            time.monotonic() - one,
                            rejected,
                        )
                    )
            self._commit(objects[-1])
        except BaseException as err:
            self._rollback()
            wrapped = self._as_load_error(err, current)
            if wrapped is err:
                raise
            raise wrapped from err
        self.log.info(
            "Replaced the %d row(s) of %s with %d row(s) from %d object(s) in %.2fs",
            deleted,
            target.name,
            sum(r.rows for r in results),
            len(results),
            time.monotonic() - started,
        )
        for result in results:
            self._log_loaded(target, result)
        return results

    # -- per-object steps --------------------------------------------------------------------
    def _insert(
        self, cur: Any, relation: Composable, target: TargetTable, obj: LoadObject
    ) -> tuple[int, int]:
        """Run the source, turning database and stream errors into :class:`SnovaLoadError`."""
        import psycopg2

        from airflow_scf_snova.exceptions import TencentCloudError

        try:
            rows, rejected = self.source.load(cur, relation, target, obj)
        except psycopg2.Error as err:
            reason, line = describe_db_error(err, self.source.secrets)
            raise SnovaLoadError(obj.key, reason, line) from err
        except (OSError, EOFError, TencentCloudError) as err:
            if isinstance(err, SnovaError):
                raise
            raise SnovaLoadError(
                obj.key, redact(f"reading the object failed: {err}", self.source.secrets)
            ) from err
        self._check_unchanged(obj)
        return rows, rejected

    def _upsert(self, cur: Any, target: TargetTable, obj: LoadObject) -> tuple[int, int]:
        """Stage the object in a temporary table, then delete the target rows it replaces and
        insert it (no ``ON CONFLICT``: Greenplum 6 lacks it)."""
        from psycopg2 import sql

        stage = sql.Identifier(f"airflow_scf_snova_stage_{uuid.uuid4().hex[:16]}")
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                stage, target.relation
            )
        )
        rows, rejected = self._insert(cur, stage, target, obj)
        keys = self.spec.upsert_keys or ()
        match = sql.SQL(" AND ").join(
            sql.SQL("t.{k} = s.{k}").format(k=sql.Identifier(k)) for k in keys
        )
        cur.execute(
            sql.SQL("DELETE FROM {} t USING {} s WHERE {}").format(target.relation, stage, match)
        )
        replaced = cur.rowcount
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in target.load_columns)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                target.relation, columns, columns, stage
            )
        )
        self.log.info("Upsert of %s replaced %d existing row(s)", obj.url, replaced)
        return rows, rejected

    def _check_unchanged(self, obj: LoadObject) -> None:
        if self.head_object is None:
            return
        current = normalize_etag(self.head_object(obj.bucket, obj.key).etag)
        if current != obj.etag:
            raise SnovaLoadError(
                obj.key,
                f"the object changed while it was being loaded (etag {obj.etag} -> {current}); "
                "nothing was committed, run the load again to load the new version",
            )

    def _record(
        self, cur: Any, target: TargetTable, obj: LoadObject, rows: int, rejected: int
    ) -> None:
        self.ledger.record(
            cur,
            LedgerEntry(
                target_table=target.name,
                bucket=obj.bucket,
                key=obj.key,
                etag=obj.etag,
                rows=rows,
                rejected=rejected,
                dag_id=self.spec.dag_id,
                run_id=self.spec.run_id,
                task_id=self.spec.task_id,
            ),
        )

    def _commit(self, obj: LoadObject) -> None:
        import psycopg2

        try:
            self.conn.commit()
        except psycopg2.Error as err:
            reason, _ = describe_db_error(err, self.source.secrets)
            raise SnovaLoadError(
                obj.key,
                f"commit failed, outcome unknown ({reason}); running the load again is safe: the "
                "ledger tells whether it was committed",
            ) from err

    def _as_load_error(self, err: BaseException, obj: LoadObject | None) -> BaseException:
        """A database error raised outside the row source (staging, ledger, lock) as a
        :class:`SnovaLoadError` naming the object; anything else unchanged."""
        import psycopg2

        if isinstance(err, psycopg2.Error):
            reason, line = describe_db_error(err, self.source.secrets)
            if obj is None:
                return SnovaError(f"preparing the load failed: {reason}")
            return SnovaLoadError(obj.key, reason, line)
        return err

    def _rollback(self) -> None:
        if self.conn.closed:
            return
        try:
            self.conn.rollback()
        except Exception:  # the connection died with the transaction; nothing to undo
            self.log.debug("rollback failed", exc_info=True)

    def _log_loaded(self, target: TargetTable, result: ObjectResult) -> None:
        self.log.info(
            "Loaded %d row(s) (%d rejected) from cos://%s/%s (etag %s) into %s in %.2fs",
            result.rows,
            result.rejected,
            result.bucket,
            result.key,
            result.etag,
            target.name,
            result.seconds,
        )
