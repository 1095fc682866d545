"""COSToSnovaOperator with method="copy" against a real PostgreSQL 18 and the emulator's COS."""

from __future__ import annotations

import gzip

import pytest

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError, SnovaLoadError
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

FILES = {
    "data/a.csv": "1,alpha\n2,beta\n",
    "data/b.csv": "3,gamma\n",
    "data/c.csv": "4,delta\n5,epsilon\n6,zeta\n",
}


@pytest.fixture
def three_files(db, put):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    return {key: put(key, body) for key, body in FILES.items()}


def test_loads_three_objects_and_a_rerun_skips_all_of_them(db, bucket, three_files, run_load):
    first = run_load(table="t1", bucket=bucket, prefix="data/", method="copy")

    assert [(r["key"], r["status"], r["rows"]) for r in first] == [
        ("data/a.csv", "loaded", 2),
        ("data/b.csv", "loaded", 1),
        ("data/c.csv", "loaded", 3),
    ]
    assert all(r["etag"] == three_files[r["key"]] for r in first)
    assert db.rows("SELECT a1, b FROM t1 ORDER BY a1") == [
        (1, "alpha"),
        (2, "beta"),
        (3, "gamma"),
        (4, "delta"),
        (5, "epsilon"),
        (6, "zeta"),
    ]
    assert db.ledger() == [
        ("public.t1", k, e, len(FILES[k].splitlines())) for k, e in sorted(three_files.items())
    ]

    second = run_load(table="t1", bucket=bucket, prefix="data/")

    assert [(r["key"], r["status"], r["rows"]) for r in second] == [
        ("data/a.csv", "skipped", 2),
        ("data/b.csv", "skipped", 1),
        ("data/c.csv", "skipped", 3),
    ]
    assert db.scalar("SELECT count(*) FROM t1") == 6
    assert len(db.ledger()) == 3


def test_schema_qualified_and_bare_names_share_the_ledger(db, bucket, three_files, run_load):
    run_load(table="t1", bucket=bucket, keys=["data/a.csv"])
    again = run_load(table="public.t1", bucket=bucket, keys=["data/a.csv"])
    assert again[0]["status"] == "skipped"
    assert db.scalar("SELECT count(*) FROM t1") == 2


def test_a_reuploaded_object_loads_again_and_append_keeps_the_old_rows(
    db, bucket, three_files, put, run_load
):
    run_load(table="t1", bucket=bucket, prefix="data/")
    new_etag = put("data/b.csv", "30,gamma v2\n31,gamma v2\n")

    results = run_load(table="t1", bucket=bucket, prefix="data/")

    assert [(r["key"], r["status"]) for r in results] == [
        ("data/a.csv", "skipped"),
        ("data/b.csv", "loaded"),
        ("data/c.csv", "skipped"),
    ]
    assert results[1]["etag"] == new_etag != three_files["data/b.csv"]
    # append: the first version's row stays, the new version's rows are added
    assert db.rows("SELECT a1 FROM t1 WHERE b LIKE 'gamma%' ORDER BY a1") == [(3,), (30,), (31,)]
    assert [row[1:3] for row in db.ledger() if row[1] == "data/b.csv"] == [
        ("data/b.csv", three_files["data/b.csv"]),
        ("data/b.csv", new_etag),
    ]


def test_keys_accept_sensor_dicts_urls_and_plain_keys(db, bucket, three_files, run_load):
    from airflow_scf_snova.hooks.cos import COSHook

    listed = [o.to_dict() for o in COSHook().iter_objects(bucket, prefix="data/a")]
    keys = [*listed, f"cos://{bucket}/data/b.csv", "data/c.csv", "data/c.csv"]

    results = run_load(table="t1", bucket=bucket, keys=keys)

    assert [r["key"] for r in results] == ["data/a.csv", "data/b.csv", "data/c.csv"]
    assert db.scalar("SELECT count(*) FROM t1") == 6


