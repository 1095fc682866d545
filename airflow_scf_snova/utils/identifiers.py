"""SQL identifier validation, importable at DAG-parse time (no database driver imported).

:class:`~airflow_scf_snova.hooks.snova.SnovaHook` re-exports these and adds quoting with
``psycopg2.sql``; operators validate table and column names in ``__init__`` through this module.
"""

from __future__ import annotations

import re

from airflow_scf_snova.exceptions import InvalidInputError

#: A plain SQL identifier as this provider accepts it: letters, digits, ``_`` and ``$``, not
#: starting with a digit, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
IDENTIFIER = re.compile(r"^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*$")
MAX_IDENTIFIER_BYTES = 63


def validate_identifier(name: str, what: str = "identifier") -> str:
    """Return ``name`` if it is a safe, plain SQL identifier; raise :class:`InvalidInputError`
    naming the input otherwise. Quoting (``psycopg2.sql.Identifier``) is still applied on use.

    :param name: the identifier, without quotes.
    :param what: what it names, for the message (``table``, ``column``, ...).
    """
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"{what} name must be a non-empty string, got {name!r}")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise InvalidInputError(f"{what} name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    if not IDENTIFIER.match(name):
        raise InvalidInputError(
            f"{what} name {name!r} may contain only letters, digits, '_' and '$' and must not "
            "start with a digit"
        )
    return name


def split_table_name(table: str) -> tuple[str | None, str]:
    """Split ``schema.table`` (or ``table``) and validate both parts."""
    parts = table.split(".") if isinstance(table, str) else [table]
    if len(parts) == 1:
        return None, validate_identifier(parts[0], "table")
    if len(parts) == 2:
        return validate_identifier(parts[0], "schema"), validate_identifier(parts[1], "table")
    raise InvalidInputError(f"table name {table!r} must be 'table' or 'schema.table'")
