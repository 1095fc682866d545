"""SnovaToCOSOperator: COPY TO STDOUT streamed into COS (real PostgreSQL, emulator COS)."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

from airflow_scf_snova.exceptions import InvalidInputError, SnovaError
from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

MiB = 1024 * 1024
EDGE_ROWS = [
    (1, "a, b and c", "深圳"),
    (2, "line one\nline two", None),
    (3, 'say "hi"', "北京市"),
    (4, "", "NULL"),
]


def _export(**kwargs):
    kwargs.setdefault("task_id", "export")
    return SnovaToCOSOperator(**kwargs).execute({"run_id": "r"})


def _read(cos_client, bucket: str, key: str) -> bytes:
    return cos_client.get_object(Bucket=bucket, Key=key)["Body"].get_raw_stream().read()


@pytest.fixture
def edge_table(db):
    db.execute("CREATE TABLE src (id int, note text, city text)")
    with db.conn.cursor() as cur:
        cur.executemany("INSERT INTO src VALUES (%s, %s, %s)", EDGE_ROWS)
    return "src"


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_export_then_load_round_trips_the_rows(
    db, bucket, emulator, cos_client, edge_table, run_load, compression
):
    key = "exports/src.csv" + (".gz" if compression else "")

    result = _export(
        sql="SELECT id, note, city FROM src ORDER BY id;",
        bucket=bucket,
        key=key,
        compression=compression,
    )

    assert (result["bucket"], result["key"], result["rows"]) == (bucket, key, len(EDGE_ROWS))
    body = _read(cos_client, bucket, key)
    assert result["bytes"] == len(body)
    text = (gzip.decompress(body) if compression else body).decode("utf-8")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["id", "note", "city"]
    assert parsed[2] == ["2", "line one\nline two", ""]

    db.execute("CREATE TABLE dst (LIKE src)")
    run_load(table="dst", bucket=bucket, keys=[key], header=True, compression=compression)
    assert db.rows("SELECT * FROM dst ORDER BY id") == db.rows("SELECT * FROM src ORDER BY id")
    assert db.rows("SELECT * FROM dst ORDER BY id") == EDGE_ROWS


def test_a_large_export_goes_up_as_a_multipart_upload(db, bucket, cos_client):
    db.execute(
        "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS pad "
        "FROM generate_series(1, 30000) g"
    )  # about 4 MiB of CSV

    result = _export(
        sql="SELECT id, pad FROM big ORDER BY id", bucket=bucket, key="big.csv", part_size=MiB
    )

    assert result["rows"] == 30000
    assert result["bytes"] > 3 * MiB
    head = cos_client.head_object(Bucket=bucket, Key="big.csv")
    assert int(head["Content-Length"]) == result["bytes"]
    assert "-" in result["etag"]  # a multipart ETag: "<md5>-<parts>"
    lines = _read(cos_client, bucket, "big.csv").decode().splitlines()
    assert lines[0] == "id,pad" and lines[-1].startswith("30000,")


def test_a_query_failing_mid_stream_leaves_no_object(db, bucket, cos_client):
    from airflow_scf_snova.hooks.cos import COSHook

    # rows stream out (several MiB, past the first part) before the error at row 60,000
    query = "SELECT g, repeat('x', 100), 1 / (60000 - g) FROM generate_series(1, 70000) g"
    with pytest.raises(SnovaError, match="export query failed: division by zero"):
        _export(sql=query, bucket=bucket, key="partial.csv", part_size=MiB)
    assert COSHook().object_exists(bucket, "partial.csv") is False
    uploads = cos_client.list_multipart_uploads(Bucket=bucket).get("Upload") or []
    assert uploads == []  # the multipart upload was aborted


def test_an_upload_failure_fails_the_task_and_leaves_no_object(db, bucket, emulator):
    from airflow_scf_snova.hooks.cos import COSHook

    emulator.faults.cos_errors(1, status=403, operations=["PUT"])
    with pytest.raises(SnovaError, match="upload to cos://.*/denied.csv failed"):
        _export(
            sql="SELECT g, repeat('y', 200) FROM generate_series(1, 20000) g",
            bucket=bucket,
            key="denied.csv",
            part_size=MiB,
        )
    assert COSHook().object_exists(bucket, "denied.csv") is False


def test_text_format_without_header(db, bucket, cos_client, edge_table):
    _export(
        sql="SELECT id, city FROM src ORDER BY id",
        bucket=bucket,
        key="t.tsv",
        format="text",
        header=False,
    )
    assert _read(cos_client, bucket, "t.tsv").decode() == "1\t深圳\n2\t\\N\n3\t北京市\n4\tNULL\n"


def test_the_export_transaction_is_read_only(db, bucket):
    db.execute("CREATE TABLE w (id int)")
    with pytest.raises(SnovaError, match="read-only transaction"):
        _export(sql="INSERT INTO w VALUES (1) RETURNING id", bucket=bucket, key="w.csv")
    assert db.scalar("SELECT count(*) FROM w") == 0


def test_external_table_export_is_refused_on_plain_postgresql(db, bucket):
    with pytest.raises(SnovaError, match="needs Snova"):
        _export(
            sql="SELECT 1 AS a", bucket=bucket, key="out/", method="external_table", header=False
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "unload"}, "method must be one of"),
        ({"method": "external_table"}, "cannot write a header line"),
        ({"format": "json"}, "format must be one of"),
        ({"compression": "zip"}, "compression must be None or 'gzip'"),
        ({"delimiter": "ab"}, "delimiter must be a single character"),
    ],
)
def test_invalid_options_fail_at_construction(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        SnovaToCOSOperator(task_id="x", sql="SELECT 1", bucket="b-1250000000", key="k", **kwargs)


@pytest.mark.parametrize(("sql", "key"), [("  ;  ", "k.csv"), ("SELECT 1", "dir/")])
def test_empty_query_or_directory_key_is_refused(sql, key):
    op = SnovaToCOSOperator(task_id="x", sql=sql, bucket="b-1250000000", key=key)
    with pytest.raises(InvalidInputError):
        op.execute({})


def test_writable_external_table_ddl_for_a_query_matches_the_documented_syntax(db, bucket):
    """Greenplum only, so verified as text; the query's columns are described by PostgreSQL."""
    import psycopg2
    from scf_snova_devel.ddl_syntax import check_cos_ext_ddl

    from airflow_scf_snova.snova.export import writable_ddl
    from airflow_scf_snova.snova.spec import ExportSpec

    db.execute("CREATE TABLE src (id bigint, note varchar(20), amount numeric(12,2))")
    op = SnovaToCOSOperator(
        task_id="x",
        sql="SELECT id, note, amount FROM src",
        bucket=bucket,
        key="exports/src_",
        method="external_table",
        header=False,
        compression="gzip",
    )
    conn = psycopg2.connect(db.dsn)
    try:
        with conn.cursor() as cur:
            spec = ExportSpec(
                sql=op.sql, bucket=bucket, key=op.key, fmt=op.export_format, method=op.method
            )
            ddl = writable_ddl(cur, spec, op.cos_hook, bucket, "wext_src")
            text = ddl.render(cur)
            redacted = ddl.redacted(cur)
    finally:
        conn.close()
    parsed = check_cos_ext_ddl(text)
    assert parsed.kind == "WRITABLE" and parsed.prefix == "exports/src_"
    assert parsed.columns == ['"id" bigint', '"note" character varying', '"amount" numeric']
    assert parsed.params["compressType"] == "gzip"
    assert "secretKey=***" in redacted and op.cos_hook.credentials.secret_key not in redacted
