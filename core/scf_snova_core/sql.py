"""SQL for Snova (Greenplum) and PostgreSQL: quoting validated names, reading the catalog, and
reporting database errors without secrets.

Statements are built as :mod:`psycopg2.sql` objects, so ``psycopg2`` is imported inside the
functions that build them: importing this module loads nothing but the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .names import split_table_name, validate_identifier

if TYPE_CHECKING:
    from psycopg2.sql import Composable

REDACTED = "***"
#: ``secretId=...`` / ``secretKey=...`` (a ``cos_ext`` LOCATION's parameters) up to the next
#: space or quote, any case.
_SECRET_PARAM = re.compile(r"(?i)\b(secret_?(?:id|key)\s*=\s*)[^\s'\"]*")
#: ``line 3`` in a server error's context (``COPY t1, line 3, column a1: "x"``).
_LINE = re.compile(r"\bline (\d+)")


def quote_table(table: str) -> Composable:
    """The quoted relation of a validated ``table`` or ``schema.table``.

    :raises InvalidValueError: a part is not a plain identifier.
    """
    from psycopg2 import sql

    schema, name = split_table_name(table)
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def quote_identifier(name: str, what: str = "column") -> Composable:
    """The quoted form of a validated identifier.

    :param name: the identifier, without quotes.
    :param what: what it names, for the error message.
    :raises InvalidValueError: not a plain identifier.
    """
    from psycopg2 import sql

    return sql.Identifier(validate_identifier(name, what))


def quote_canonical(name: str) -> Composable:
    """The quoted relation of a canonical ``schema.table`` as :func:`canonical_table` returns it
    (read from the catalog, so it is not validated again: the schema may be any name the server
    allows)."""
    from psycopg2 import sql

    schema, table = name.split(".", 1)
    return sql.Identifier(schema, table)


def column_list(columns: Iterable[str]) -> Composable:
    """``"a", "b", "c"``: quoted column names separated by commas."""
    from psycopg2 import sql

    return sql.SQL(", ").join(sql.Identifier(column) for column in columns)


def canonical_table(cur: Any, table: str) -> str:
    """``schema.table`` as the server resolves ``table`` (search path applied), so that ``t1``
    and ``public.t1`` share one lock and one set of ledger rows.

    :param cur: a psycopg2 cursor.
    :param table: ``table`` or ``schema.table``.
    :raises psycopg2.errors.UndefinedTable: no such table.
    """
    cur.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
        (quote_table(table).as_string(cur),),
    )
    schema, name = cur.fetchone()
    return f"{schema}.{name}"


def table_columns(cur: Any, table: str) -> list[tuple[str, str]]:
    """``(column, type)`` of each column of ``table`` in order, types as ``format_type`` spells
    them (``integer``, ``character varying(20)``). Reads only the catalog: needs no privilege on
    the table.

    :param cur: a psycopg2 cursor.
    :param table: ``table`` or ``schema.table``.
    :raises psycopg2.errors.UndefinedTable: no such table.
    """
    cur.execute(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (quote_table(table).as_string(cur),),
    )
    return [(str(name), str(type_text)) for name, type_text in cur.fetchall()]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every ``secretId=``/``secretKey=`` value and every given secret replaced by
    ``***``. Applied to logged DDL and to database errors raised while it ran.

    :param text: the text.
    :param secrets: literal values to remove wherever they appear.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


def describe_db_error(
    err: BaseException, secrets: Sequence[str | None] = ()
) -> tuple[str, int | None]:
    """``(reason, line)`` of a psycopg2 error: the server's primary message, detail and context
    (e.g. ``COPY t1, line 3, column a1: "x"``), redacted; ``line`` is the input line the context
    names, or ``None``.

    :param err: the exception.
    :param secrets: values to remove from the reason.
    """
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
