"""cos_ext DDL as text, checked against the documented syntax; redaction; load formats.

Rendering uses a real PostgreSQL connection for quoting (psycopg2.sql needs one); the statements
themselves are never executed here: plain PostgreSQL has no external tables.
"""

from __future__ import annotations

import psycopg2
import pytest
from scf_snova_core.objects import COSObject
from snova_ddl_syntax import check_cos_ext_ddl

from airflow_scf_snova.exceptions import InvalidInputError
from airflow_scf_snova.utils.external_table import (
    CosExtLocation,
    ExternalTableDDL,
    prefix_collisions,
    redact,
)
from airflow_scf_snova.utils.load_format import LoadFormat

SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLEKEY"
COLUMNS = [("a1", "integer"), ("b", "text"), ("amount", "numeric(12,2)")]


@pytest.fixture(scope="module")
def pg(snova_server):
    conn = psycopg2.connect(snova_server)
    yield conn
    conn.close()


def location(**overrides) -> CosExtLocation:
    values = {
        "bucket": "examplebucket-1250000000",
        "prefix": "incoming/2024-01-01/orders.csv",
        "region": "ap-guangzhou",
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
    }
    values.update(overrides)
    return CosExtLocation(**values)


def test_readable_csv_ddl_matches_the_documented_syntax_exactly(pg):
    ddl = ExternalTableDDL(
        name="public.ext_orders",
        columns=COLUMNS,
        location=location(compress_type="gzip"),
        fmt=LoadFormat(header=True, quote='"', null_string="", delimiter="|"),
        reject_limit=25,
    )

    text = ddl.render(pg)

    assert text == (
        'CREATE READABLE EXTERNAL TABLE "public"."ext_orders" '
        '("a1" integer, "b" text, "amount" numeric(12,2)) '
        "LOCATION ('cos://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/"
        f"incoming/2024-01-01/orders.csv secretId={SECRET_ID} secretKey={SECRET_KEY} "
        "compressType=gzip') "
        "FORMAT 'CSV' (HEADER QUOTE '\"' DELIMITER '|' NULL '') "
        "ENCODING 'UTF8' "
        "LOG ERRORS SEGMENT REJECT LIMIT 25 ROWS"
    )
    parsed = check_cos_ext_ddl(text)
    assert (parsed.kind, parsed.format, parsed.reject_limit) == ("READABLE", "CSV", 25)
    assert parsed.bucket == "examplebucket-1250000000" and parsed.region == "ap-guangzhou"
    assert parsed.prefix == "incoming/2024-01-01/orders.csv"
    assert parsed.params == {
        "secretId": SECRET_ID,
        "secretKey": SECRET_KEY,
        "compressType": "gzip",
    }
    assert parsed.options == {"HEADER": None, "QUOTE": '"', "DELIMITER": "|", "NULL": ""}


def test_readable_text_ddl_without_options(pg):
    ddl = ExternalTableDDL(
        name="ext_t",
        columns=COLUMNS[:1],
        location=location(https=False),
        fmt=LoadFormat(format="text", delimiter="\t", encoding="GB18030"),
    )
    parsed = check_cos_ext_ddl(ddl.render(pg))
    assert parsed.format == "TEXT" and parsed.encoding == "GB18030"
    assert parsed.params["https"] == "false" and "compressType" not in parsed.params
    assert parsed.options == {"DELIMITER": "\t"}
    assert parsed.reject_limit is None


def test_writable_ddl_matches_the_documented_syntax(pg):
    ddl = ExternalTableDDL(
        name="public.wext",
        columns=COLUMNS,
        location=location(prefix="exports/orders_"),
        fmt=LoadFormat(delimiter=","),
        writable=True,
    )
    text = ddl.render(pg)
    assert text.startswith('CREATE WRITABLE EXTERNAL TABLE "public"."wext"')
    assert text.endswith("ENCODING 'UTF8' DISTRIBUTED RANDOMLY")
    parsed = check_cos_ext_ddl(text)
    assert parsed.kind == "WRITABLE" and parsed.prefix == "exports/orders_"


def test_writable_tables_cannot_have_a_header_or_reject_limit(pg):
    with pytest.raises(InvalidInputError, match="cannot write a header"):
        ExternalTableDDL("w", COLUMNS, location(), LoadFormat(header=True), writable=True).render(
            pg
        )
    with pytest.raises(InvalidInputError, match="readable external tables only"):
        ExternalTableDDL("w", COLUMNS, location(), LoadFormat(), writable=True, reject_limit=1)


def test_the_checker_rejects_what_the_docs_do_not_allow():
    good = (
        'CREATE READABLE EXTERNAL TABLE "t" ("a" integer) LOCATION (\'cos://b-1.cos.ap-x.myqcloud'
        ".com/k secretId=i secretKey=k') FORMAT 'CSV' (DELIMITER ',') ENCODING 'UTF8'"
    )
    check_cos_ext_ddl(good)
    for bad in (
        good.replace("secretKey=k", "secretKey=k cos://b-1.cos.ap-x.myqcloud.com/other"),
        good.replace("secretKey=k", "secretkey=k"),
        good.replace("secretKey=k", "secretKey=k compressiontype=gzip"),
        good.replace("(DELIMITER ',')", "(DELIMITER ',' HEADER)"),
        good.replace("cos://b-1.cos", "cos://b.cos"),
        good + " DISTRIBUTED RANDOMLY",
    ):
        with pytest.raises(AssertionError):
            check_cos_ext_ddl(bad)


