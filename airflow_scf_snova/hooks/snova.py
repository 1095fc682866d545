"""The ``snova`` connection: Tencent Cloud's Greenplum-based warehouse, spoken to as PostgreSQL.

Everything ``PostgresHook`` offers works (``SQLExecuteQueryOperator(conn_id="snova_default")``,
``SqlSensor``, the check operators); this hook adds Greenplum detection and identifier helpers.
"""

from __future__ import annotations

import re
from functools import cached_property

from airflow.providers.postgres.hooks.postgres import PostgresHook
from scf_snova_core.names import split_table_name, validate_identifier

from airflow_scf_snova.exceptions import invalid_input

#: Connection extras handed to libpq by :meth:`SnovaHook.get_psycopg2_conn`.
LIBPQ_EXTRAS = frozenset(
    {
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "connect_timeout",
        "options",
        "application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "target_session_attrs",
    }
)


class SnovaHook(PostgresHook):
    """Interact with Snova (Greenplum; plain PostgreSQL works too for development).

    :param snova_conn_id: the ``snova`` connection id; ``schema`` is the database.
    """

    conn_name_attr = "snova_conn_id"
    default_conn_name = "snova_default"
    conn_type = "snova"
    hook_name = "Snova (Tencent Cloud Data Warehouse)"

    @cached_property
    def server_version_banner(self) -> str:
        """``SELECT version()``, fetched once, on a short psycopg2 connection.

        Not through ``get_first``: ``DbApiHook.run`` sends hook lineage, and the first use of the
        lineage collector in a process imports every installed provider's asset handlers (1.5 s
        with the Amazon provider installed: see docs/benchmarks.md, "load throughput").
        """
        conn = self.get_psycopg2_conn()
        try:
            return self.read_server_version(conn)
        finally:
            conn.close()

    def read_server_version(self, conn) -> str:
        """Read ``version()`` on ``conn``, an open psycopg2 connection with no transaction in
        progress (the one this read starts is rolled back), and keep it as
        :attr:`server_version_banner`, which then opens no connection of its own. A load that
        needs the banner and a connection anyway saves a connection this way.
        """
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            banner = str(cur.fetchone()[0])
        conn.rollback()
        self.__dict__["server_version_banner"] = banner
        return banner

    def is_greenplum(self) -> bool:
        """Whether the server is Greenplum (Snova) rather than plain PostgreSQL."""
        return "Greenplum Database" in self.server_version_banner

    def greenplum_version(self) -> str | None:
        """The Greenplum version (``6.13.0``), or ``None`` on plain PostgreSQL."""
        match = re.search(r"Greenplum Database ([0-9][0-9.]*)", self.server_version_banner)
        return match.group(1) if match else None

    def get_psycopg2_conn(self, **options):
        """A new psycopg2 connection from the same Airflow connection.

        ``PostgresHook`` itself uses psycopg 3 when it is installed; the provider's loads and
        exports use psycopg2 (``copy_expert`` streaming and ``psycopg2.sql`` quoting), so they
        ask for this connection explicitly. libpq options in the connection's extras (such as
        ``sslmode``, ``connect_timeout``, ``options``, ``application_name``) are passed through.

        :param options: extra ``psycopg2.connect`` keyword arguments.
        """
        import psycopg2

        conn = self.get_connection(self.get_conn_id())
        kwargs = {
            "host": conn.host,
            "port": conn.port,
            "user": conn.login,
            "password": conn.password,
            "dbname": self.database or conn.schema,
        }
        for key, value in conn.extra_dejson.items():
            if key in LIBPQ_EXTRAS:
                kwargs[key] = value
        kwargs.update(options)
        return psycopg2.connect(**{k: v for k, v in kwargs.items() if v not in (None, "")})

    @staticmethod
    def quote_table(table: str):
        """``psycopg2.sql`` composable for a validated ``table`` or ``schema.table``."""
        from psycopg2 import sql

        with invalid_input():
            schema, name = split_table_name(table)
        return sql.Identifier(schema, name) if schema else sql.Identifier(name)

    @staticmethod
    def quote_identifier(name: str, what: str = "column"):
        """``psycopg2.sql.Identifier`` for a validated identifier."""
        from psycopg2 import sql

        with invalid_input():
            return sql.Identifier(validate_identifier(name, what))
