"""SnovaHook.ensure_role and SnovaEnsureRoleOperator on a real PostgreSQL: the grants a load or a
query needs and nothing more, the password sent only as a verifier, idempotent."""

from __future__ import annotations

import io
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import pytest
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError, SnovaLoadError
from airflow_scf_snova.hooks.snova import SnovaHook

LEDGER = f"analytics.{DEFAULT_LEDGER_TABLE}"
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture
def role(db, snova_db, monkeypatch):
    """A fresh role name and password; ``snova_role`` logs in as it. Dropped afterwards."""
    name = f"loader_{uuid.uuid4().hex[:8]}"
    password = "pw-" + uuid.uuid4().hex + "'\"; --"
    database = urlsplit(snova_db).path.lstrip("/")
    db.execute("CREATE SCHEMA analytics")
    db.execute("CREATE TABLE analytics.orders (id int, v text)")
    db.execute("CREATE TABLE analytics.lookup (id int)")
    # PUBLIC may create temporary tables by default: take that away, so that the role's own
    # TEMPORARY grant is what upsert relies on.
    db.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    parts = urlsplit(snova_db)
    netloc = f"{name}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    uri = urlunsplit(parts._replace(netloc=netloc))
    monkeypatch.setenv("AIRFLOW_CONN_SNOVA_ROLE", uri.replace("postgresql://", "snova://", 1))
    yield type("Role", (), {"name": name, "password": password, "dsn": uri, "db": database})
    db.execute(f'GRANT TEMPORARY ON DATABASE "{database}" TO PUBLIC')
    if db.scalar("SELECT count(*) FROM pg_roles WHERE rolname = %s", (name,)):
        db.execute(f"DROP OWNED BY {name}")
        db.execute(f"DROP ROLE {name}")


def privileges(db, role: str, table: str) -> list[str]:
    return [
        p
        for p in PRIVILEGES
        if db.scalar("SELECT has_table_privilege(%s, %s, %s)", (role, table, p))
    ]


