"""SnovaSQLOperator and the generic common-sql operator on a ``snova`` connection (real
PostgreSQL)."""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from airflow_scf_snova.operators.snova import SnovaSQLOperator


def test_defaults_to_the_snova_default_connection():
    op = SnovaSQLOperator(task_id="q", sql="SELECT 1")
    assert op.conn_id == "snova_default"
    assert set(SQLExecuteQueryOperator.template_fields) <= set(op.template_fields)


def test_runs_a_list_of_statements_and_returns_one_result_each(snova_db):
    op = SnovaSQLOperator(
        task_id="q",
        sql=[
            "CREATE TABLE t1 (a1 int, b text)",
            "INSERT INTO t1 VALUES (1, '深圳'), (2, NULL)",
            "SELECT a1, b FROM t1 ORDER BY a1",
        ],
    )
    create, insert, select = op.execute({})
    assert create is None and insert is None
    assert [tuple(row) for row in select] == [(1, "深圳"), (2, None)]


def test_parameters_are_bound_not_interpolated(snova_db):
    SnovaSQLOperator(task_id="c", sql="CREATE TABLE t1 (b text)").execute({})
    hostile = "x'); DROP TABLE t1; --"
    SnovaSQLOperator(
        task_id="i", sql="INSERT INTO t1 VALUES (%(b)s)", parameters={"b": hostile}
    ).execute({})
    rows = SnovaSQLOperator(task_id="s", sql="SELECT b FROM t1").execute({})
    assert [tuple(r) for r in rows] == [(hostile,)]


def test_the_generic_operator_works_with_a_snova_connection(snova_db):
    op = SQLExecuteQueryOperator(task_id="q", conn_id="snova_default", sql="SELECT 40 + 2")
    assert [tuple(r) for r in op.execute({})] == [(42,)]
