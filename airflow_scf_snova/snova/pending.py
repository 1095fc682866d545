"""Which COS objects a Snova table has not loaded yet, by its load ledger.

An object is *pending* for a table when the table's ledger (:mod:`scf_snova_core.ledger`) holds no
entry for its current version: it was never loaded, or it was overwritten (new ETag) since it
was. :class:`NotLoadedFilter` is what ``COSObjectSensor(not_loaded_into=...)`` and its trigger
apply to their matches, so a scheduled import waits for work instead of passing on objects it
would skip. psycopg2 and the PostgreSQL provider are imported on first use only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE, LoadLedger
from scf_snova_core.objects import normalize_etag

from airflow_scf_snova.exceptions import SnovaError

if TYPE_CHECKING:
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.cos.filters import KeyFilter
    from airflow_scf_snova.hooks.cos import COSHook

#: Object keys looked up in the ledger per query.
BATCH_SIZE = 500


def pending_objects(
    conn: Any,
    objects: Iterable[COSObject],
    table: str,
    ledger_table: str = DEFAULT_LEDGER_TABLE,
    limit: int | None = None,
) -> list[COSObject]:
    """The objects of ``objects`` whose current version ``table``'s ledger does not record, in
    order, at most ``limit`` of them. ``objects`` is consumed lazily, :data:`BATCH_SIZE` at a
    time, and no further than needed. A missing table or ledger has loaded nothing. Reads only
    (the transaction is rolled back).

    :param conn: a psycopg2 connection.
    :param objects: the candidates (an iterator is fine).
    :param table: the table the objects are loaded into, ``table`` or ``schema.table``.
    :param ledger_table: the ledger its loads record in.
    :param limit: stop after this many pending objects (``None``: all).
    """
    import psycopg2
    from scf_snova_core.sql import canonical_table

    ledger = LoadLedger(ledger_table)
    candidates = iter(objects)
    found: list[COSObject] = []
    try:
        with conn.cursor() as cur:
            try:
                target = canonical_table(cur, table)
            except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName):
                target = None
                conn.rollback()
            known = target is not None and ledger.exists(cur)
            for batch in _batches(candidates, BATCH_SIZE):
                loaded: set[tuple[str, str]] = set()
                if known:
                    for bucket in {obj.bucket for obj in batch}:
                        keys = [obj.key for obj in batch if obj.bucket == bucket]
                        loaded |= {
                            (bucket, *entry)
                            for entry in ledger.loaded_versions(cur, target, bucket, keys)
                        }
                for obj in batch:
                    if (obj.bucket, obj.key, normalize_etag(obj.etag)) not in loaded:
                        found.append(obj)
                        if limit is not None and len(found) >= limit:
                            return found
    except psycopg2.Error as err:
        raise SnovaError(
            f"reading the load ledger {ledger_table!r} of {table!r} failed: "
            f"{str(err).strip() or type(err).__name__}"
        ) from err
    finally:
        conn.rollback()
    return found


def _batches(items: Iterator[COSObject], size: int) -> Iterator[list[COSObject]]:
    while batch := list(islice(items, size)):
        yield batch


@dataclass(frozen=True)
class NotLoadedFilter:
    """Keeps the COS objects that a Snova table has not loaded yet (see the module).

    :param table: the table the objects are loaded into.
    :param ledger_table: the ledger of its loads.
    :param snova_conn_id: the ``snova`` connection; needs SELECT on the ledger.
    """

    table: str
    ledger_table: str = DEFAULT_LEDGER_TABLE
    snova_conn_id: str = "snova_default"

    def apply(self, objects: Iterable[COSObject], limit: int | None = None) -> list[COSObject]:
        """The pending objects of ``objects``, in order, at most ``limit``."""
        from airflow_scf_snova.hooks.snova import SnovaHook

        hook = SnovaHook(snova_conn_id=self.snova_conn_id)
        with closing(hook.get_psycopg2_conn()) as conn:
            return pending_objects(conn, objects, self.table, self.ledger_table, limit)

    def match(
        self,
        cos: COSHook,
        bucket: str,
        key: str | None,
        selection: KeyFilter,
        limit: int | None = None,
    ) -> list[COSObject]:
        """:meth:`COSHook.match_objects <airflow_scf_snova.hooks.cos.COSHook.match_objects>`,
        keeping the pending objects only: the listing is read until ``limit`` of them are
        found."""
        if key is not None:
            return self.apply(cos.match_objects(bucket, key, selection), limit)
        return self.apply(cos.iter_matching(bucket, selection), limit)