def as_role(role, statement: str):
    conn = psycopg2.connect(role.dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else cur.rowcount
    finally:
        conn.close()


def test_an_appending_and_querying_role_gets_exactly_its_grants(db, role):
    result = SnovaHook().ensure_role(
        role.name,
        role.password,
        load_tables=["analytics.orders"],
        read_tables=["analytics.lookup"],
        ledger_table=LEDGER,
    )

    assert result == {
        "role": role.name,
        "role_created": True,
        "ledger": LEDGER,
        "tables": {
            "analytics.orders": ["INSERT"],
            "analytics.lookup": ["SELECT"],
            LEDGER: ["SELECT", "INSERT"],
        },
        "schemas": {"analytics": ["USAGE"]},
        "temporary": False,
        "cos_protocol": False,
    }
    assert privileges(db, role.name, "analytics.orders") == ["INSERT"]
    assert privileges(db, role.name, "analytics.lookup") == ["SELECT"]
    assert privileges(db, role.name, LEDGER) == ["SELECT", "INSERT"]
    assert db.rows(
        "SELECT has_schema_privilege(%s, 'analytics', 'USAGE'), "
        "has_schema_privilege(%s, 'analytics', 'CREATE'), "
        "has_database_privilege(%s, current_database(), 'TEMPORARY'), "
        "(SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = %s)",
        (role.name,) * 4,
    ) == [(True, False, False, False)]
    for statement in (
        "DELETE FROM analytics.orders",
        "SELECT * FROM analytics.orders",
        "CREATE TABLE analytics.probe (a int)",
        "CREATE TEMP TABLE probe (a int)",
        "DROP TABLE analytics.lookup",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            as_role(role, statement)


def test_the_grants_are_enough_for_each_load_mode_and_a_query(db, bucket, put, run_load, role):
    SnovaHook().ensure_role(
        role.name,
        role.password,
        load_tables=["analytics.orders"],
        read_tables=["analytics.orders"],
        modes=["append", "replace", "upsert"],
        ledger_table=LEDGER,
    )
    put("a.csv", "1,a\n2,a\n")
    put("u.csv", "2,u\n3,u\n")
    common = dict(table="analytics.orders", bucket=bucket, ledger_table=LEDGER)
    common["snova_conn_id"] = "snova_role"

    assert run_load(keys=["a.csv"], **common)[0]["status"] == "loaded"
    assert run_load(keys=["a.csv"], **common)[0]["status"] == "skipped"
    run_load(keys=["u.csv"], mode="upsert", upsert_keys=["id"], **common)
    assert as_role(role, "SELECT id, v FROM analytics.orders ORDER BY id") == [
        (1, "a"),
        (2, "u"),
        (3, "u"),
    ]
    run_load(keys=["a.csv"], mode="replace", **common)
    assert db.rows("SELECT id, v FROM analytics.orders ORDER BY id") == [(1, "a"), (2, "a")]


def test_an_append_only_role_cannot_upsert_or_replace(db, bucket, put, run_load, role):
    SnovaHook().ensure_role(
        role.name, role.password, load_tables=["analytics.orders"], ledger_table=LEDGER
    )
    put("a.csv", "1,a\n")
    common = dict(table="analytics.orders", bucket=bucket, keys=["a.csv"], ledger_table=LEDGER)
    common["snova_conn_id"] = "snova_role"
    with pytest.raises(SnovaLoadError, match="permission denied"):
        run_load(mode="upsert", upsert_keys=["id"], **common)
    with pytest.raises(SnovaLoadError, match="permission denied"):
        run_load(mode="replace", **common)
    assert db.scalar("SELECT count(*) FROM analytics.orders") == 0


def test_running_it_again_resets_the_role_to_the_arguments(db, role):
    hook = SnovaHook()
    kwargs = dict(load_tables=["analytics.orders"], ledger_table=LEDGER)
    assert hook.ensure_role(role.name, role.password, modes=["upsert"], **kwargs)["temporary"]
    db.execute(f"GRANT TRUNCATE, UPDATE ON analytics.orders TO {role.name}")  # by hand
    db.execute(f"GRANT CREATE ON SCHEMA analytics TO {role.name}")
    new_password = "another-" + uuid.uuid4().hex

    again = hook.ensure_role(role.name, new_password, **kwargs)

    assert again["role_created"] is False and again["temporary"] is False
    assert privileges(db, role.name, "analytics.orders") == ["INSERT"]
    assert db.rows(
        "SELECT has_schema_privilege(%s, 'analytics', 'CREATE'), "
        "has_database_privilege(%s, current_database(), 'TEMPORARY')",
        (role.name, role.name),
    ) == [(False, False)]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(role.dsn).close()
    parts = urlsplit(role.dsn)
    netloc = f"{role.name}:{new_password}@{parts.hostname}:{parts.port}"
    psycopg2.connect(urlunsplit(parts._replace(netloc=netloc))).close()


def test_the_password_reaches_the_server_only_as_a_verifier(db, role, monkeypatch, caplog):
    # psycopg2's LoggingConnection writes every statement the client sends.
    from psycopg2.extras import LoggingConnection

    sent = io.StringIO()
    real = SnovaHook.get_psycopg2_conn

    def logging_conn(self, **options):
        conn = real(self, connection_factory=LoggingConnection, **options)
        conn.initialize(sent)
        return conn

    monkeypatch.setattr(SnovaHook, "get_psycopg2_conn", logging_conn)
    caplog.set_level("DEBUG")
    result = SnovaHook().ensure_role(
        role.name, role.password, read_tables=["analytics.lookup"], ledger_table=LEDGER
    )

    statements = sent.getvalue()
    assert f'CREATE ROLE "{role.name}" WITH LOGIN PASSWORD \'SCRAM-SHA-256$' in statements
    assert role.password not in statements
    assert role.password not in caplog.text and role.password not in repr(result)
    [(stored,)] = db.rows("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role.name,))
    assert stored.startswith("SCRAM-SHA-256$") and role.password not in stored
    assert result["ledger"] is None and result["tables"] == {"analytics.lookup": ["SELECT"]}


def test_a_failure_changes_nothing_and_names_the_cause(db, role):
    with pytest.raises(SnovaError, match='relation "analytics.missing" does not exist'):
        SnovaHook().ensure_role(
            role.name,
            role.password,
            load_tables=["analytics.orders", "analytics.missing"],
            ledger_table=LEDGER,
        )
    assert db.scalar("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role.name,)) == 0
    assert db.scalar("SELECT to_regclass(%s)", (LEDGER,)) is None


def test_a_superuser_or_the_admin_itself_is_refused(db, snova_db, role):
    admin = urlsplit(snova_db).username
    with pytest.raises(SnovaError, match="superuser or the connection's own user"):
        SnovaHook().ensure_role(admin, "x", read_tables=["analytics.lookup"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "bad name"}, "role name"),
        ({"read_tables": []}, "give load_tables or read_tables"),
        ({"read_tables": "analytics.lookup"}, "read_tables must be a list"),
        ({"read_tables": ["t; DROP TABLE t"]}, "table name"),
        ({"modes": ["merge"]}, "mode must be one of"),
        ({"ledger_table": "a.b.c"}, "must be 'table' or 'schema.table'"),
        ({"password": ""}, "needs a password"),
    ],
)
def test_invalid_arguments_are_refused_before_any_statement(kwargs, message, snova_db):
    arguments = {"role": "loader", "password": "pw", "read_tables": ["analytics.lookup"]}
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        SnovaHook().ensure_role(arguments.pop("role"), arguments.pop("password"), **arguments)


def test_the_operator_reads_the_role_from_its_connection(db, role, capfd):
    from airflow_scf_snova.operators.snova import SnovaEnsureRoleOperator

    op = SnovaEnsureRoleOperator(
        task_id="role",
        role_conn_id="snova_role",
        load_tables=["analytics.orders"],
        ledger_table=LEDGER,
    )
    result = op.execute({})
    assert (result["role"], result["role_created"]) == (role.name, True)
    assert privileges(db, role.name, "analytics.orders") == ["INSERT"]
    assert as_role(role, "SELECT 1") == [(1,)]  # it logs in with the connection's password
    out, err = capfd.readouterr()
    assert role.password not in out + err + repr(result)
    assert op.execute({})["role_created"] is False


def test_the_operator_checks_literal_arguments_at_construction():
    from airflow_scf_snova.operators.snova import SnovaEnsureRoleOperator

    with pytest.raises(InvalidInputError, match="give load_tables or read_tables"):
        SnovaEnsureRoleOperator(task_id="r", role_conn_id="c")
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        SnovaEnsureRoleOperator(task_id="r", role_conn_id="c", read_tables=["t"], modes=["x"])
    templated = SnovaEnsureRoleOperator(
        task_id="r", role_conn_id="c", role="{{ conn.c.login }}", read_tables=["t"]
    )
    assert "role" in templated.template_fields and "role_conn_id" in templated.template_fields
