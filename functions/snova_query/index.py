"""SCF function: run one read-only query on Snova and return its rows.

The seed article's timer function ("read the data of t1 in the warehouse") rewritten for
Python 3. The article wrote the host, the user and the password into the code; here every
setting comes from the function's environment, filled at deploy time from Airflow connections:

=================  =================================================================
``DB_HOST``        Snova's address (``DB_PORT``, default 5432)
``DB_NAME``        the database (default ``postgres``)
``DB_USER``        the user (the seed's least-privilege ``scf_visit``)
``DB_PASSWORD``    its password
``SNOVA_QUERY``    the query (default ``SELECT * FROM t1``, the article's)
``MAX_ROWS``       at most this many rows are returned and logged (default 100)
=================  =================================================================

The query runs in a read-only transaction through a server-side cursor, so a large result is
never held in memory, and with a ``statement_timeout`` just under the function's own time limit,
so the server cancels it before SCF kills the function. Like the article's function it prints
each row (``a1 = 17``); it returns ``{"columns", "rows", "row_count", "truncated"}``.

Dependency: ``psycopg2`` (``requirements.txt``). SCF's Python 3 runtimes do not provide it, and
neither does the emulator: ``SCFDeployFunctionOperator(requirements_file=...)`` installs it for
SCF's platform (Linux x86_64, the runtime's CPython) into the code package; a layer would do too.
"""

import datetime
import decimal
import os
import uuid


def _json_value(value):
    """A JSON-serialisable form of a database value (SCF JSON-encodes the return value)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


def main_handler(event, context):
    import psycopg2

    env = os.environ
    query = env.get("SNOVA_QUERY") or "SELECT * FROM t1"
    max_rows = int(env.get("MAX_ROWS") or 100)
    time_limit_ms = int(context.get("time_limit_in_ms") or 30000)
    conn = psycopg2.connect(
        host=env["DB_HOST"],
        port=int(env.get("DB_PORT") or 5432),
        dbname=env.get("DB_NAME") or "postgres",
        user=env["DB_USER"],
        password=env.get("DB_PASSWORD") or "",
        connect_timeout=int(env.get("DB_CONNECT_TIMEOUT") or 10),
        application_name=f"scf:{context.get('function_name', 'snova_query')}",
    )
    print("Opened database successfully")
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = %s", (max(time_limit_ms - 2000, 1000),))
        with conn.cursor(name=f"snova_query_{uuid.uuid4().hex[:8]}") as cur:
            cur.execute(query)
            fetched = cur.fetchmany(max_rows + 1)
            columns = [d[0] for d in cur.description]
        conn.rollback()  # read-only: nothing to commit
    finally:
        conn.close()
    rows = [[_json_value(v) for v in row] for row in fetched[:max_rows]]
    for row in rows:
        print(", ".join(f"{columns[i]} = {value}" for i, value in enumerate(row)))
    truncated = len(fetched) > max_rows
    print(f"Operation done successfully: {len(rows)} row(s){' (truncated)' if truncated else ''}")
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": truncated}
