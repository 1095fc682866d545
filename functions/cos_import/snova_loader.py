"""Exactly-once loads of single COS objects into one Snova table, from inside an SCF function.

The rules are the Airflow provider's, taken from the same place: ``scf_snova_core`` (copied into
the code package at deploy time). Rows loaded by this function and rows loaded by
``COSToSnovaOperator`` share **one ledger and one lock** (:mod:`scf_snova_core.ledger`):

- each object is loaded in one READ COMMITTED transaction that first takes the target table's
  advisory lock, then looks the object version up in the ledger (found: skipped), loads the rows,
  checks that the object did not change meanwhile, records it, and commits;
- on plain PostgreSQL the object is streamed from COS into ``COPY ... FROM STDIN``; on Snova
  (``version()`` names Greenplum) the segments read it through a per-object ``cos_ext`` external
  table whose LOCATION is the object's full key (:mod:`scf_snova_core.cos_ext`).

The SecretKey is part of the external table's LOCATION: that statement is never printed, and
database errors raised while it runs are re-raised with the secrets removed.
"""

from __future__ import annotations

import time
import uuid

from scf_snova_core.cos_ext import CosExtLocation, ExternalTableDDL, prefix_collisions
from scf_snova_core.errors import InvalidValueError
from scf_snova_core.formats import LoadFormat
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE, LedgerEntry, LoadLedger
from scf_snova_core.loads import (
    COPY_CHUNK,
    LOADED,
    METHODS,
    SKIPPED,
    LoadResult,
    check_choice,
    copy_from_stdin,
)
from scf_snova_core.names import split_table_name
from scf_snova_core.sql import (
    canonical_table,
    column_list,
    describe_db_error,
    quote_canonical,
    quote_table,
    table_columns,
)

__all__ = ["DEFAULT_LEDGER_TABLE", "LoadError", "SnovaObjectLoader"]


class LoadError(Exception):
    """Loading one object failed; nothing of it was committed."""


