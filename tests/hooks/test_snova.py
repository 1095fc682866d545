"""SnovaHook against a real PostgreSQL."""

from __future__ import annotations

import pytest

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.hooks.snova import SnovaHook


def test_runs_sql_and_detects_plain_postgres(snova_db):
    hook = SnovaHook()
    hook.run("CREATE TABLE t1 (a1 int)")
    hook.insert_rows("t1", [(1,), (2,)])
    assert hook.get_first("SELECT count(*), sum(a1) FROM t1") == (2, 3)
    assert hook.is_greenplum() is False
    assert hook.greenplum_version() is None


def test_detects_greenplum_from_the_version_banner():
    hook = SnovaHook()
    hook.__dict__["server_version_banner"] = (
        "PostgreSQL 9.4.24 (Greenplum Database 6.13.0 build commit:4f1adf8e Open Source) on "
        "x86_64-unknown-linux-gnu, compiled by gcc (GCC) 6.4.0, 64-bit"
    )
    assert hook.is_greenplum() and hook.greenplum_version() == "6.13.0"


def test_snova_connection_type_resolves_to_snova_hook(snova_db):
    from airflow.sdk import BaseHook

    hook = BaseHook.get_hook("snova_default")
    assert isinstance(hook, SnovaHook)


@pytest.mark.parametrize(
    "name",
    ["t1; DROP TABLE x", 'a"b', "1abc", "", "a b", "x" * 64, "t1--", "schema.t.x"],
)
def test_unsafe_identifiers_are_rejected(name):
    with pytest.raises(InvalidInputError):
        SnovaHook.quote_table(name)


def test_valid_identifiers_pass_and_quote(snova_db):
    conn = SnovaHook().get_psycopg2_conn()
    try:
        assert SnovaHook.quote_table("public.t1").as_string(conn) == '"public"."t1"'
        assert SnovaHook.quote_identifier("a1").as_string(conn) == '"a1"'
    finally:
        conn.close()


def test_version_read_on_a_given_connection_is_kept(snova_db, monkeypatch):
    hook = SnovaHook()
    conn = hook.get_psycopg2_conn()
    try:
        banner = hook.read_server_version(conn)
        # The read's transaction is over: the connection is idle, ready for the caller.
        assert conn.get_transaction_status() == 0  # psycopg2 TRANSACTION_STATUS_IDLE
    finally:
        conn.close()
    assert banner.startswith("PostgreSQL ")

    def no_connection(self, **options):
        raise AssertionError("the banner was read again")

    monkeypatch.setattr(SnovaHook, "get_psycopg2_conn", no_connection)
    assert hook.server_version_banner == banner and hook.is_greenplum() is False