def test_redacted_ddl_keeps_the_shape_and_drops_both_secrets(pg):
    ddl = ExternalTableDDL("ext", COLUMNS, location(), LoadFormat())
    redacted = ddl.redacted(pg)
    assert SECRET_KEY not in redacted and SECRET_ID not in redacted
    assert "secretId=*** secretKey=***" in redacted
    assert redacted.replace("***", "x") == ddl.render(pg).replace(SECRET_ID, "x").replace(
        SECRET_KEY, "x"
    )
    assert SECRET_KEY not in repr(ddl) and SECRET_KEY not in repr(ddl.location)


def test_redact_scrubs_parameters_and_literal_values_in_any_text():
    text = (
        f'ERROR:  syntax error at or near "EXTERNAL"\nLINE 1: ... secretKey={SECRET_KEY}\' '
        f"FORMAT; also {SECRET_KEY} alone, SECRET_ID = {SECRET_ID}"
    )
    cleaned = redact(text, [SECRET_KEY])
    assert SECRET_KEY not in cleaned and SECRET_ID not in cleaned
    assert "secretKey=***'" in cleaned


def test_drop_statement(pg):
    ddl = ExternalTableDDL("s.ext", COLUMNS, location(), LoadFormat())
    assert ddl.drop().as_string(pg) == 'DROP EXTERNAL TABLE IF EXISTS "s"."ext"'


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bucket": "examplebucket"}, "full bucket name"),
        ({"prefix": "dir/with space.csv"}, "cannot be named in a cos_ext LOCATION"),
        ({"prefix": "it's.csv"}, "cannot be named in a cos_ext LOCATION"),
        ({"prefix": ""}, "cannot be named in a cos_ext LOCATION"),
        ({"region": "Guangzhou"}, "invalid COS region"),
        ({"secret_key": "has space"}, "SecretKey cannot be used"),
        ({"compress_type": "zip"}, "compressType must be gzip"),
    ],
)
def test_location_validation(overrides, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        location(**overrides)
    assert SECRET_KEY not in str(caught.value)


def test_prefix_collisions_find_other_keys_sharing_the_prefix():
    def obj(key):
        return COSObject("b-1", key, 1, '"e"', __import__("datetime").datetime(2024, 1, 1))

    listing = [obj("data/a.csv"), obj("data/a.csv.bak"), obj("data/a.csv/part")]
    assert prefix_collisions("data/a.csv", listing) == ["data/a.csv.bak", "data/a.csv/part"]
    assert prefix_collisions("data/a.csv", [obj("data/a.csv")]) == []


# -- COPY options ---------------------------------------------------------------------------------
def test_copy_options_render(pg):
    fmt = LoadFormat(header=True, null_string="\\N", quote="'", delimiter=";", encoding="GBK")
    assert fmt.copy_options().as_string(pg) == (
        "(FORMAT csv, HEADER true, DELIMITER ';', NULL '\\N', QUOTE '''', ENCODING 'GBK')"
    )
    assert LoadFormat().copy_options(ignore_errors=True, reject_limit=5).as_string(pg) == (
        "(FORMAT csv, DELIMITER ',', ENCODING 'UTF8', ON_ERROR ignore, REJECT_LIMIT 5)"
    )


# -- COPY statements per server (text: only PostgreSQL 18 runs them in these tests) -------------
def _copy_sql(pg, version: int, greenplum: bool, reject_limit):
    from psycopg2 import sql

    from airflow_scf_snova.utils.snova_load import CopySource, ServerInfo

    source = CopySource(None, LoadFormat(header=True), ServerInfo(version, greenplum), reject_limit)
    return source.statement(sql.Identifier("public", "t1"), ["a1", "b"]).as_string(pg)


def test_copy_statement_per_server(pg):
    base = 'COPY "public"."t1" ("a1", "b") FROM STDIN WITH (FORMAT csv, HEADER true, '
    assert _copy_sql(pg, 180000, False, None) == base + "DELIMITER ',', ENCODING 'UTF8')"
    assert _copy_sql(pg, 180000, False, 3) == (
        base + "DELIMITER ',', ENCODING 'UTF8', ON_ERROR ignore, REJECT_LIMIT 3)"
    )
    # PostgreSQL 17: no REJECT_LIMIT; the loader checks the limit from the notice
    assert _copy_sql(pg, 170004, False, 3) == (
        base + "DELIMITER ',', ENCODING 'UTF8', ON_ERROR ignore)"
    )
    # Greenplum 6: single-row error isolation after the option list
    assert _copy_sql(pg, 90424, True, 3) == (
        base + "DELIMITER ',', ENCODING 'UTF8') LOG ERRORS SEGMENT REJECT LIMIT 3 ROWS"
    )


def test_reject_limit_is_refused_on_postgresql_before_17():
    from airflow_scf_snova.exceptions import SnovaError
    from airflow_scf_snova.utils.snova_load import CopySource, ServerInfo

    with pytest.raises(SnovaError, match="reject_limit needs PostgreSQL 17"):
        CopySource(None, LoadFormat(), ServerInfo(160004, False), reject_limit=1)
    CopySource(None, LoadFormat(), ServerInfo(160004, False))  # fine without it


def test_reject_counts_from_server_notices():
    from airflow_scf_snova.utils.snova_load import _count_rejected

    pg = ["NOTICE:  2 rows were skipped due to data type incompatibility\n"]
    assert _count_rejected(pg, greenplum=False) == 2
    assert _count_rejected(["NOTICE:  1 row was skipped due to ..."], greenplum=False) == 1
    # Greenplum's wording as remembered from its docs' examples; UNVERIFIED on Snova (text only)
    gp = ["NOTICE:  found 4 data formatting errors (4 or more input rows), rejected related input"]
    assert _count_rejected(gp, greenplum=True) == 4
    assert _count_rejected(["NOTICE:  something else"], greenplum=True) == 0
