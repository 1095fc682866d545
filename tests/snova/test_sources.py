"""Row sources without a server: the COPY statement each server gets, the reject-limit rules,
and the reject counts read from server notices. Rendering uses a real PostgreSQL connection for
quoting; only PostgreSQL 18's statements run elsewhere (tests/transfers)."""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2 import sql
from scf_snova_core.formats import LoadFormat

from airflow_scf_snova.exceptions import SnovaError
from airflow_scf_snova.snova.sources import CopySource, ServerInfo, count_rejected


@pytest.fixture(scope="module")
def pg(snova_server):
    conn = psycopg2.connect(snova_server)
    yield conn
    conn.close()


# -- COPY statements per server (text: only PostgreSQL 18 runs them in these tests) -------------
def _copy_sql(pg, version: int, greenplum: bool, reject_limit):
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
    with pytest.raises(SnovaError, match="reject_limit needs PostgreSQL 17"):
        CopySource(None, LoadFormat(), ServerInfo(160004, False), reject_limit=1)
    CopySource(None, LoadFormat(), ServerInfo(160004, False))  # fine without it


def test_reject_counts_from_server_notices():
    pg = ["NOTICE:  2 rows were skipped due to data type incompatibility\n"]
    assert count_rejected(pg, greenplum=False) == 2
    assert count_rejected(["NOTICE:  1 row was skipped due to ..."], greenplum=False) == 1
    # Greenplum's wording as remembered from its docs' examples; UNVERIFIED on Snova (text only)
    gp = ["NOTICE:  found 4 data formatting errors (4 or more input rows), rejected related input"]
    assert count_rejected(gp, greenplum=True) == 4
    assert count_rejected(["NOTICE:  something else"], greenplum=True) == 0
