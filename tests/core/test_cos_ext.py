"""cos_ext DDL as text, checked against the documented syntax; redaction; load formats
(:mod:`scf_snova_core.cos_ext`, :mod:`scf_snova_core.formats`, :mod:`scf_snova_core.sql`).

Rendering uses a real PostgreSQL connection for quoting (psycopg2.sql needs one); the statements
themselves are never executed here: plain PostgreSQL has no external tables.
"""

from __future__ import annotations

import psycopg2
import pytest
from scf_snova_core.cos_ext import CosExtLocation, ExternalTableDDL, prefix_collisions
from scf_snova_core.errors import InvalidValueError
from scf_snova_core.formats import LoadFormat
from scf_snova_core.objects import COSObject
from scf_snova_core.sql import redact
from scf_snova_devel.ddl_syntax import check_cos_ext_ddl

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
    with pytest.raises(InvalidValueError, match="cannot write a header"):
        ExternalTableDDL("w", COLUMNS, location(), LoadFormat(header=True), writable=True).render(
            pg
        )
    with pytest.raises(InvalidValueError, match="readable external tables only"):
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
    with pytest.raises(InvalidValueError, match=message) as caught:
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
