"""method="external_table": the orchestration on a real PostgreSQL through a documented seam.

What is real here: the operator, the ledger, the advisory lock, the per-object transaction,
the ``INSERT INTO target SELECT ... FROM <external table>``, the ``DROP``, staging for upsert,
replace, the prefix-collision check against the emulator's COS listing, and every log line.

What is emulated (TEST SEAM): PostgreSQL has no ``cos_ext``, so :class:`EmulatedGreenplumHook`
(a ``SnovaHook`` that reports Greenplum and returns this source from its ``row_source`` seam)
loads through :class:`EmulatedExternalTableSource`, which overrides exactly three methods of
``ExternalTableSource``:

- ``create_external_table`` receives the DDL object, renders the exact statement Snova would
  get and checks it against the documented syntax (``scf_snova_devel.ddl_syntax``), then creates an
  ordinary table with the same column definitions and fills it with a real COPY of the one
  object the LOCATION names (cos_ext would read every key with that prefix; the collision check
  guarantees there is only one);
- ``drop_external_table`` drops that ordinary table (``DROP EXTERNAL TABLE`` is Greenplum-only);
- ``count_rejected`` returns what PostgreSQL's ``ON_ERROR ignore`` skipped
  (``gp_read_error_log`` is Greenplum-only).

``prepare`` (``CREATE EXTENSION cos_ext``) is a no-op. NOT verified here, only as text: that
Snova accepts the DDL, reads the object in parallel, applies ``SEGMENT REJECT LIMIT`` and fills
``gp_read_error_log`` as documented.
"""

from __future__ import annotations

import json
import traceback
from datetime import datetime, timezone
from functools import cached_property

import pytest
from psycopg2 import sql
from scf_snova_core.formats import LoadFormat
from scf_snova_core.objects import COSObject
from scf_snova_core.sql import quote_table
from scf_snova_devel.ddl_syntax import check_cos_ext_ddl

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError
from airflow_scf_snova.hooks.snova import SnovaHook
from airflow_scf_snova.snova.loader import TargetTable
from airflow_scf_snova.snova.sources import CopySource, ExternalTableSource, ServerInfo
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator


def cos_object(bucket: str, key: str, etag: str = "e") -> COSObject:
    return COSObject(bucket, key, 0, etag, datetime(2024, 1, 1, tzinfo=timezone.utc))


SOURCES: list[EmulatedExternalTableSource] = []