class SnovaObjectLoader:
    """Loads single objects into ``table`` through one psycopg2 connection.

    :param conn: a psycopg2 connection (set to READ COMMITTED, manual commit here).
    :param cos: a :class:`cos_source.CosSource`.
    :param table: the target, ``table`` or ``schema.table``.
    :param ledger_table: the ledger (pre-created by an administrator, or created when missing).
    :param method: ``auto`` (external table on Greenplum, COPY otherwise), ``copy`` or
        ``external_table``.
    :param header: whether each object starts with a header line.
    :param delimiter: the CSV delimiter.
    :param loaded_by: recorded as the ledger's ``dag_id`` (e.g. ``scf:<function name>``).
    :param request_id: recorded as the ledger's ``run_id``.
    """

    def __init__(
        self,
        conn,
        cos,
        table,
        ledger_table=DEFAULT_LEDGER_TABLE,
        method="auto",
        header=False,
        delimiter=",",
        loaded_by=None,
        request_id=None,
    ):
        check_choice(method, METHODS, "LOAD_METHOD")  # these raise ValueError
        split_table_name(table)
        self.fmt = LoadFormat(header=header, delimiter=delimiter)
        self.ledger = LoadLedger(ledger_table)
        self.conn = conn
        self.cos = cos
        self.loaded_by = loaded_by
        self.request_id = request_id
        conn.set_session(isolation_level="READ COMMITTED", autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            self.greenplum = "Greenplum Database" in cur.fetchone()[0]
            self.target = canonical_table(cur, table)
            self.column_types = table_columns(cur, table)
            if self.ledger.ensure(cur):
                print(f"Created the load ledger {self.ledger.table}")
        conn.commit()
        self.method = self._resolve_method(method)

    def _resolve_method(self, method):
        if method == "auto":
            method = "external_table" if self.greenplum else "copy"
            if method == "external_table" and self.cos.settings.token:
                print("cos_ext takes no session token: loading with COPY instead")
                method = "copy"
        elif method == "external_table":
            if not self.greenplum:
                raise LoadError("LOAD_METHOD=external_table needs Snova (Greenplum with cos_ext)")
            if self.cos.settings.token:
                raise LoadError(
                    "LOAD_METHOD=external_table needs a permanent API key (cos_ext has no session "
                    "token parameter); use LOAD_METHOD=copy"
                )
        return method

    # -- one object ------------------------------------------------------------------------------
    def load(self, bucket, key):
        """Load the current version of ``cos://bucket/key`` unless the ledger has it.

        :returns: the object's ``COSObject`` dict plus ``rows``, ``rejected``, ``status``
            (``loaded`` or ``skipped``) and ``seconds``.
        :raises LoadError: the object could not be loaded (nothing of it committed).
        """
        import psycopg2

        started = time.monotonic()
        obj = self.cos.head(bucket, key)
        if self.method == "external_table":
            self._check_prefix(obj)
        try:
            with self.conn.cursor() as cur:
                self.ledger.lock_table(cur, self.target)
                found = self.ledger.find(cur, self.target, obj.bucket, obj.key, obj.etag)
                if found is not None:
                    self.conn.rollback()
                    print(
                        f"Skipped {obj.url} (etag {obj.etag}): already loaded into {self.target} "
                        f"at {found['loaded_at']} by {found['dag_id']}/{found['run_id']} "
                        f"({found['rows']} rows)"
                    )
                    return self._result(obj, int(found["rows"]), SKIPPED, started)
                if self.method == "external_table":
                    rows = self._load_external(cur, obj)
                else:
                    rows = self._load_copy(cur, obj)
                current = self.cos.head(obj.bucket, obj.key).etag
                if current != obj.etag:
                    raise LoadError(
                        f"{obj.url} changed while it was loaded (etag {obj.etag} -> {current}); "
                        "nothing was committed"
                    )
                entry = LedgerEntry.of(
                    self.target, obj, rows, dag_id=self.loaded_by, run_id=self.request_id
                )
                self.ledger.record(cur, entry)
            self.conn.commit()
        except psycopg2.Error as err:
            self._rollback()
            reason, _ = describe_db_error(err, self.cos.settings.secrets)
            raise LoadError(f"loading cos://{bucket}/{key} failed: {reason}") from None
        except BaseException:
            self._rollback()
            raise
        print(
            f"Loaded {rows} row(s) from {obj.url} (etag {obj.etag}) into {self.target} "
            f"with {self.method}"
        )
        return self._result(obj, rows, LOADED, started)

    def _load_copy(self, cur, obj):
        stmt = copy_from_stdin(
            quote_canonical(self.target),
            [c for c, _ in self.column_types],
            self.fmt.copy_options(),
        )
        stream = self.cos.open(obj.bucket, obj.key)
        try:
            cur.copy_expert(stmt, stream, size=COPY_CHUNK)
        finally:
            stream.close()
        return cur.rowcount

    def _check_prefix(self, obj):
        """A LOCATION is a prefix: refuse when another key starts with this one."""
        others = prefix_collisions(obj.key, self.cos.list(obj.bucket, obj.key, page_size=10))
        if others:
            raise LoadError(
                f"cannot load {obj.url} exactly through cos_ext: the bucket also holds "
                f"{others!r}, which its LOCATION would read; set LOAD_METHOD=copy"
            )

    def external_table_ddl(self, obj, name):
        """The per-object readable external table (the key pair is the function's)."""
        settings = self.cos.settings
        try:
            return ExternalTableDDL(
                name=name,
                columns=self.column_types,
                location=CosExtLocation(
                    obj.bucket, obj.key, settings.region, settings.secret_id, settings.secret_key
                ),
                fmt=self.fmt,
            )
        except InvalidValueError as err:
            raise LoadError(f"{obj.url} cannot be loaded through cos_ext: {err}") from None

    def _load_external(self, cur, obj):
        from psycopg2 import sql

        settings = self.cos.settings
        schema = self.target.split(".", 1)[0]
        name = f"{schema}.airflow_scf_snova_ext_{uuid.uuid4().hex[:16]}"
        ddl = self.external_table_ddl(obj, name)
        print(f"Creating external table {ddl.name} on {obj.url}")
        try:
            cur.execute(ddl.render(cur))
        except Exception as err:
            reason, _ = describe_db_error(err, (settings.secret_id, *settings.secrets))
            # Not chained: the driver's exception may quote the statement, secrets included.
            raise LoadError(f"creating external table {ddl.name} failed: {reason}") from None
        columns = column_list(c for c, _ in self.column_types)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                quote_canonical(self.target), columns, columns, quote_table(ddl.name)
            )
        )
        rows = cur.rowcount
        cur.execute(ddl.drop())
        return rows

    def _rollback(self):
        if self.conn.closed:
            return
        try:
            self.conn.rollback()
        except Exception:  # the connection died with the transaction: nothing to undo
            pass

    @staticmethod
    def _result(obj, rows, status, started):
        return LoadResult(obj, rows, status, time.monotonic() - started).to_dict()
