"""The grants docs/snova.md lists are enough: loads and exports run as a role that has exactly
those privileges (and TEMPORARY revoked from PUBLIC, so the upsert grant is really exercised)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

LEDGER = "analytics.airflow_scf_snova_load_ledger"


@pytest.fixture
def restricted(db, snova_db, monkeypatch):
    """``restricted(*grants)`` creates a login role with only ``grants`` (``{role}`` is
    substituted) and points the ``snova_restricted`` connection at it."""
    role = f"loader_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    database = urlsplit(snova_db).path.lstrip("/")
    db.execute("CREATE SCHEMA analytics")
    db.execute("CREATE TABLE analytics.orders (id int, v text)")
    db.execute(f'REVOKE TEMPORARY ON DATABASE "{database}" FROM PUBLIC')
    db.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))

    def make(*grants: str) -> str:
        db.execute(f"GRANT USAGE ON SCHEMA analytics TO {role}")
        for grant in grants:
            db.execute(grant.format(role=role, database=database))
        parts = urlsplit(snova_db)
        netloc = f"{role}:{password}@{parts.hostname}:{parts.port}"
        uri = urlunsplit(parts._replace(netloc=netloc)).replace("postgresql://", "snova://", 1)
        monkeypatch.setenv("AIRFLOW_CONN_SNOVA_RESTRICTED", uri)
        return role

    yield make
    db.execute(f"DROP OWNED BY {role}")
    db.execute(f"DROP ROLE {role}")


def test_append_needs_insert_and_create_on_the_ledger_schema(db, bucket, put, run_load, restricted):
    restricted(
        "GRANT INSERT ON analytics.orders TO {role}",
        "GRANT CREATE ON SCHEMA analytics TO {role}",
    )
    put("a.csv", "1,a\n")
    kwargs = dict(table="analytics.orders", bucket=bucket, keys=["a.csv"], ledger_table=LEDGER)
    kwargs["snova_conn_id"] = "snova_restricted"
    assert run_load(**kwargs)[0]["status"] == "loaded"
    assert run_load(**kwargs)[0]["status"] == "skipped"
    assert db.rows("SELECT id, v FROM analytics.orders") == [(1, "a")]


def test_replace_with_a_pre_created_ledger_needs_no_create(db, bucket, put, run_load, restricted):
    from scf_snova_core.ledger import LEDGER_COLUMNS

    db.execute(f"CREATE TABLE {LEDGER} ({LEDGER_COLUMNS})")
    restricted(
        "GRANT INSERT, DELETE ON analytics.orders TO {role}",
        f"GRANT SELECT, INSERT, DELETE ON {LEDGER} TO {{role}}",
    )
    db.execute("INSERT INTO analytics.orders VALUES (9, 'old')")
    put("r.csv", "1,new\n")
    run_load(
        table="analytics.orders",
        bucket=bucket,
        keys=["r.csv"],
        mode="replace",
        ledger_table=LEDGER,
        snova_conn_id="snova_restricted",
    )
    assert db.rows("SELECT id, v FROM analytics.orders") == [(1, "new")]


def test_upsert_needs_select_delete_and_temporary(db, bucket, put, run_load, restricted):
    restricted(
        "GRANT INSERT, SELECT, DELETE ON analytics.orders TO {role}",
        "GRANT CREATE ON SCHEMA analytics TO {role}",
        'GRANT TEMPORARY ON DATABASE "{database}" TO {role}',
    )
    db.execute("INSERT INTO analytics.orders VALUES (1, 'old'), (2, 'old')")
    put("u.csv", "2,new\n3,new\n")
    run_load(
        table="analytics.orders",
        bucket=bucket,
        keys=["u.csv"],
        mode="upsert",
        upsert_keys=["id"],
        ledger_table=LEDGER,
        snova_conn_id="snova_restricted",
    )
    assert db.rows("SELECT id, v FROM analytics.orders ORDER BY id") == [
        (1, "old"),
        (2, "new"),
        (3, "new"),
    ]


def test_upsert_without_temporary_fails_clearly_and_changes_nothing(
    db, bucket, put, run_load, restricted
):
    from airflow_scf_snova.exceptions import SnovaLoadError

    restricted(
        "GRANT INSERT, SELECT, DELETE ON analytics.orders TO {role}",
        "GRANT CREATE ON SCHEMA analytics TO {role}",
    )
    put("u.csv", "2,new\n")
    with pytest.raises(SnovaLoadError, match="u.csv.*permission denied to create temporary"):
        run_load(
            table="analytics.orders",
            bucket=bucket,
            keys=["u.csv"],
            mode="upsert",
            upsert_keys=["id"],
            ledger_table=LEDGER,
            snova_conn_id="snova_restricted",
        )
    assert db.scalar("SELECT count(*) FROM analytics.orders") == 0


def test_export_needs_only_select(db, bucket, restricted):
    from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

    restricted("GRANT SELECT ON analytics.orders TO {role}")
    db.execute("INSERT INTO analytics.orders VALUES (1, 'x')")
    result = SnovaToCOSOperator(
        task_id="export",
        sql="SELECT * FROM analytics.orders",
        bucket=bucket,
        key="o.csv",
        snova_conn_id="snova_restricted",
    ).execute({})
    assert result["rows"] == 1
