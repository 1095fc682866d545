"""A least-privilege login role for loads and queries: the grants they need, and nothing more.

What each use needs (``docs/snova.md``, "Least privileges"):

=====================  =============================================================
load, ``append``       INSERT on the table; SELECT, INSERT on the ledger
load, ``replace``      INSERT, DELETE on the table; SELECT, INSERT, DELETE on the ledger
load, ``upsert``       INSERT, SELECT, DELETE on the table; TEMPORARY on the database
load, external tables  CREATE on the table's schema; SELECT on the ``cos`` protocol
query                  SELECT on the table
every table            USAGE on its schema
=====================  =============================================================

:func:`ensure_role` applies exactly that in one transaction and is idempotent: the role is
created or altered, its privileges on the tables it manages are revoked and granted again, so a
second run leaves it as the arguments say. The ledger is created first when missing (so the role
needs no ``CREATE`` for it). The password is sent only as a verifier computed on the client
(SCRAM-SHA-256, or MD5 where the server asks for it): it never appears in SQL text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from scf_snova_core.ledger import LoadLedger, table_lock_key
from scf_snova_core.sql import canonical_table, describe_db_error, quote_canonical

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError
from airflow_scf_snova.snova.spec import check_role_arguments

#: Privileges on a load's target table, per mode.
TABLE_PRIVILEGES = {
    "append": ("INSERT",),
    "replace": ("INSERT", "DELETE"),
    "upsert": ("INSERT", "SELECT", "DELETE"),
}
#: Privileges on the ledger, per mode (``find`` reads it, ``record`` inserts, ``replace``
#: forgets the table's entries).
LEDGER_PRIVILEGES = {
    "append": ("SELECT", "INSERT"),
    "replace": ("SELECT", "INSERT", "DELETE"),
    "upsert": ("SELECT", "INSERT"),
}
#: The order privileges are written in.
_ORDER = ("SELECT", "INSERT", "DELETE")

log = logging.getLogger(__name__)


def plan_grants(
    load_tables: Sequence[str], read_tables: Sequence[str], modes: Sequence[str], ledger: str | None
) -> dict[str, list[str]]:
    """``{table: privileges}`` for canonical table names (the ledger included).

    :param load_tables: tables the role loads into.
    :param read_tables: tables the role queries.
    :param modes: the load modes it uses.
    :param ledger: the ledger, when the role loads.
    """
    wanted: dict[str, set[str]] = {}
    for table in load_tables:
        for mode in modes:
            wanted.setdefault(table, set()).update(TABLE_PRIVILEGES[mode])
    for table in read_tables:
        wanted.setdefault(table, set()).add("SELECT")
    if ledger is not None:
        for mode in modes:
            wanted.setdefault(ledger, set()).update(LEDGER_PRIVILEGES[mode])
    return {table: [p for p in _ORDER if p in privileges] for table, privileges in wanted.items()}


def ensure_role(
    conn: Any,
    role: str,
    password: str,
    *,
    greenplum: bool,
    load_tables: Sequence[str] = (),
    read_tables: Sequence[str] = (),
    modes: Sequence[str] = ("append",),
    ledger_table: str,
    external_tables: bool | None = None,
    logger: logging.Logger | None = None,
) -> dict[str, Any]:
    """Create or update ``role`` (LOGIN, ``password``) with the privileges its loads and queries
    need, in one transaction. Returns what it did (no password, no verifier).

    :param conn: a psycopg2 connection as a user who may create roles and grant on the tables.
    :param role: the role's name.
    :param password: its password (sent as a verifier only).
    :param greenplum: whether the server is Greenplum (Snova).
    :param load_tables: tables the role loads into.
    :param read_tables: tables the role queries.
    :param modes: the load modes it uses.
    :param ledger_table: the ledger its loads share (created when missing).
    :param external_tables: whether its loads use ``cos_ext`` external tables; ``None``: on
        Greenplum.
    :param logger: where progress goes.
    :raises SnovaError: a table is missing, or the server refused a statement.
    """
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import encrypt_password

    check_role_arguments(role, load_tables, read_tables, modes, ledger_table)
    if not password:
        raise InvalidInputError(f"role {role!r} needs a password")
    logger = logger or log
    external = greenplum if external_tables is None else external_tables
    if external and not greenplum:
        raise SnovaError("external_tables=True needs Snova (Greenplum with cos_ext)")
    external = external and bool(load_tables)
    verifier = encrypt_password(password, role, scope=conn)
    ident = sql.Identifier(role)
    try:
        with conn, conn.cursor() as cur:  # one transaction: all of it or nothing
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (table_lock_key(f"role:{role}"),))
            ledger = None
            if load_tables:
                LoadLedger(ledger_table).ensure(cur)
                ledger = canonical_table(cur, ledger_table)
            loads = [canonical_table(cur, table) for table in load_tables]
            reads = [canonical_table(cur, table) for table in read_tables]
            created = _create_or_alter(cur, role, verifier)
            grants = plan_grants(loads, reads, modes, ledger)
            schemas = sorted({name.split(".", 1)[0] for name in grants})
            creatable = {name.split(".", 1)[0] for name in loads} if external else set()
            for schema in schemas:
                cur.execute(
                    sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), ident)
                )
                verb = "GRANT CREATE ON SCHEMA {} TO {}"
                if schema not in creatable:
                    verb = "REVOKE CREATE ON SCHEMA {} FROM {}"
                cur.execute(sql.SQL(verb).format(sql.Identifier(schema), ident))
            for table, privileges in grants.items():
                relation = quote_canonical(table)
                cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(relation, ident))
                cur.execute(
                    sql.SQL("GRANT {} ON {} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in privileges), relation, ident
                    )
                )
                logger.info("Granted %s on %s to %s", ", ".join(privileges), table, role)
            temporary = "upsert" in modes and bool(load_tables)
            cur.execute(
                sql.SQL(
                    "GRANT TEMPORARY ON DATABASE {} TO {}"
                    if temporary
                    else "REVOKE TEMPORARY ON DATABASE {} FROM {}"
                ).format(sql.Identifier(conn.info.dbname), ident)
            )
            if greenplum:
                cur.execute(
                    sql.SQL(
                        "GRANT SELECT ON PROTOCOL cos TO {}"
                        if external
                        else "REVOKE SELECT ON PROTOCOL cos FROM {}"
                    ).format(ident)
                )
    except psycopg2.Error as err:
        reason, _ = describe_db_error(err, (password, verifier))
        raise SnovaError(f"setting up role {role!r} failed: {reason}") from None
    logger.info("Role %s %s", role, "created" if created else "updated")
    return {
        "role": role,
        "role_created": created,
        "ledger": ledger,
        "tables": grants,
        "schemas": {s: ["USAGE", "CREATE"] if s in creatable else ["USAGE"] for s in schemas},
        "temporary": temporary,
        "cos_protocol": external,
    }


def _create_or_alter(cur: Any, role: str, verifier: str) -> bool:
    """``CREATE ROLE`` (or ``ALTER ROLE`` when it exists) ``LOGIN PASSWORD <verifier>``; returns
    whether it was created. A superuser, or the connection's own user, is refused: it would not
    be least-privilege."""
    from psycopg2 import sql

    cur.execute(
        "SELECT rolsuper, rolname = current_user FROM pg_catalog.pg_roles WHERE rolname = %s",
        (role,),
    )
    row = cur.fetchone()
    if row is not None and (row[0] or row[1]):
        raise SnovaError(
            f"role {role!r} is a superuser or the connection's own user: choose another name for "
            "a restricted role"
        )
    # The statement runs on the cursor, never through DbApiHook.run (which logs SQL); it holds
    # the verifier, not the password.
    cur.execute(
        sql.SQL("{} ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.SQL("CREATE" if row is None else "ALTER"),
            sql.Identifier(role),
            sql.Literal(verifier),
        )
    )
    return row is None
