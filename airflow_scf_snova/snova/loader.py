"""Exactly-once, all-or-nothing loads of COS objects into one Snova table.

:class:`SnovaLoader` owns the transactions; a row source (:mod:`.sources`) puts one object's rows
into a relation inside the transaction it is given. Transactions per mode (see ``docs/snova.md``):

- ``append`` with a source that batches (``copy``): one transaction per batch of consecutive
  objects (:mod:`.batches`) holding the table's advisory lock, one ledger lookup, each object's
  rows and one insert of their ledger rows. When it fails, the batch is loaded again one object
  per transaction, so the objects before the failing one commit and the error names it.
- ``append`` otherwise, and ``upsert``: one transaction per object holding the table's advisory
  lock, the ledger check, the rows and the ledger row. An object version already in the ledger
  is skipped.
- ``replace``: one transaction for the whole run: lock, ``DELETE`` the table and its ledger
  entries, load every object, record them, commit. Readers see the old contents until commit.

The ledger protocol (lock key, lookup, record, DDL) is :mod:`scf_snova_core.ledger`'s. Entry point:
:meth:`airflow_scf_snova.hooks.snova.SnovaHook.load_objects`. psycopg2 is imported inside
functions: operators import this module at run time only.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scf_snova_core.ledger import LedgerEntry, LoadLedger
from scf_snova_core.loads import LOADED, SKIPPED, LoadResult
from scf_snova_core.objects import normalize_etag
from scf_snova_core.sql import (
    canonical_table,
    column_list,
    describe_db_error,
    quote_canonical,
    redact,
    table_columns,
)

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ObjectChangedError,
    SnovaError,
    SnovaLoadError,
    TencentCloudError,
)
from airflow_scf_snova.snova.batches import plan_batches

if TYPE_CHECKING:
    from psycopg2.sql import Composable
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.snova.sources import RowSource
    from airflow_scf_snova.snova.spec import LoadSpec

log = logging.getLogger(__name__)


@dataclass
class TargetTable:
    """The resolved target: canonical name, quoted relation and column types.

    :param name: ``schema.table`` as the server resolves it.
    :param relation: the quoted relation.
    :param column_types: ``{column: type}`` of every column, in table order.
    :param load_columns: the columns the files hold, in file order.
    """

    name: str
    relation: Composable
    column_types: dict[str, str]
    load_columns: list[str] = field(default_factory=list)


class SnovaLoader:
    """Runs one load: resolves the target, makes sure the ledger exists, and loads each object
    with the transaction layout of its mode.

    :param conn: a psycopg2 connection (the loader sets READ COMMITTED and manual commit).
    :param source: the row source.
    :param spec: what to load.
    :param head_object: ``(bucket, key) -> COSObject``, to check that an object did not change
        while it was loaded (its ETag is compared before commit), for a source that does not
        read the listed version itself (``RowSource.reads_listed_version``).
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

        try:
            with self.conn.cursor() as cur:
                name = canonical_table(cur, self.spec.table)
                types = dict(table_columns(cur, self.spec.table))
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
        return TargetTable(name, quote_canonical(name), types, columns)

    def prepare(self) -> None:
        """Create the ledger if needed and let the source prepare; committed."""
        with self._undone_on_error(lambda: None), self.conn.cursor() as cur:
            if self.ledger.ensure(cur):
                self.log.info("Created the load ledger %s", self.ledger.table)
            self.source.prepare(cur)
            self.conn.commit()

    # -- the run -----------------------------------------------------------------------------
    def run(self, objects: Sequence[COSObject]) -> list[LoadResult]:
        """Load ``objects`` in order; returns one result per object.

        :raises SnovaLoadError: an object failed (nothing of it was committed; in ``append`` and
            ``upsert`` mode the objects before it stay committed, in ``replace`` mode nothing is).
        """
        try:
            return self._run(objects)
        finally:
            self.source.close()

    def _run(self, objects: Sequence[COSObject]) -> list[LoadResult]:
        target = self.resolve_target()
        self.prepare()
        if self.spec.mode == "replace":
            if not objects:
                self.log.warning("No objects to load: %s is left unchanged", target.name)
                return []
            return self._replace(target, objects)
        if self.spec.mode == "append" and self.source.batches and self.spec.batch_size > 1:
            results: list[LoadResult] = []
            for batch in plan_batches(objects, self.spec.batch_size, self.spec.batch_bytes):
                results.extend(self._load_batch(target, batch))
            return results
        return [self._load_one(target, obj) for obj in objects]

    def _load_batch(self, target: TargetTable, batch: Sequence[COSObject]) -> list[LoadResult]:
        """``batch`` in one transaction; if that fails and the connection lives, the batch again
        one object per transaction (the ledger skips nothing of the failed attempt: it was
        rolled back), so the objects before the failing one commit and its error names it."""
        if len(batch) == 1:
            return [self._load_one(target, batch[0])]
        try:
            return self._load_together(target, batch)
        except (SnovaLoadError, InvalidInputError) as err:
            self.source.prefetch([])
            if not self._object_failed(err):
                raise
            self.log.warning(
                "The transaction of %d object(s) from %s failed (%s): loading them again one "
                "object per transaction",
                len(batch),
                batch[0].url,
                err,
            )
            return [self._load_one(target, obj) for obj in batch]

    def _object_failed(self, err: BaseException) -> bool:
        """Whether ``err`` may be one object's fault, so that loading the batch again one object
        per transaction finds out which: not when the connection is gone, and not when the
        statement was cancelled (``on_kill``, ``statement_timeout``) or the server went away."""
        import psycopg2

        return not self.conn.closed and not isinstance(err.__cause__, psycopg2.OperationalError)

    def _load_together(self, target: TargetTable, batch: Sequence[COSObject]) -> list[LoadResult]:
        results: list[LoadResult] = []
        entries: list[LedgerEntry] = []
        current: COSObject | None = None
        with self._undone_on_error(lambda: current or batch[0]):
            with self.conn.cursor() as cur:
                self.ledger.lock_table(cur, target.name)
                found = self._find_loaded(cur, target, batch)
                todo = [o for o in batch if (o.bucket, o.key, normalize_etag(o.etag)) not in found]
                for obj in todo:
                    self.source.check(obj)
                self.source.prefetch(todo)
                together = self._copy_together(cur, target, todo)
                for obj in batch:
                    current = obj
                    started = time.monotonic()
                    entry = found.get((obj.bucket, obj.key, normalize_etag(obj.etag)))
                    if entry is not None:
                        results.append(self._skipped(target, obj, entry, started))
                        continue
                    if together is not None:
                        rows, rejected = together[id(obj)], 0
                    else:
                        rows, rejected = self._load_in_batch(cur, target, obj)
                    entries.append(self._entry(target, obj, rows, rejected))
                    results.append(
                        LoadResult(obj, rows, LOADED, time.monotonic() - started, rejected)
                    )
                self.ledger.record_many(cur, entries)
            self._commit(batch[-1])
        for result in results:
            if result.status == LOADED:
                self._log_loaded(target, result)
        return results

    def _find_loaded(
        self, cur: Any, target: TargetTable, batch: Sequence[COSObject]
    ) -> dict[tuple[str, str, str], dict]:
        """``{(bucket, key, etag): ledger entry}`` of the batch's loaded versions, one query per
        bucket."""
        found: dict[tuple[str, str, str], dict] = {}
        for bucket in dict.fromkeys(obj.bucket for obj in batch):
            keys = [obj.key for obj in batch if obj.bucket == bucket]
            for (key, etag), entry in self.ledger.find_loaded(
                cur, target.name, bucket, keys
            ).items():
                found[(bucket, key, etag)] = entry
        return found

    def _copy_together(
        self, cur: Any, target: TargetTable, objects: Sequence[COSObject]
    ) -> dict[int, int] | None:
        """The source's one-statement load of ``objects`` (``RowSource.load_together``):
        ``{id(object): rows}``, or ``None`` when it cannot. A read error fails the batch (which
        is then loaded one object per transaction, naming the object that fails)."""
        try:
            counts = self.source.load_together(cur, target.relation, target, objects)
        except (OSError, EOFError, TencentCloudError) as err:
            if isinstance(err, (SnovaError, InvalidInputError)):
                raise
            raise SnovaLoadError(
                objects[0].key, redact(f"reading the batch failed: {err}", self.source.secrets)
            ) from err
        if counts is None:
            return None
        self.log.info(
            "One COPY loaded %d object(s), %d row(s), from %s on",
            len(objects),
            sum(counts),
            objects[0].url,
        )
        return {id(obj): rows for obj, rows in zip(objects, counts, strict=True)}

    def _load_in_batch(self, cur: Any, target: TargetTable, obj: COSObject) -> tuple[int, int]:
        """One object's rows inside a batch's transaction (the step a savepoint would wrap)."""
        return self._insert(cur, target.relation, target, obj)

    def _skipped(
        self, target: TargetTable, obj: COSObject, found: dict, started: float
    ) -> LoadResult:
        """The result of an object version the ledger records, logged with who loaded it."""
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
        return LoadResult(
            obj, int(found["rows"]), SKIPPED, time.monotonic() - started, int(found["rejected"])
        )

    def _load_one(self, target: TargetTable, obj: COSObject) -> LoadResult:
        started = time.monotonic()
        self.source.check(obj)
        with self._undone_on_error(lambda: obj):
            with self.conn.cursor() as cur:
                self.ledger.lock_table(cur, target.name)
                found = self.ledger.find(cur, target.name, obj.bucket, obj.key, obj.etag)
                if found is not None:
                    self.conn.rollback()
                    return self._skipped(target, obj, found, started)
                if self.spec.mode == "upsert":
                    rows, rejected = self._upsert(cur, target, obj)
                else:
                    rows, rejected = self._insert(cur, target.relation, target, obj)
                self._record(cur, target, obj, rows, rejected)
            self._commit(obj)
        result = LoadResult(obj, rows, LOADED, time.monotonic() - started, rejected)
        self._log_loaded(target, result)
        return result

    def _replace(self, target: TargetTable, objects: Sequence[COSObject]) -> list[LoadResult]:
        from psycopg2 import sql

        started = time.monotonic()
        for obj in objects:
            self.source.check(obj)
        results: list[LoadResult] = []
        current = objects[0]
        with self._undone_on_error(lambda: current):
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
                    results.append(LoadResult(obj, rows, LOADED, time.monotonic() - one, rejected))
            self._commit(objects[-1])
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
        self, cur: Any, relation: Composable, target: TargetTable, obj: COSObject
    ) -> tuple[int, int]:
        """Run the source, turning database and stream errors into :class:`SnovaLoadError`."""
        import psycopg2

        try:
            rows, rejected = self.source.load(cur, relation, target, obj)
        except ObjectChangedError as err:
            raise SnovaLoadError(
                obj.key,
                f"the object is no longer the version listed (etag {obj.etag}): it was "
                "overwritten or deleted; nothing of it was committed, run the load again to load "
                "the current version",
            ) from err
        except psycopg2.Error as err:
            reason, line = describe_db_error(err, self.source.secrets)
            raise SnovaLoadError(obj.key, reason, line) from err
        except (OSError, EOFError, TencentCloudError) as err:
            if isinstance(err, (SnovaError, InvalidInputError)):
                raise
            raise SnovaLoadError(
                obj.key, redact(f"reading the object failed: {err}", self.source.secrets)
            ) from err
        self._check_unchanged(obj)
        return rows, rejected

    def _upsert(self, cur: Any, target: TargetTable, obj: COSObject) -> tuple[int, int]:
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
        columns = column_list(target.load_columns)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                target.relation, columns, columns, stage
            )
        )
        self.log.info("Upsert of %s replaced %d existing row(s)", obj.url, replaced)
        return rows, rejected

    def _check_unchanged(self, obj: COSObject) -> None:
        if self.head_object is None or self.source.reads_listed_version:
            return
        current = self.head_object(obj.bucket, obj.key).etag
        if current != obj.etag:
            raise SnovaLoadError(
                obj.key,
                f"the object changed while it was being loaded (etag {obj.etag} -> {current}); "
                "nothing was committed, run the load again to load the new version",
            )

    def _entry(self, target: TargetTable, obj: COSObject, rows: int, rejected: int) -> LedgerEntry:
        return LedgerEntry.of(
            target.name,
            obj,
            rows,
            rejected,
            dag_id=self.spec.dag_id,
            run_id=self.spec.run_id,
            task_id=self.spec.task_id,
        )

    def _record(
        self, cur: Any, target: TargetTable, obj: COSObject, rows: int, rejected: int
    ) -> None:
        self.ledger.record(cur, self._entry(target, obj, rows, rejected))

    def _commit(self, obj: COSObject) -> None:
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

    @contextmanager
    def _undone_on_error(self, failing: Callable[[], COSObject | None]) -> Iterator[None]:
        """Roll back when the block raises, and re-raise a database error as a
        :class:`SnovaLoadError` naming the object ``failing()`` returns (a :class:`SnovaError`
        when it returns ``None``: nothing was being loaded yet)."""
        try:
            yield
        except BaseException as err:
            self._rollback()
            wrapped = self._as_load_error(err, failing())
            if wrapped is err:
                raise
            raise wrapped from err

    def _as_load_error(self, err: BaseException, obj: COSObject | None) -> BaseException:
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

    def _log_loaded(self, target: TargetTable, result: LoadResult) -> None:
        self.log.info(
            "Loaded %d row(s) (%d rejected) from cos://%s/%s (etag %s) into %s in %.2fs",
            result.rows,
            result.rejected,
            result.obj.bucket,
            result.obj.key,
            result.obj.etag,
            target.name,
            result.seconds,
        )
