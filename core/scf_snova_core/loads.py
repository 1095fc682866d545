"""The vocabulary of a COS-to-Snova load, shared by the Airflow provider's load engine and the SCF
import function: modes, methods, the ``COPY`` statement and the shape of a load's result.

Exactly-once bookkeeping is :mod:`.ledger`'s; file formats are :mod:`.formats`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InvalidValueError
from .sql import column_list

if TYPE_CHECKING:
    from psycopg2.sql import Composable

    from .objects import COSObject

#: ``append`` adds rows; ``replace`` makes the table exactly the run's objects (one transaction);
#: ``upsert`` replaces the rows whose keys match.
MODES = ("append", "replace", "upsert")
#: ``copy`` streams through the client into ``COPY ... FROM STDIN``; ``external_table`` has
#: Snova's segments read COS through ``cos_ext``; ``auto`` picks ``external_table`` on Greenplum.
METHODS = ("auto", "copy", "external_table")
#: Statuses of a load result.
LOADED = "loaded"
SKIPPED = "skipped"
#: Oldest server a load supports: Greenplum 6 (PostgreSQL 9.4); Greenplum 5 (8.3) lacks
#: ``pg_advisory_xact_lock`` and parenthesised ``COPY`` options.
MIN_SERVER_VERSION = 90400
#: Bytes per ``read`` while streaming an object into ``COPY``.
COPY_CHUNK = 256 * 1024


def check_choice(value: Any, choices: Sequence[str], what: str) -> str:
    """``value`` if it is one of ``choices``; :class:`InvalidValueError` naming ``what`` otherwise.

    :param value: the value given.
    :param choices: the allowed values (:data:`MODES`, :data:`METHODS`...).
    :param what: the argument's name, for the message.
    """
    if value not in choices:
        raise InvalidValueError(f"{what} must be one of {tuple(choices)}, got {value!r}")
    return value


def copy_from_stdin(
    relation: Composable, columns: Sequence[str], options: Composable
) -> Composable:
    """``COPY relation ("a", "b") FROM STDIN WITH (options)``.

    :param relation: the quoted target (a table, or a staging table).
    :param columns: the file's columns, in order.
    :param options: the parenthesised option list
        (:meth:`.formats.LoadFormat.copy_options`).
    """
    from psycopg2 import sql

    return sql.SQL("COPY {} ({}) FROM STDIN WITH {}").format(
        relation, column_list(columns), options
    )


@dataclass(frozen=True)
class LoadResult:
    """What happened to one object version: the object, and what the load did with it.

    :param obj: the object version (its ETag is the one loaded, or found in the ledger).
    :param rows: rows loaded (for a skipped object: the rows its earlier load committed).
    :param status: :data:`LOADED` or :data:`SKIPPED`.
    :param seconds: how long it took.
    :param rejected: malformed rows skipped under a reject limit.
    """

    obj: COSObject
    rows: int
    status: str
    seconds: float
    rejected: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The object's :meth:`~.objects.COSObject.to_dict` plus ``rows``, ``rejected``,
        ``status`` and ``seconds`` (rounded to milliseconds): JSON-serialisable."""
        return {
            **self.obj.to_dict(),
            "rows": self.rows,
            "rejected": self.rejected,
            "status": self.status,
            "seconds": round(self.seconds, 3),
        }
