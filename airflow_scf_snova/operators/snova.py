"""Run SQL on Snova, and set up the least-privilege login that loads and queries run as.

Any common-sql operator works with a ``snova`` connection (``SQLExecuteQueryOperator(conn_id=
"snova_default", ...)``, the check operators, ``SqlSensor``); :class:`SnovaSQLOperator` only
defaults the connection. Importing this module loads no database driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import BaseOperator
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.operators.base import is_templated
from airflow_scf_snova.snova.spec import check_role_arguments

if TYPE_CHECKING:
    from airflow.sdk import Context


class SnovaSQLOperator(SQLExecuteQueryOperator):
    """Execute SQL on Snova: :class:`SQLExecuteQueryOperator` with ``conn_id`` defaulting to
    ``snova_default``. Everything else (``parameters``, ``split_statements``, ``return_last``,
    ``handler``, ``.sql`` templates) is the parent's.

    :param conn_id: the ``snova`` connection. (templated)
    """

    ui_color = "#c6e2ff"

    def __init__(self, *, conn_id: str = "snova_default", **kwargs: Any) -> None:
        super().__init__(conn_id=conn_id, **kwargs)


class SnovaEnsureRoleOperator(BaseOperator):
    """Create or update a login role with exactly the privileges its loads and queries need:
    ``INSERT`` (and, per mode, ``DELETE``/``SELECT``) on the tables it loads, ``SELECT`` on the
    tables it queries, ``SELECT``/``INSERT`` (``DELETE`` for ``replace``) on the load ledger,
    ``USAGE`` on their schemas, ``TEMPORARY`` for ``upsert``, and on Snova ``CREATE`` on the
    loaded tables' schemas and ``SELECT`` on the ``cos`` protocol for external tables. Nothing
    more; idempotent (a second run resets the role to these arguments).

    The role's name and password come from a ``snova`` connection (``role_conn_id``): its login
    and password, the credentials the role's users (DAG tasks, SCF functions) log in with. The
    password is sent only as a verifier computed on the worker (SCRAM-SHA-256, or MD5 where the
    server asks for it); it never reaches SQL text, logs or XCom. The ledger is created when
    missing, so the role needs no ``CREATE`` for it. Returns (XCom) what
    :meth:`SnovaHook.ensure_role <airflow_scf_snova.hooks.snova.SnovaHook.ensure_role>` did:
    ``role``, ``role_created``, ``ledger``, ``tables`` (privileges per table), ``schemas``,
    ``temporary`` and ``cos_protocol``.

    :param role_conn_id: the connection holding the role's login and password. (templated)
    :param role: the role's name; default: ``role_conn_id``'s login. (templated)
    :param load_tables: tables the role loads into (``COSToSnovaOperator``, the SCF import
        function). (templated)
    :param read_tables: tables the role queries. (templated)
    :param modes: the load modes it uses: ``append``, ``replace``, ``upsert``.
    :param ledger_table: the ledger its loads share. (templated)
    :param external_tables: whether its loads use ``cos_ext`` external tables; ``None``: when
        the server is Snova (Greenplum).
    :param snova_conn_id: the connection that creates the role (allowed to create roles and to
        grant on the tables). (templated)
    """

    template_fields: Sequence[str] = (
        "role_conn_id",
        "role",
        "load_tables",
        "read_tables",
        "ledger_table",
        "snova_conn_id",
    )
    ui_color = "#c6e2ff"

    def __init__(
        self,
        *,
        role_conn_id: str,
        role: str | None = None,
        load_tables: Sequence[str] = (),
        read_tables: Sequence[str] = (),
        modes: Sequence[str] = ("append",),
        ledger_table: str = DEFAULT_LEDGER_TABLE,
        external_tables: bool | None = None,
        snova_conn_id: str = "snova_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.role_conn_id = role_conn_id
        self.role = role
        self.load_tables = load_tables
        self.read_tables = read_tables
        self.modes = modes
        self.ledger_table = ledger_table
        self.external_tables = external_tables
        self.snova_conn_id = snova_conn_id
        values = (role, load_tables, read_tables, ledger_table)
        if not any(is_templated(value) for value in values):
            self._check(role or "role")

    def _check(self, role: str) -> None:
        check_role_arguments(
            role, self.load_tables, self.read_tables, self.modes, self.ledger_table
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk import Connection

        from airflow_scf_snova.hooks.snova import SnovaHook

        credentials = Connection.get(self.role_conn_id)
        role = self.role or credentials.login
        if not role:
            raise InvalidInputError(
                f"connection {self.role_conn_id!r} has no login: it names the role to set up"
            )
        if not credentials.password:
            raise InvalidInputError(f"connection {self.role_conn_id!r} has no password for {role}")
        self._check(role)
        return SnovaHook(snova_conn_id=self.snova_conn_id).ensure_role(
            role,
            credentials.password,
            load_tables=list(self.load_tables),
            read_tables=list(self.read_tables),
            modes=list(self.modes),
            ledger_table=self.ledger_table,
            external_tables=self.external_tables,
        )
