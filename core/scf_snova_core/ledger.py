"""The load ledger: which COS object versions are in which Snova table.

One row per ``(target_table, bucket, key, etag)`` that a load committed. The loader writes it in
the **same transaction** as the object's rows, so the ledger and the table can never disagree:
either both are committed or neither is. Before loading an object the loader takes a
transaction-scoped advisory lock on the target table (:func:`table_lock_key`) and only then
reads the ledger; two runs on two workers therefore serialise per table, and the second one
sees the first one's committed row and skips the object.

The ledger is created on first use (``CREATE`` on its schema needed), or can be created ahead of
time by an administrator with :data:`LEDGER_COLUMNS` (the loader then needs only SELECT, INSERT
and, for ``mode="replace"``, DELETE on it). The lock, the lookup, the record and the DDL are
written here only: the Airflow provider's load engine and the SCF import function both use this
module. psycopg2 is imported inside functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .names import split_table_name
from .objects import normalize_etag
from .sql import quote_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg2.sql import Composable

    from .objects import COSObject

DEFAULT_LEDGER_TABLE = "airflow_scf_snova_load_ledger"
#: The ledger's columns (also the DDL an administrator can run to pre-create it).
LEDGER_COLUMNS = (
    "target_table text NOT NULL, "
    "bucket text NOT NULL, "
    "key text NOT NULL, "
    "etag text NOT NULL, "
    "rows bigint NOT NULL, "
    "rejected bigint NOT NULL DEFAULT 0, "
    "loaded_at timestamptz NOT NULL DEFAULT now(), "
    "dag_id text, "
    "run_id text, "
    "task_id text, "
    "PRIMARY KEY (target_table, bucket, key, etag)"
)
_LOCK_NAMESPACE = b"airflow_scf_snova.cos_to_snova:"


def table_lock_key(name: str) -> int:
    """The signed 64-bit ``pg_advisory_xact_lock`` key for a canonical ``schema.table``.

    Computed client-side (not with the server's ``hashtext``) so that it is stable across server
    versions and reproducible by an operator who wants to block loads by hand.
    """
    import hashlib  # here, not at import: importing the ledger's constants stays cheap

    digest = hashlib.sha256(_LOCK_NAMESPACE + name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class LedgerEntry:
    """One committed load of one object version."""

    target_table: str
    bucket: str
    key: str
    etag: str
    rows: int
    rejected: int = 0
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None

    @classmethod
    def of(
        cls, target_table: str, obj: COSObject, rows: int, rejected: int = 0, **who: str | None
    ) -> LedgerEntry:
        """The entry of ``obj`` (a :class:`~.objects.COSObject`) loaded into ``target_table``.

        :param who: ``dag_id``, ``run_id``, ``task_id``: who loaded it.
        """
        return cls(target_table, obj.bucket, obj.key, obj.etag, rows, rejected, **who)


class LoadLedger:
    """Reads and writes the ledger through a psycopg2 cursor; the caller owns the transaction.

    :param table: the ledger table, ``table`` or ``schema.table`` (validated).
    """

    def __init__(self, table: str = DEFAULT_LEDGER_TABLE) -> None:
        self.schema, self.name = split_table_name(table)
        self.table = table

    @property
    def relation(self) -> Composable:
        """The quoted ledger table."""
        return quote_table(self.table)

    def exists(self, cur: Any) -> bool:
        """Whether the ledger table is visible (catalog lookup: needs no privilege on it)."""
        if self.schema:
            cur.execute(
                "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                (self.schema, self.name),
            )
        else:
            cur.execute(
                "SELECT 1 FROM pg_catalog.pg_class c WHERE c.relname = %s "
                "AND pg_catalog.pg_table_is_visible(c.oid)",
                (self.name,),
            )
        return cur.fetchone() is not None

    def ensure(self, cur: Any) -> bool:
        """Create the ledger if it is missing; returns whether it was created.

        Existence is checked first, so a pre-created ledger needs no ``CREATE`` privilege.
        Concurrent creators serialise on an advisory lock (two ``CREATE TABLE IF NOT EXISTS``
        racing can otherwise fail on the catalog's unique index). The caller commits.
        """
        from psycopg2 import sql

        if self.exists(cur):
            return False
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (table_lock_key(f"ledger:{self.table}"),))
        if self.exists(cur):
            return False
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(self.relation, sql.SQL(LEDGER_COLUMNS)))
        return True

    @staticmethod
    def lock_table(cur: Any, target_table: str) -> None:
        """Block until no other transaction holds the load lock of ``target_table``; released
        at commit or rollback."""
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (table_lock_key(target_table),))

    def find(self, cur: Any, target_table: str, bucket: str, key: str, etag: str) -> dict | None:
        """The committed entry for this object version, or ``None``. Call after
        :meth:`lock_table` in the same READ COMMITTED transaction so it sees concurrent
        commits."""
        from psycopg2 import sql

        cur.execute(
            sql.SQL(
                "SELECT rows, rejected, loaded_at, dag_id, run_id FROM {} "
                "WHERE target_table = %s AND bucket = %s AND key = %s AND etag = %s"
            ).format(self.relation),
            (target_table, bucket, key, normalize_etag(etag)),
        )
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip(("rows", "rejected", "loaded_at", "dag_id", "run_id"), row))

    def loaded_versions(
        self, cur: Any, target_table: str, bucket: str, keys: Sequence[str]
    ) -> set[tuple[str, str]]:
        """The ``(key, etag)`` pairs of ``keys`` that ``target_table`` has loaded from
        ``bucket`` (ETags normalised): an object whose current version is not among them is
        still to be loaded. One query for all of ``keys``; needs SELECT on the ledger.

        :param cur: a psycopg2 cursor.
        :param target_table: the canonical ``schema.table``.
        :param bucket: the full bucket name, as the loads record it.
        :param keys: the object keys to look up.
        """
        from psycopg2 import sql

        if not keys:
            return set()
        cur.execute(
            sql.SQL(
                "SELECT key, etag FROM {} WHERE target_table = %s AND bucket = %s AND key = ANY(%s)"
            ).format(self.relation),
            (target_table, bucket, list(keys)),
        )
        return {(key, normalize_etag(etag)) for key, etag in cur.fetchall()}

    def find_loaded(
        self, cur: Any, target_table: str, bucket: str, keys: Sequence[str]
    ) -> dict[tuple[str, str], dict]:
        """:meth:`find` for many keys in one query: ``{(key, etag): entry}`` of the versions of
        ``keys`` that ``target_table`` has loaded from ``bucket`` (ETags normalised). Call after
        :meth:`lock_table` in the same READ COMMITTED transaction.

        :param cur: a psycopg2 cursor.
        :param target_table: the canonical ``schema.table``.
        :param bucket: the full bucket name, as the loads record it.
        :param keys: the object keys to look up.
        """
        from psycopg2 import sql

        if not keys:
            return {}
        cur.execute(
            sql.SQL(
                "SELECT key, etag, rows, rejected, loaded_at, dag_id, run_id FROM {} "
                "WHERE target_table = %s AND bucket = %s AND key = ANY(%s)"
            ).format(self.relation),
            (target_table, bucket, list(keys)),
        )
        return {
            (row[0], normalize_etag(row[1])): dict(
                zip(("rows", "rejected", "loaded_at", "dag_id", "run_id"), row[2:])
            )
            for row in cur.fetchall()
        }

    def record_many(self, cur: Any, entries: Sequence[LedgerEntry]) -> None:
        """Insert ``entries`` with one statement (in the transaction that loaded their rows)."""
        from psycopg2 import sql
        from psycopg2.extras import execute_values

        if not entries:
            return
        execute_values(
            cur,
            sql.SQL(
                "INSERT INTO {} (target_table, bucket, key, etag, rows, rejected, dag_id, run_id, "
                "task_id) VALUES %s"
            )
            .format(self.relation)
            .as_string(cur),
            [
                (
                    e.target_table,
                    e.bucket,
                    e.key,
                    normalize_etag(e.etag),
                    e.rows,
                    e.rejected,
                    e.dag_id,
                    e.run_id,
                    e.task_id,
                )
                for e in entries
            ],
            page_size=len(entries),
        )

    def record(self, cur: Any, entry: LedgerEntry) -> None:
        """Insert ``entry`` (in the transaction that loaded the rows)."""
        self.record_many(cur, [entry])

    def forget_table(self, cur: Any, target_table: str) -> int:
        """Delete the entries of ``target_table`` (``mode="replace"`` empties the table in the
        same transaction); returns how many."""
        from psycopg2 import sql

        cur.execute(
            sql.SQL("DELETE FROM {} WHERE target_table = %s").format(self.relation),
            (target_table,),
        )
        return cur.rowcount
