"""Loads and exports through Snova's ``cos_ext`` external tables, on Tencent Cloud
(``make test-cloud``): the segments read the objects from COS themselves, and write an export's
files to COS.

On Snova ``method="auto"`` picks ``external_table``: a per-object readable external table,
``INSERT INTO ... SELECT`` from it and the ledger row in one transaction, the table dropped in it.
Plain PostgreSQL has no ``cos_ext``, so these tests are skipped on the emulator; offline, the same
code runs against an emulated row source (``tests/transfers/test_cos_to_snova_external_table.py``)
and the DDL is checked against Tencent's documented syntax (``scf_snova_devel.ddl_syntax``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from scf_snova_devel.postgres import query

from airflow_scf_snova.exceptions import SnovaLoadError
from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator
from airflow_scf_snova.transfers.snova_to_cos import SnovaToCOSOperator

pytestmark = pytest.mark.cloud_only(
    "Snova's segments read and write COS through cos_ext, which plain PostgreSQL does not have"
)

ORDERS = "CREATE TABLE orders (order_id bigint, customer text, amount numeric(12, 2))"
FIRST = 'order_id,customer,amount\n1,张三,9.50\n2,"Lee, Ann",12.00\n'
SECOND = "order_id,customer,amount\n3,,0.99\n"


def external_tables(dsn: str) -> int:
    """External tables left in the database (each load drops its own)."""
    [(count,)] = query(dsn, "SELECT count(*) FROM pg_catalog.pg_exttable")
    return count


@pytest.fixture
def orders(target, scratch, snova_db, snova_is_greenplum):
    """``orders`` in a fresh database, and the test's folder of the bucket."""
    assert snova_is_greenplum, "SNOVA_TEST_DSN names plain PostgreSQL, not Snova"
    query(snova_db, ORDERS)
    return scratch.root + "orders/"


def load(target, prefix: str, **kwargs) -> list[dict]:
    return COSToSnovaOperator(
        task_id="load_orders",
        table="orders",
        bucket=target.bucket,
        prefix=prefix,
        suffix=".csv",
        header=True,
        **kwargs,
    ).execute({})


def test_auto_loads_each_object_once_through_cos_ext(target, snova_db, orders, capfd):
    target.put_object(target.bucket, orders + "a.csv", FIRST)
    target.put_object(target.bucket, orders + "b.csv", SECOND)

    first = load(target, orders)  # method="auto"
    out, err = capfd.readouterr()
    assert [(r["key"], r["status"], r["rows"]) for r in first] == [
        (orders + "a.csv", "loaded", 2),
        (orders + "b.csv", "loaded", 1),
    ]
    assert "method=external_table" in out
    assert "Creating external table" in out  # the DDL is logged, its key pair redacted
    assert target.secret_key not in out + err
    assert query(snova_db, "SELECT order_id, customer, amount FROM orders ORDER BY 1") == [
        (1, "张三", Decimal("9.50")),
        (2, "Lee, Ann", Decimal("12.00")),
        (3, None, Decimal("0.99")),
    ]
    assert external_tables(snova_db) == 0

    again = load(target, orders)  # the same object versions: skipped, not loaded twice
    assert [r["status"] for r in again] == ["skipped", "skipped"]
    assert query(snova_db, "SELECT count(*) FROM orders") == [(3,)]
    ledger = "SELECT key, rows FROM airflow_scf_snova_load_ledger ORDER BY key"
    assert query(snova_db, ledger) == [(orders + "a.csv", 2), (orders + "b.csv", 1)]


def test_replace_and_a_bad_row_through_cos_ext(target, snova_db, orders, capfd):
    target.put_object(target.bucket, orders + "a.csv", FIRST)
    load(target, orders, method="external_table")
    target.put_object(target.bucket, orders + "b.csv", SECOND)

    replaced = load(target, orders + "b", method="external_table", mode="replace")
    assert [(r["status"], r["rows"]) for r in replaced] == [("loaded", 1)]
    assert query(snova_db, "SELECT order_id FROM orders") == [(3,)]

    # A malformed row fails the load naming the object; nothing of it is committed.
    target.put_object(target.bucket, orders + "c.csv", "order_id,customer,amount\nx,y,z\n")
    with pytest.raises(SnovaLoadError) as failure:
        load(target, orders + "c", method="external_table")
    out, err = capfd.readouterr()
    assert orders + "c.csv" in str(failure.value)
    assert target.secret_key not in str(failure.value) + out + err
    assert query(snova_db, "SELECT order_id FROM orders") == [(3,)]
    assert external_tables(snova_db) == 0


def test_an_export_through_a_writable_external_table(target, scratch, snova_db, orders, capfd):
    query(
        snova_db, "INSERT INTO orders SELECT g, 'c' || g, g / 100.0 FROM generate_series(1, 500) g"
    )
    prefix = scratch.root + "export/"
    result = SnovaToCOSOperator(
        task_id="export_orders",
        sql="SELECT order_id, customer, amount FROM orders",
        bucket=target.bucket,
        key=prefix,
        header=False,
        method="external_table",
    ).execute({})
    out, err = capfd.readouterr()
    assert (result["key"], result["rows"]) == (prefix, 500)
    assert target.secret_key not in out + err
    files = list(target.cos.iter_objects(target.bucket, prefix=prefix))
    assert files, "the segments wrote no file under the prefix"
    lines = [
        line
        for obj in files
        for line in target.cos.read_object(target.bucket, obj.key).decode().splitlines()
        if line
    ]
    assert sorted(lines, key=lambda line: int(line.split(",")[0])) == [
        f"{n},c{n},{Decimal(n) / 100:.2f}" for n in range(1, 501)
    ]
    assert external_tables(snova_db) == 0
