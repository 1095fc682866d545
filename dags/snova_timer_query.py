"""The seed article's timer workflow (section 4): a daily query on Snova, scheduled by Airflow.

The article creates a Python 2.7 SCF function with the host, user and password in its code and
binds a timer trigger to it. Here Airflow is the timer (``@daily``): each run deploys the query
function from ``functions/snova_query`` (a Python 3 rewrite whose database settings come from its
environment, rendered from connections at deploy time; the deploy is idempotent, so an unchanged
function is not updated), invokes it, and logs and returns its rows. Beside it the same query runs
directly with ``SnovaSQLOperator``, without SCF: choose either path; ``compare_paths`` shows both.

Connections: ``snova_default`` (the warehouse's address; the direct query's login),
``snova_scf_visit`` (the function's least-privilege login, created by ``cos_to_snova_import``;
login and password only) and ``tencentcloud_default``.

Params: ``function_name``, ``query`` (read-only; the article's was ``SELECT * FROM t1``) and
``max_rows`` (rows the function returns at most).
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator, SCFInvokeFunctionOperator
from airflow_scf_snova.operators.snova import SnovaSQLOperator

SNOVA_QUERY_CODE_DIR = str(Path(__file__).resolve().parents[1] / "functions" / "snova_query")
FUNCTION = "{{ params.function_name }}"
DEFAULT_QUERY = "SELECT count(*) AS row_count, coalesce(sum(a1), 0) AS a1_sum FROM t1"

with DAG(
    dag_id="snova_timer_query",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["seed", "tencentcloud", "scf", "snova"],
    params={
        "function_name": Param("snova-timer-query", type="string"),
        "query": Param(DEFAULT_QUERY, type="string"),
        "max_rows": Param(100, type="integer", minimum=1),
    },
) as dag:
    deploy = SCFDeployFunctionOperator(
        task_id="deploy_query_function",
        function_name=FUNCTION,
        code_dir=SNOVA_QUERY_CODE_DIR,
        requirements_file="requirements.txt",  # psycopg2, built for SCF's Python 3.9 on Linux
        handler="index.main_handler",
        runtime="Python3.9",
        memory_size=128,
        timeout=60,
        environment={
            "DB_HOST": "{{ conn.snova_default.host }}",
            "DB_PORT": "{{ conn.snova_default.port or 5432 }}",
            "DB_NAME": "{{ conn.snova_default.schema }}",
            "DB_USER": "{{ conn.snova_scf_visit.login }}",
            "DB_PASSWORD": "{{ conn.snova_scf_visit.password }}",
            "SNOVA_QUERY": "{{ params.query }}",
            "MAX_ROWS": "{{ params.max_rows }}",
        },
        description="Seed section 4: a read-only query on Snova",
    )

    invoke = SCFInvokeFunctionOperator(
        task_id="invoke_query_function",
        function_name=FUNCTION,
        payload={"run_id": "{{ run_id }}"},
    )

    query_directly = SnovaSQLOperator(task_id="query_directly", sql="{{ params.query }}")

    @task
    def compare_paths(from_function: dict, direct: list) -> dict:
        """Log both results; they differ only if ``t1`` changed between the two queries."""
        function_rows = from_function["rows"]
        direct_rows = [list(row) for row in direct or []]
        for row in function_rows:
            print("via SCF:", dict(zip(from_function["columns"], row, strict=True)))
        same = function_rows == direct_rows[: len(function_rows)]
        if not same:
            print("The two paths returned different rows (did t1 change in between?)")
        return {"columns": from_function["columns"], "rows": function_rows, "same": same}

    deploy >> invoke
    compare_paths(invoke.output, query_directly.output)
