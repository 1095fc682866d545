"""The seed article's COS-import workflow (section 5), as an Airflow DAG.

The article binds an SCF function to a COS trigger on prefix ``snova/``, suffix ``.log``; the
function runs ``INSERT INTO t1 SELECT * FROM cos_tbl``, which re-reads the *whole* prefix on
every upload. Here a ``COSObjectSensor`` with the same filter waits for ``.log`` files that the
run's table (``t1`` by default) has not loaded yet (new ones, or ones overwritten since they were
loaded: the load ledger does not record their current version), ``COSToSnovaOperator`` loads
every object version under the prefix **once** (the ledger records each one in the same
transaction as its rows), then common-sql's check operators verify the table. An hour without
new files skips the run. First ``create_t1`` creates the table and ``create_scf_visit`` the
ledger and the dedicated least-privilege user the article recommends (section 3, ``scf_visit``),
idempotently.

Connections:

- ``snova_default`` (type ``snova``): the warehouse, as a user that may create tables and roles;
- ``snova_scf_visit`` (type ``snova``): the least-privilege user to create: its *login* is the
  user name (``scf_visit`` if empty) and its *password* the user's password. Only those two
  fields are read; the password never appears in this file, in logs, in XCom or in SQL text (the
  role's password is set as a SCRAM/MD5 verifier computed on the worker);
- ``tencentcloud_default``: SecretId/SecretKey, extras ``region``, ``appid`` (and ``endpoint``
  for the bundled emulator).

Params: ``bucket`` (``name-appid``; default from the ``SNOVA_IMPORT_BUCKET`` environment
variable), ``prefix`` and ``suffix`` (the COS trigger's filter), ``table``: the table to create,
wait for, load and check, one of ``t1`` (default, the seed's table) to ``t4``; ``wait_for``:
``new`` (default) waits for files that table has not loaded yet, ``any`` for any matching file
(the load then skips the loaded ones, as a manual re-run does).

Runs: at most ``SNOVA_IMPORT_MAX_ACTIVE_RUNS`` (a whole number >= 1, read when the file is parsed;
default 1) at a time. Overlapping runs into one table load one object at a time (each object's
load holds the table's lock); runs into different tables load side by side.
"""

from __future__ import annotations

import os

import pendulum
from airflow.providers.common.sql.operators.sql import (
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import DAG, Param
from scf_snova_core.ledger import DEFAULT_LEDGER_TABLE

from airflow_scf_snova.operators.snova import SnovaEnsureRoleOperator, SnovaSQLOperator
from airflow_scf_snova.sensors.cos import COSObjectSensor
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

#: The seed's table: the SCF functions' table, on which the dedicated user gets its grants.
TABLE = "t1"
#: The run's table (the ``table`` Param; an enum, so only these names reach the SQL text).
TABLES = ["t1", "t2", "t3", "t4"]
TARGET = "{{ params.table }}"
LEDGER = DEFAULT_LEDGER_TABLE
SCF_VISIT_CONN_ID = "snova_scf_visit"
BUCKET = "{{ params.bucket }}"
DEFAULT_BUCKET = os.environ.get("SNOVA_IMPORT_BUCKET", "snova-demo-1250000000")


def max_active_runs() -> int:
    """``SNOVA_IMPORT_MAX_ACTIVE_RUNS`` (default 1): how many runs may overlap.

    :raises ValueError: when it is not a whole number >= 1.
    """
    raw = os.environ.get("SNOVA_IMPORT_MAX_ACTIVE_RUNS", "1")
    message = f"SNOVA_IMPORT_MAX_ACTIVE_RUNS must be a whole number >= 1, not {raw!r}"
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(message) from error
    if value < 1:
        raise ValueError(message)
    return value


with DAG(
    dag_id="cos_to_snova_import",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=max_active_runs(),
    tags=["seed", "tencentcloud", "cos", "snova"],
    params={
        "bucket": Param(DEFAULT_BUCKET, type="string"),
        "prefix": Param("snova/", type="string"),
        "suffix": Param(".log", type="string"),
        "table": Param(TABLE, enum=TABLES, description="The table to create, load and check."),
        "wait_for": Param("new", enum=["new", "any"]),
    },
) as dag:
    create_t1 = SnovaSQLOperator(
        task_id="create_t1",
        sql=f"CREATE TABLE IF NOT EXISTS {TARGET} (a1 int)",
    )

    # The seed's dedicated user, with exactly the grants the imports and queries need (the
    # seed's GRANT ALL is more): SELECT, INSERT on t1 and on the ledger (created if missing).
    # Its grants stay on t1 whatever the run's table: the SCF functions it logs in for load and
    # query t1, while this DAG's tasks load and check any table as snova_default.
    # [START howto_operator_snova_ensure_role]
    create_scf_visit = SnovaEnsureRoleOperator(
        task_id="create_scf_visit",
        role_conn_id=SCF_VISIT_CONN_ID,  # its login and password (sent as a verifier only)
        role="{{ conn.snova_scf_visit.login or 'scf_visit' }}",
        load_tables=[TABLE],  # the SCF import function appends
        read_tables=[TABLE],  # the SCF query function reads
        ledger_table=LEDGER,
    )
    # [END howto_operator_snova_ensure_role]

    # [START howto_sensor_cos_not_loaded]
    wait_for_logs = COSObjectSensor(
        task_id="wait_for_logs",
        bucket=BUCKET,
        prefix="{{ params.prefix }}",  # the seed's COS trigger filter ...
        suffix="{{ params.suffix }}",  # ... snova/*.log
        # ... that the run's table's load ledger does not record: new files, or files
        # overwritten since they were loaded (blank, with wait_for="any": any matching file)
        not_loaded_into="{{ params.table if params.wait_for == 'new' else '' }}",
        ledger_table=LEDGER,
        deferrable=True,
        poke_interval=60,
        timeout=55 * 60,
        soft_fail=True,  # nothing new within the hour: this run is skipped
    )
    # [END howto_sensor_cos_not_loaded]

    load = COSToSnovaOperator(
        task_id="load_into_t1",  # the seed's name; it loads the run's table
        table=TARGET,
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
        table=TARGET,
        checks={
            "not_empty": {"check_statement": "COUNT(*) > 0"},
            # Every row of the table came through the ledger, once: no file was loaded twice.
            "rows_match_ledger": {
                "check_statement": (
                    f"COUNT(*) = (SELECT COALESCE(SUM(rows), 0) FROM {LEDGER} "
                    f"WHERE target_table = 'public.{TARGET}')"
                )
            },
        },
    )

    check_column = SQLColumnCheckOperator(
        task_id="check_a1",
        conn_id="snova_default",
        table=TARGET,
        column_mapping={"a1": {"null_check": {"equal_to": 0}, "min": {"geq_to": 1}}},
    )

    create_t1 >> create_scf_visit >> load
    wait_for_logs >> load >> [check_table, check_column]
