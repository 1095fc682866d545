"""The ``snova`` connection: Tencent Cloud's Greenplum-based warehouse, spoken to as PostgreSQL.

Everything ``PostgresHook`` offers works (``SQLExecuteQueryOperator(conn_id="snova_default")``,
``SqlSensor``, the check operators); this hook adds Greenplum detection, identifier quoting, and
the entry points of the Snova engine (:mod:`airflow_scf_snova.snova`):
:meth:`SnovaHook.load_objects` (COS to Snova, exactly once), :meth:`SnovaHook.export_query`
(Snova to COS) and :meth:`SnovaHook.ensure_role` (a least-privilege login role).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.postgres.hooks.postgres import PostgresHook
from scf_snova_core import sql as core_sql
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE
from scf_snova_core.loads import LOADED, MIN_SERVER_VERSION

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError, invalid_input
from airflow_scf_snova.snova.spec import check_role_arguments

if TYPE_CHECKING:
    from scf_snova_core.loads import LoadResult
    from scf_snova_core.objects import COSObject

    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.snova.sources import RowSource, ServerInfo
    from airflow_scf_snova.snova.spec import ExportSpec, LoadSpec

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
    #: The server process id of the session a load or an export of this hook is running on
    #: (``None`` when none is running); :meth:`cancel_work` cancels its statement.
    working_backend_pid: int | None = None

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
        with invalid_input():
            return core_sql.quote_table(table)

    @staticmethod
    def quote_identifier(name: str, what: str = "column"):
        """``psycopg2.sql.Identifier`` for a validated identifier."""
        with invalid_input():
            return core_sql.quote_identifier(name, what)

    # -- COS to Snova ------------------------------------------------------------------------------
    def load_objects(
        self,
        objects: Sequence[COSObject],
        spec: LoadSpec,
        cos_hook: COSHook,
        *,
        logger: logging.Logger | None = None,
    ) -> list[LoadResult]:
        """Load COS object versions into ``spec.table``, each at most once (see ``docs/snova.md``:
        the ledger, the advisory lock, the transactions of each mode).

        One psycopg2 connection for the whole load: it reads ``version()`` (Greenplum or not,
        which ``method="auto"`` needs) and then runs every transaction.

        :param objects: the object versions, in load order (their ETags are the ones loaded).
        :param spec: the table, format, mode, method, ledger and run identifiers.
        :param cos_hook: reads the objects (and, for external tables, lends its key pair).
        :param logger: where progress goes (the task's logger).
        :returns: one result per object: the object, ``rows``, ``rejected``, ``status``
            (``loaded`` or ``skipped``) and ``seconds``.
        :raises SnovaLoadError: an object failed; nothing of it was committed.
        """
        from airflow_scf_snova.snova.loader import SnovaLoader
        from airflow_scf_snova.snova.sources import ServerInfo

        logger = logger or self.log
        if not objects:
            logger.info("No objects to load into %s", spec.table)
            if spec.mode != "replace":
                return []
        with self._working_conn() as conn:
            self.read_server_version(conn)
            greenplum = self.is_greenplum()
            method = self._load_method(spec.method, greenplum)
            server = ServerInfo(conn.server_version, greenplum)
            if server.version_num < MIN_SERVER_VERSION:
                raise SnovaError(
                    f"server_version_num {server.version_num} is too old: loads need Greenplum 6 "
                    "(PostgreSQL 9.4) or later"
                )
            logger.info(
                "Loading %d object(s) into %s: mode=%s, method=%s",
                len(objects),
                spec.table,
                spec.mode,
                method,
            )
            loader = SnovaLoader(
                conn,
                self.row_source(method, server, cos_hook, spec),
                spec,
                head_object=cos_hook.head_object,
                logger=logger,
            )
            results = loader.run(objects)
        loaded = [r for r in results if r.status == LOADED]
        logger.info(
            "%d object(s) loaded (%d rows, %d rejected), %d skipped as already loaded",
            len(loaded),
            sum(r.rows for r in loaded),
            sum(r.rejected for r in loaded),
            len(results) - len(loaded),
        )
        return results

    @staticmethod
    def _load_method(method: str, greenplum: bool) -> str:
        if method == "auto":
            return "external_table" if greenplum else "copy"
        if method == "external_table" and not greenplum:
            raise SnovaError(
                "method='external_table' needs Snova (Greenplum with the cos_ext extension); "
                "this server is plain PostgreSQL. Use method='copy' or 'auto'."
            )
        return method

    def row_source(
        self, method: str, server: ServerInfo, cos_hook: COSHook, spec: LoadSpec
    ) -> RowSource:
        """The row source of a load's ``method`` (``copy`` or ``external_table``). The tests'
        seam: plain PostgreSQL has no ``cos_ext``, so they substitute an emulated source here."""
        from airflow_scf_snova.snova.sources import CopySource, ExternalTableSource

        cls = ExternalTableSource if method == "external_table" else CopySource
        return cls(cos_hook, spec.fmt, server, reject_limit=spec.reject_limit)

    # -- Snova to COS ------------------------------------------------------------------------------
    def export_query(
        self, spec: ExportSpec, cos_hook: COSHook, *, logger: logging.Logger | None = None
    ) -> dict[str, Any]:
        """Write the result of ``spec.sql`` to COS: with ``copy``, one object streamed in
        constant memory from a read-only transaction (no object appears if anything fails); with
        ``external_table`` (Snova only), one file per segment under ``spec.key``.

        :param spec: the query, the destination, the format and the method.
        :param cos_hook: uploads (and, for external tables, lends its key pair).
        :param logger: where progress goes.
        :returns: ``bucket``, ``key``, ``etag``, ``rows`` and ``bytes`` (``etag`` and ``bytes``
            are ``None`` with ``external_table``).
        :raises SnovaError: the query or the upload failed.
        """
        from airflow_scf_snova.snova import export

        with self._working_conn() as conn:
            if spec.method == "external_table":
                self.read_server_version(conn)
                if not self.is_greenplum():
                    raise SnovaError(
                        "method='external_table' needs Snova (Greenplum with cos_ext); this "
                        "server is plain PostgreSQL. Use method='copy'."
                    )
                return export.export_external(conn, spec, cos_hook, logger or self.log)
            return export.export_copy(conn, spec, cos_hook, logger or self.log)

    # -- the running statement -------------------------------------------------------------------
    @contextmanager
    def _working_conn(self) -> Iterator[Any]:
        """A psycopg2 connection for one load or export, its backend known to
        :meth:`cancel_work` while it is open; closed at the end."""
        conn = self.get_psycopg2_conn()
        self.working_backend_pid = conn.get_backend_pid()
        try:
            yield conn
        finally:
            self.working_backend_pid = None
            conn.close()

    def cancel_work(self) -> int | None:
        """Cancel the statement the running load or export of this hook is executing (a
        ``COPY``, an ``INSERT ... SELECT`` from an external table, a query), on the server:
        ``pg_cancel_backend`` of its backend, sent over a second connection, since the first is
        busy. Its transaction then rolls back, and the load or export fails.

        :returns: the backend's process id when the server accepted the cancel request,
            ``None`` when nothing was running (or it had just ended).
        """
        pid = self.working_backend_pid
        if pid is None:
            return None
        conn = self.get_psycopg2_conn()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_cancel_backend(%s)", (pid,))
                cancelled = cur.fetchone()[0]
        finally:
            conn.close()
        return pid if cancelled else None

    # -- roles -------------------------------------------------------------------------------------
    def ensure_role(
        self,
        role: str,
        password: str,
        *,
        load_tables: Sequence[str] = (),
        read_tables: Sequence[str] = (),
        modes: Sequence[str] = ("append",),
        ledger_table: str = DEFAULT_LEDGER_TABLE,
        external_tables: bool | None = None,
    ) -> dict[str, Any]:
        """Create or update a login role with exactly the privileges its loads and queries need
        (see :mod:`airflow_scf_snova.snova.roles`); idempotent. This hook's connection must be
        allowed to create roles and grant on the tables.

        :param role: the role's name.
        :param password: its password, sent only as a verifier computed on this side.
        :param load_tables: tables the role loads into (the ledger's grants follow).
        :param read_tables: tables the role queries.
        :param modes: the load modes it uses (``append``, ``replace``, ``upsert``).
        :param ledger_table: the ledger its loads share; created when missing.
        :param external_tables: whether its loads use ``cos_ext`` external tables; ``None``:
            when the server is Greenplum.
        :returns: ``role``, ``role_created``, ``ledger``, ``tables`` (privileges per table),
            ``schemas``, ``temporary`` and ``cos_protocol``.
        """
        from airflow_scf_snova.snova.roles import ensure_role

        check_role_arguments(role, load_tables, read_tables, modes, ledger_table)
        if not password:
            raise InvalidInputError(f"role {role!r} needs a password")
        conn = self.get_psycopg2_conn()
        try:
            self.read_server_version(conn)
            return ensure_role(
                conn,
                role,
                password,
                greenplum=self.is_greenplum(),
                load_tables=load_tables,
                read_tables=read_tables,
                modes=modes,
                ledger_table=ledger_table,
                external_tables=external_tables,
                logger=self.log,
            )
        finally:
            conn.close()