def test_a_bad_row_fails_naming_key_and_line_and_commits_nothing_of_that_object(
    db, bucket, put, run_load
):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("in/1-good.csv", "a1,b\n1,ok\n")
    put("in/2-bad.csv", "a1,b\n2,fine\n3,fine\nnot-a-number,oops\n5,after\n")

    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t1", bucket=bucket, prefix="in/", header=True)

    err = caught.value
    assert err.key == "in/2-bad.csv"
    assert err.line == 4  # the header is line 1
    assert 'invalid input syntax for type integer: "not-a-number"' in err.reason
    assert "in/2-bad.csv" in str(err) and "line 4" in str(err)
    # the good object before it committed on its own; nothing of the bad one did
    assert db.rows("SELECT a1 FROM t1 ORDER BY a1") == [(1,)]
    assert [row[1] for row in db.ledger()] == ["in/1-good.csv"]


def test_csv_edge_cases_round_trip_exactly(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (id int, note text, city text)")
    put(
        "edge.csv",
        'id,note,city\n1,"a, b and c",深圳\n2,"line one\nline two",\n3,"say ""hi""",北京市\n'
        '4,NULL,"NULL"\n',
    )

    run_load(table="t1", bucket=bucket, keys=["edge.csv"], header=True, null_string="NULL")

    assert db.rows("SELECT id, note, city FROM t1 ORDER BY id") == [
        (1, "a, b and c", "深圳"),
        (2, "line one\nline two", ""),
        (3, 'say "hi"', "北京市"),
        (4, None, "NULL"),  # a quoted NULL is the string, as in PostgreSQL's CSV rules
    ]


def test_columns_subset_in_file_order_and_defaults_for_the_rest(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (id int, b text, loaded_by text DEFAULT 'airflow')")
    put("cols.csv", "x,1\ny,2\n")
    run_load(table="t1", bucket=bucket, keys=["cols.csv"], columns=["b", "id"])
    assert db.rows("SELECT id, b, loaded_by FROM t1 ORDER BY id") == [
        (1, "x", "airflow"),
        (2, "y", "airflow"),
    ]


def test_text_format_with_tab_delimiter(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (id int, b text)")
    put("t.tsv", "1\thello\n2\t\\N\n")
    run_load(table="t1", bucket=bucket, keys=["t.tsv"], format="text", delimiter="\t")
    assert db.rows("SELECT id, b FROM t1 ORDER BY id") == [(1, "hello"), (2, None)]


def test_gzip_is_decompressed_on_the_fly_including_multi_member_files(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    rows = "".join(f"{i},row {i}\n" for i in range(5000))
    put("z/one.csv.gz", gzip.compress(rows.encode()))
    put("z/two.csv.gz", gzip.compress(b"9001,x\n") + gzip.compress(b"9002,y\n"))

    results = run_load(table="t1", bucket=bucket, prefix="z/", compression="gzip")

    assert [r["rows"] for r in results] == [5000, 2]
    assert db.scalar("SELECT count(*), sum(a1) FROM t1 WHERE a1 < 9000") == 5000
    assert db.rows("SELECT a1, b FROM t1 WHERE a1 > 9000 ORDER BY a1") == [(9001, "x"), (9002, "y")]


def test_a_corrupt_gzip_object_fails_with_the_reading_error_and_commits_nothing(
    db, bucket, put, run_load
):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("bad.csv.gz", gzip.compress(b"1,x\n" * 1000)[:-20])  # truncated
    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t1", bucket=bucket, keys=["bad.csv.gz"], compression="gzip")
    assert caught.value.key == "bad.csv.gz"
    assert "reading the object failed" in caught.value.reason
    assert db.scalar("SELECT count(*) FROM t1") == 0


def test_replace_swaps_the_contents_and_the_ledger_in_one_transaction(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    db.execute("INSERT INTO t1 VALUES (100, 'old'), (101, 'old')")
    put("r/1.csv", "1,new\n")
    put("r/2.csv", "2,new\n")
    run_load(table="t1", bucket=bucket, keys=["r/1.csv"])  # an append first: in the ledger

    results = run_load(table="t1", bucket=bucket, prefix="r/", mode="replace")

    # replace never skips: the table becomes exactly these objects
    assert [(r["key"], r["status"]) for r in results] == [
        ("r/1.csv", "loaded"),
        ("r/2.csv", "loaded"),
    ]
    assert db.rows("SELECT a1, b FROM t1 ORDER BY a1") == [(1, "new"), (2, "new")]
    assert [row[1] for row in db.ledger()] == ["r/1.csv", "r/2.csv"]
    # and it is idempotent: run again, same contents
    run_load(table="t1", bucket=bucket, prefix="r/", mode="replace")
    assert db.rows("SELECT a1, b FROM t1 ORDER BY a1") == [(1, "new"), (2, "new")]


def test_replace_with_a_bad_object_leaves_table_and_ledger_untouched(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("r/1.csv", "1,new\n")
    put("r/2.csv", "2,new\nthree,bad\n")
    put("keep.csv", "100,old\n")
    run_load(table="t1", bucket=bucket, keys=["keep.csv"])

    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t1", bucket=bucket, prefix="r/", mode="replace")

    assert (caught.value.key, caught.value.line) == ("r/2.csv", 2)
    assert db.rows("SELECT a1, b FROM t1") == [(100, "old")]
    assert [row[1] for row in db.ledger()] == ["keep.csv"]


def test_upsert_replaces_matching_keys_and_inserts_the_rest(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (id int, region text, amount int, note text DEFAULT 'd')")
    db.execute("INSERT INTO t1 VALUES (1, 'cn', 10, 'x'), (2, 'cn', 20, 'x'), (2, 'hk', 21, 'x')")
    put("u/1.csv", "2,cn,200\n3,cn,300\n")

    results = run_load(
        table="t1",
        bucket=bucket,
        keys=["u/1.csv"],
        columns=["id", "region", "amount"],
        mode="upsert",
        upsert_keys=["id", "region"],
    )

    assert results[0]["rows"] == 2
    assert db.rows("SELECT id, region, amount, note FROM t1 ORDER BY id, region") == [
        (1, "cn", 10, "x"),
        (2, "cn", 200, "d"),
        (2, "hk", 21, "x"),
        (3, "cn", 300, "d"),
    ]
    # the same object version is not applied twice; a new version is
    assert (
        run_load(
            table="t1",
            bucket=bucket,
            keys=["u/1.csv"],
            columns=["id", "region", "amount"],
            mode="upsert",
            upsert_keys=["id", "region"],
        )[0]["status"]
        == "skipped"
    )
    put("u/1.csv", "3,cn,333\n")
    run_load(
        table="t1",
        bucket=bucket,
        keys=["u/1.csv"],
        columns=["id", "region", "amount"],
        mode="upsert",
        upsert_keys=["id", "region"],
    )
    assert db.rows("SELECT amount FROM t1 WHERE id = 3") == [(333,)]
    assert db.scalar("SELECT count(*) FROM t1") == 4


def test_reject_limit_skips_and_counts_bad_rows(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("rj.csv", "1,a\nx,b\n3,c\ny,d\n5,e\n")

    results = run_load(table="t1", bucket=bucket, keys=["rj.csv"], reject_limit=2)

    assert (results[0]["rows"], results[0]["rejected"]) == (3, 2)
    assert db.rows("SELECT a1 FROM t1 ORDER BY a1") == [(1,), (3,), (5,)]
    assert db.scalar("SELECT rejected FROM airflow_scf_snova_load_ledger") == 2


def test_more_rejects_than_the_limit_fails_and_commits_nothing(db, bucket, put, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    put("rj.csv", "1,a\nx,b\n3,c\ny,d\n5,e\n")
    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t1", bucket=bucket, keys=["rj.csv"], reject_limit=1)
    assert caught.value.key == "rj.csv"
    assert "REJECT_LIMIT (1)" in caught.value.reason
    assert caught.value.line == 4
    assert db.scalar("SELECT count(*) FROM t1") == 0


def test_object_overwritten_mid_load_loads_exactly_the_version_read(
    db, bucket, put, run_load, block_stream
):
    """The copy method reads the listed ETag with ``If-Match``: a GET already streaming keeps
    serving that version when the object is overwritten, so what commits is exactly v1, recorded
    under v1's ETag, and the next load takes v2 as a new version."""
    import threading

    db.execute("CREATE TABLE t1 (a1 int, b text)")
    v1 = put("big.csv", "".join(f"{i},v1\n" for i in range(50_000)))
    reached, gate = block_stream("big.csv", after_bytes=64 * 1024)
    outcome: dict = {}

    def load():
        try:
            outcome["results"] = run_load(table="t1", bucket=bucket, keys=["big.csv"])
        except BaseException as err:
            outcome["error"] = err

    worker = threading.Thread(target=load)
    worker.start()
    assert reached.wait(60)
    v2 = put("big.csv", "1,v2\n")  # overwritten while the first version streams
    gate.set()
    worker.join(60)

    assert "error" not in outcome, outcome.get("error")
    assert db.rows("SELECT b, count(*) FROM t1 GROUP BY b") == [("v1", 50_000)]
    assert [(row[1], row[2]) for row in db.ledger()] == [("big.csv", v1)]
    [again] = run_load(table="t1", bucket=bucket, keys=["big.csv"])
    assert (again["etag"], again["rows"]) == (v2, 1)


def test_auto_method_on_plain_postgresql_uses_copy(db, bucket, three_files, run_load, task_logs):
    run_load(table="t1", bucket=bucket, prefix="data/")
    assert "mode=append, method=copy" in task_logs()


def test_external_table_method_is_refused_on_plain_postgresql(db, bucket, three_files, run_load):
    with pytest.raises(SnovaError, match="needs Snova"):
        run_load(table="t1", bucket=bucket, prefix="data/", method="external_table")
    assert db.scalar("SELECT count(*) FROM t1") == 0


def test_missing_table_and_unknown_columns_are_clear_errors(db, bucket, three_files, run_load):
    with pytest.raises(SnovaError, match="'nope' does not exist"):
        run_load(table="nope", bucket=bucket, prefix="data/")
    with pytest.raises(SnovaError, match="'nope.t1' does not exist"):
        run_load(table="nope.t1", bucket=bucket, prefix="data/")
    with pytest.raises(SnovaError, match="'T1' does not exist"):  # names are quoted: exact case
        run_load(table="T1", bucket=bucket, prefix="data/")
    with pytest.raises(InvalidInputError, match=r"no column\(s\) \['zz'\]"):
        run_load(table="t1", bucket=bucket, prefix="data/", columns=["a1", "zz"])


def test_a_pre_created_ledger_in_another_schema_is_used(db, bucket, three_files, run_load):
    from scf_snova_core.ledger import LEDGER_COLUMNS

    db.execute("CREATE SCHEMA ops")
    db.execute(f"CREATE TABLE ops.loads ({LEDGER_COLUMNS})")
    run_load(table="t1", bucket=bucket, prefix="data/", ledger_table="ops.loads")
    assert len(db.ledger("ops.loads")) == 3
    assert db.scalar("SELECT to_regclass('airflow_scf_snova_load_ledger')") is None


def test_no_objects_under_the_prefix_is_not_an_error(db, bucket, run_load):
    db.execute("CREATE TABLE t1 (a1 int, b text)")
    assert run_load(table="t1", bucket=bucket, prefix="nothing/") == []


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"table": "t1; DROP TABLE t1"}, "table name"),
        ({"table": 't1" OR "1'}, "table name"),
        ({"table": "a.b.c"}, "must be 'table' or 'schema.table'"),
        ({"columns": ["a1", "b; DROP TABLE t1 --"]}, "column name"),
        ({"columns": "a1,b"}, "columns must be a non-empty list"),
        ({"columns": ["a1", "a1"]}, "more than once"),
        ({"ledger_table": "ledger; DELETE FROM t1"}, "table name"),
        ({"mode": "upsert", "upsert_keys": ["id)--"]}, "upsert_key name"),
        ({"mode": "upsert"}, "needs upsert_keys"),
        ({"upsert_keys": ["a1"]}, "only apply to mode='upsert'"),
        ({"mode": "merge"}, "mode must be one of"),
        ({"method": "gpfdist"}, "method must be one of"),
        ({"format": "parquet"}, "format must be one of"),
        ({"compression": "bz2"}, "compression must be None or 'gzip'"),
        ({"delimiter": ";;"}, "delimiter must be a single character"),
        ({"delimiter": "\n"}, "delimiter must not be a newline"),
        ({"quote": "'", "format": "text"}, "quote is only allowed with format='csv'"),
        ({"reject_limit": 0}, "reject_limit must be a positive integer"),
        ({"reject_limit": "10"}, "reject_limit must be a positive integer"),
        ({"reject_limit": True}, "reject_limit must be a positive integer"),
        ({"encoding": "UTF8'; --"}, "not a valid encoding"),
        ({"prefix": None}, "give keys"),
        ({"keys": ["a"]}, "either keys or prefix"),
        ({"suffix": ".csv", "prefix": None, "keys": ["a"]}, "suffix filters a prefix listing"),
    ],
)
def test_invalid_inputs_fail_at_construction_naming_the_input(kwargs, message):
    arguments = {"task_id": "load", "table": "t1", "bucket": "b-1250000000", "prefix": "p/"}
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        COSToSnovaOperator(**{k: v for k, v in arguments.items()})


def test_templated_injection_is_rejected_at_execute_before_touching_the_database(
    db, bucket, three_files, run_load
):
    op = COSToSnovaOperator(
        task_id="load", table="{{ params.table }}", bucket=bucket, prefix="data/"
    )
    op.table = "t1; DROP TABLE t1"  # what rendering would produce
    with pytest.raises(InvalidInputError, match="table name"):
        op.execute({"run_id": "r"})
    assert db.scalar("SELECT count(*) FROM t1") == 0
    assert db.scalar("SELECT to_regclass('airflow_scf_snova_load_ledger')") is None


def test_a_load_opens_one_snova_connection(db, bucket, three_files, run_load, monkeypatch):
    # Counted by wrapping the real method (each call is a real psycopg2 connection): the
    # Greenplum check reads version() on the load's connection instead of opening its own.
    from airflow_scf_snova.hooks.snova import SnovaHook

    opened = []
    real = SnovaHook.get_psycopg2_conn

    def counting(self, **options):
        opened.append(options)
        return real(self, **options)

    monkeypatch.setattr(SnovaHook, "get_psycopg2_conn", counting)
    result = run_load(table="t1", bucket=bucket, prefix="data/", method="auto")

    assert [r["status"] for r in result] == ["loaded"] * 3
    assert len(opened) == 1


def test_a_table_found_through_the_search_path_in_any_schema_is_loaded(
    db, bucket, put, run_load, snova_db
):
    # The user's name is validated; the schema the server resolves it to is quoted as it is.
    database = snova_db.rsplit("/", 1)[1]
    db.execute('CREATE SCHEMA "etl-staging"')
    db.execute('CREATE TABLE "etl-staging".t9 (a1 int)')
    db.execute(f'ALTER DATABASE "{database}" SET search_path = "etl-staging", public')
    put("s.csv", "1\n2\n")
    [result] = run_load(
        table="t9", bucket=bucket, keys=["s.csv"], mode="upsert", upsert_keys=["a1"]
    )
    assert (result["status"], result["rows"]) == ("loaded", 2)
    assert db.rows('SELECT a1 FROM "etl-staging".t9 ORDER BY a1') == [(1,), (2,)]
    # the ledger too is created in the first schema of the search path
    ledger = '"etl-staging".airflow_scf_snova_load_ledger'
    assert [row[0] for row in db.ledger(ledger)] == ["etl-staging.t9"]