class EmulatedExternalTableSource(ExternalTableSource):
    """TEST SEAM: see the module docstring."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parsed = []
        self.dropped = []
        self._rejected = 0

    def prepare(self, cur):
        pass

    def create_external_table(self, cur, ddl):
        self.parsed.append(check_cos_ext_ddl(ddl.render(cur)))
        relation = quote_table(ddl.name)
        cur.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                relation,
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in ddl.columns
                ),
            )
        )
        copy = CopySource(
            self.cos,
            self.fmt,
            ServerInfo(self.server.version_num, greenplum=False),
            reject_limit=self.reject_limit,
        )
        columns = [c for c, _ in ddl.columns]
        table = TargetTable(ddl.name, relation, dict(ddl.columns), columns)
        loc = ddl.location
        # cos_ext reads whatever version is there: so does this, through its current ETag.
        current = self.cos.head_object(loc.bucket, loc.prefix)
        _, self._rejected = copy.load(cur, relation, table, current)

    def drop_external_table(self, cur, ddl):
        cur.execute(sql.SQL("DROP TABLE {}").format(quote_table(ddl.name)))
        self.dropped.append(ddl.name)

    def count_rejected(self, cur, ddl):
        return self._rejected


class EmulatedGreenplumHook(SnovaHook):
    """The hook, told the server is Greenplum and giving the emulated source (TEST SEAM)."""

    def is_greenplum(self):
        return True

    def row_source(self, method, server, cos_hook, spec):
        assert method == "external_table"
        source = EmulatedExternalTableSource(
            cos_hook, spec.fmt, server, reject_limit=spec.reject_limit
        )
        SOURCES.append(source)
        return source


class EmulatedGreenplumLoad(COSToSnovaOperator):
    """The operator with the emulated hook as its Snova side."""

    @cached_property
    def snova_hook(self):
        return EmulatedGreenplumHook(snova_conn_id=self.snova_conn_id)


@pytest.fixture
def load(run_load):
    SOURCES.clear()

    def run(**kwargs):
        return run_load(operator_class=EmulatedGreenplumLoad, **kwargs)

    return run


def _leftover_external_tables(db):
    return db.rows("SELECT relname FROM pg_class WHERE relname LIKE 'airflow_scf_snova_ext_%%'")


def test_each_object_gets_its_own_external_table_and_no_secret_reaches_any_log(
    db, bucket, put, load, emulator, task_logs
):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    for key, body in {"d/a.csv": "1,a\n2,b\n", "d/b.csv": "3,c\n", "d/c.csv": "4,d\n"}.items():
        put(key, body)

    results = load(table="t1", bucket=bucket, prefix="d/")

    assert [(r["key"], r["status"], r["rows"]) for r in results] == [
        ("d/a.csv", "loaded", 2),
        ("d/b.csv", "loaded", 1),
        ("d/c.csv", "loaded", 1),
    ]
    assert db.rows("SELECT a1, b FROM t1 ORDER BY a1") == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    (source,) = SOURCES
    # one LOCATION per object, naming exactly its key, with the connection's key pair
    assert [p.prefix for p in source.parsed] == ["d/a.csv", "d/b.csv", "d/c.csv"]
    assert {p.bucket for p in source.parsed} == {bucket}
    assert {p.region for p in source.parsed} == {emulator.config.region}
    assert {p.params["secretKey"] for p in source.parsed} == {emulator.config.secret_key}
    assert len(source.dropped) == 3 and _leftover_external_tables(db) == []

    again = load(table="t1", bucket=bucket, prefix="d/")
    assert [r["status"] for r in again] == ["skipped"] * 3
    assert SOURCES[-1].parsed == []  # skipped objects create no external table

    logs = task_logs()
    assert "mode=append, method=external_table" in logs
    assert logs.count("secretId=*** secretKey=***") == 3  # the redacted DDL, once per object
    assert emulator.config.secret_key not in logs
    assert emulator.config.secret_id not in logs
    assert emulator.config.secret_key not in json.dumps(results + again)


def test_a_key_that_is_a_prefix_of_another_key_is_refused(db, bucket, put, load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("d/a.csv", "1,a\n")
    put("d/a.csv.bak", "99,stale\n")

    with pytest.raises(InvalidInputError, match=r"also holds \['d/a.csv.bak'\]"):
        load(table="t1", bucket=bucket, keys=["d/a.csv"])
    with pytest.raises(InvalidInputError, match="method='copy'"):
        load(table="t1", bucket=bucket, prefix="d/", mode="replace")

    assert db.scalar("SELECT count(*) FROM t1") == 0
    assert SOURCES[0].parsed == [] and SOURCES[1].parsed == []


def test_copy_has_no_prefix_limitation(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("d/a.csv", "1,a\n")
    put("d/a.csv.bak", "99,stale\n")
    assert run_load(table="t1", bucket=bucket, keys=["d/a.csv"], method="copy")[0]["rows"] == 1
    assert db.rows("SELECT a1 FROM t1") == [(1,)]


def test_gzip_and_reject_limit_reach_the_ddl_and_the_result(db, bucket, put, load):
    import gzip

    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("z/1.csv.gz", gzip.compress(b"1,a\nbad,b\n3,c\n"))

    results = load(
        table="t1", bucket=bucket, keys=["z/1.csv.gz"], compression="gzip", reject_limit=5
    )

    (parsed,) = SOURCES[0].parsed
    assert parsed.params["compressType"] == "gzip"
    assert parsed.reject_limit == 5
    assert (results[0]["rows"], results[0]["rejected"]) == (2, 1)
    assert db.scalar("SELECT rejected FROM airflow_scf_snova_load_ledger") == 1


def test_upsert_and_replace_through_external_tables(db, bucket, put, load):
    db.execute("CREATE TABLE t1 (id int, v text)")
    db.execute("INSERT INTO t1 VALUES (1, 'old'), (2, 'old')")
    put("u.csv", "2,new\n3,new\n")

    load(table="t1", bucket=bucket, keys=["u.csv"], mode="upsert", upsert_keys=["id"])
    assert db.rows("SELECT id, v FROM t1 ORDER BY id") == [(1, "old"), (2, "new"), (3, "new")]

    load(table="t1", bucket=bucket, keys=["u.csv"], mode="replace")
    assert db.rows("SELECT id, v FROM t1 ORDER BY id") == [(2, "new"), (3, "new")]
    assert _leftover_external_tables(db) == []


def test_a_failing_load_rolls_back_the_external_table_too(db, bucket, put, load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("bad.csv", "1,a\nnope,b\n")
    with pytest.raises(Exception, match="bad.csv"):
        load(table="t1", bucket=bucket, keys=["bad.csv"])
    assert SOURCES[0].dropped == []  # never reached the DROP ...
    assert _leftover_external_tables(db) == []  # ... and the CREATE was rolled back


# -- the real (unseamed) Greenplum steps on plain PostgreSQL -------------------------------------
def _real_source(emulator):
    from airflow_scf_snova.hooks.cos import COSHook

    return ExternalTableSource(COSHook(), LoadFormat(), ServerInfo(180000, greenplum=True))


def test_real_ddl_failing_on_the_server_never_exposes_the_secret(db, bucket, emulator):
    import psycopg2

    source = _real_source(emulator)
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t1 (a1 int)")
            target = TargetTable(
                "public.t1", sql.Identifier("public", "t1"), {"a1": "integer"}, ["a1"]
            )
            ddl = source.ddl_for(target, cos_object(bucket, "k.csv"))
            with pytest.raises(SnovaError) as caught:
                source.create_external_table(cur, ddl)  # PostgreSQL: syntax error
    finally:
        conn.close()
    err = caught.value
    assert "creating external table" in str(err) and "syntax error" in str(err)
    assert err.__cause__ is None and err.__suppress_context__
    rendered = "".join(traceback.format_exception(err))
    assert emulator.config.secret_key not in rendered


def test_real_prepare_without_cos_ext_says_who_must_install_it(db, emulator):
    import psycopg2

    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur, pytest.raises(SnovaError, match="ask an administrator"):
            _real_source(emulator).prepare(cur)
    finally:
        conn.close()


def test_temporary_credentials_are_refused_for_external_tables(emulator, monkeypatch):
    from conftest import tencentcloud_conn_json

    from airflow_scf_snova.hooks.cos import COSHook

    monkeypatch.setenv("AIRFLOW_CONN_TC_STS", tencentcloud_conn_json(emulator, token="sts-token"))
    with pytest.raises(SnovaError, match="permanent API key"):
        ExternalTableSource(COSHook("tc_sts"), LoadFormat(), ServerInfo(90424, greenplum=True))
