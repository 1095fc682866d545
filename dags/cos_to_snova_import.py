"""The seed article's COS-import workflow (section 5), as an Airflow DAG.

The article binds an SCF function to a COS trigger on prefix ``snova/``, suffix ``.log``; the
function runs ``INSERT INTO t1 SELECT * FROM cos_tbl``, which re-reads the *whole* prefix on
every upload. Here a ``COSObjectSensor`` with the same filter waits for ``.log`` files and
``COSToSnovaOperator`` loads every object version under the prefix **once** (a ledger table
records each one in the same transaction as its rows), then common-sql's check operators verify
the table. ``setup_warehouse`` first creates ``t1``, the ledger and the dedicated
least-privilege user the article recommends (section 3, ``scf_visit``), idempotently.

Connections:

- ``snova_default`` (type ``snova``): the warehouse, as a user that may create tables and roles;
- ``snova_scf_visit`` (type ``snova``): the least-privilege user to create: its *login* is the
  user name (``scf_visit`` if empty) and its *password* the user's password. Only those two
  fields are read; the password never appears in this file, in logs or in SQL text (the role's
  password is set as a SCRAM/MD5 verifier computed on the client);
- ``tencentcloud_default``: SecretId/SecretKey, extras ``region``, ``appid`` (and ``endpoint``
  for the bundled emulator).

Params: ``bucket`` (``name-appid``; default from the ``SNOVA_IMPORT_BUCKET`` environment
variable), ``prefix`` and ``suffix`` (the COS trigger's filter).
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import DAG, Param, task

from airflow_scf_snova.sensors.cos import COSObjectSensor
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

TABLE = "t1"
LEDGER = "airflow_scf_snova_load_ledger"
SCF_VISIT_CONN_ID = "snova_scf_visit"
BUCKET = "{{ params.bucket }}"
DEFAULT_BUCKET = os.environ.get("SNOVA_IMPORT_BUCKET", "snova-demo-1250000000")

with DAG(
    dag_id="cos_to_snova_import",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["seed", "tencentcloud", "cos", "snova"],
    params={
        "bucket": Param(DEFAULT_BUCKET, type="string"),
        "prefix": Param("snova/", type="string"),
        "suffix": Param(".log", type="string"),
    },
) as dag:

    @task
    def setup_warehouse() -> dict:
        """Create ``t1``, the load ledger and the least-privilege user with exactly the grants
        the imports and queries need (the seed's ``GRANT ALL`` is more). Idempotent: running it
        again resets the user's password and privileges to what the connection says."""
        from airflow.sdk import Connection
        from psycopg2 import sql
        from psycopg2.extensions import encrypt_password
        from scf_snova_core.ledger import LoadLedger, table_lock_key
        from scf_snova_core.names import validate_identifier
        from scf_snova_core.sql import canonical_table

        from airflow_scf_snova.hooks.snova import SnovaHook

        visit = Connection.get(SCF_VISIT_CONN_ID)
        user = validate_identifier(visit.login or "scf_visit", "role")
        if not visit.password:
            raise ValueError(f"connection {SCF_VISIT_CONN_ID!r} has no password for {user}")
        conn = SnovaHook(snova_conn_id="snova_default").get_psycopg2_conn()
        try:
            with conn, conn.cursor() as cur:  # one transaction: all of it or nothing
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (table_lock_key(f"setup:{TABLE}"),))
                cur.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} (a1 int)").format(sql.Identifier(TABLE))
                )
                ledger = LoadLedger(LEDGER)
                ledger.ensure(cur)
                table, ledger_name = canonical_table(cur, TABLE), canonical_table(cur, LEDGER)
                cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (user,))
                created = cur.fetchone() is None
                # The password travels as a verifier hashed here (SCRAM-SHA-256, or MD5 where
                # the server asks for it), so not even a server logging DDL sees it; the
                # statement runs on the cursor, never through DbApiHook.run (which logs SQL).
                verifier = encrypt_password(visit.password, user, scope=conn)
                cur.execute(
                    sql.SQL("{} ROLE {} WITH LOGIN PASSWORD {}").format(
                        sql.SQL("CREATE" if created else "ALTER"),
                        sql.Identifier(user),
                        sql.Literal(verifier),
                    )
                )
                role = sql.Identifier(user)
                for name in {table.split(".")[0], ledger_name.split(".")[0]}:
                    cur.execute(
                        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(name), role)
                    )
                for name in (table, ledger_name):
                    rel = sql.Identifier(*name.split("."))
                    cur.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(rel, role))
                    cur.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(rel, role))
                cur.execute("SELECT version()")
                if "Greenplum Database" in cur.fetchone()[0]:
                    # Snova loads through per-object cos_ext tables in t1's schema.
                    schema = sql.Identifier(table.split(".")[0])
                    cur.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(schema, role))
                    cur.execute(sql.SQL("GRANT SELECT ON PROTOCOL cos TO {}").format(role))
        finally:
            conn.close()
        return {"table": table, "ledger": ledger_name, "role": user, "role_created": created}

    wait_for_logs = COSObjectSensor(
        task_id="wait_for_logs",
        bucket=BUCKET,
        prefix="{{ params.prefix }}",  # the seed's COS trigger filter ...
        suffix="{{ params.suffix }}",  # ... snova/*.log
        deferrable=True,
        poke_interval=60,
        timeout=6 * 60 * 60,
    )

    load = COSToSnovaOperator(
        task_id="load_into_t1",
        table=TABLE,
        bucket=BUCKET,
        prefix="{{ params.prefix }}",  # every object under it; the ledger skips loaded ones
        suffix="{{ params.suffix }}",
        format="csv",
        header=False,
        mode="append",
        method="auto",  # per-object cos_ext tables on Snova, streamed COPY elsewhere
    )

    check_table = SQLTableCheckOperator(
        task_id="check_t1",
        conn_id="snova_default",
        table=TABLE,
        checks={
            "not_empty": {"check_statement": "COUNT(*) > 0"},
            # Every row of t1 came through the ledger, once: no file was loaded twice.
            "rows_match_ledger": {
                "check_statement": (
                    f"COUNT(*) = (SELECT COALESCE(SUM(rows), 0) FROM {LEDGER} "
                    f"WHERE target_table = 'public.{TABLE}')"
                )
            },
        },
    )

    check_column = SQLColumnCheckOperator(
        task_id="check_a1",
        conn_id="snova_default",
        table=TABLE,
        column_mapping={"a1": {"null_check": {"equal_to": 0}, "min": {"geq_to": 1}}},
    )

    setup_warehouse() >> load
    wait_for_logs >> load >> [check_table, check_column]
