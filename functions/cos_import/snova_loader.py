"""Exactly-once loads of single COS objects into one Snova table, from inside an SCF function.

This is a self-contained copy of the rules the Airflow provider follows
(``airflow_scf_snova.utils.snova_load``, ``docs/snova.md``), so that rows loaded by this function
and rows loaded by ``COSToSnovaOperator`` share **one ledger and one lock**:

- the ledger table has the documented DDL (:data:`LEDGER_COLUMNS`, the provider's
  ``LEDGER_COLUMNS`` verbatim) and the same key ``(target_table, bucket, key, etag)``;
- each object is loaded in one READ COMMITTED transaction that first takes
  ``pg_advisory_xact_lock(<64-bit key of schema.table>)`` (the provider's ``table_lock_key``),
  then looks the object version up in the ledger (found: skipped), loads the rows, checks that
  the object did not change meanwhile, records it, and commits;
- on plain PostgreSQL the object is streamed from COS into ``COPY ... FROM STDIN``; on Snova
  (``version()`` names Greenplum) the segments read it through a per-object ``cos_ext`` external
  table whose LOCATION is the object's full key, built like the provider's ``ExternalTableDDL``.
  The Greenplum branch cannot run offline (plain PostgreSQL has no ``cos_ext``); its statement is
  checked as text against the provider's builder by the tests.

The SecretKey is part of the external table's LOCATION: that statement is never printed, and
database errors raised while it runs are re-raised with the secrets removed.
"""

import hashlib
import re
import time
import uuid

DEFAULT_LEDGER_TABLE = "airflow_scf_snova_load_ledger"
#: The ledger's columns: docs/snova.md's DDL (the provider's ``LEDGER_COLUMNS``, kept equal by a
#: test).
LEDGER_COLUMNS = (
    "target_table text NOT NULL, "
    "bucket text NOT NULL, "
    "key text NOT NULL, "
    "etag text NOT NULL, "
    "rows bigint NOT NULL, "
    "rejected bigint NOT NULL DEFAULT 0, "
    "loaded_at timestamptz NOT NULL DEFAULT now(), "
    "dag_id text, "
    "run_id text, "
    "task_id text, "
    "PRIMARY KEY (target_table, bucket, key, etag)"
)
_LOCK_NAMESPACE = b"airflow_scf_snova.cos_to_snova:"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_SECRET_PARAM = re.compile(r"(?i)\b(secret_?(?:id|key)\s*=\s*)[^\s'\"]*")
COPY_CHUNK = 256 * 1024
METHODS = ("auto", "copy", "external_table")


class LoadError(Exception):
    """Loading one object failed; nothing of it was committed."""


def table_lock_key(name):
    """The signed 64-bit advisory-lock key of a canonical ``schema.table`` (the provider's)."""
    digest = hashlib.sha256(_LOCK_NAMESPACE + name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def split_table(table):
    """``(schema or None, name)`` of a plain ``table`` or ``schema.table``."""
    parts = table.split(".")
    if len(parts) > 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise ValueError(f"{table!r} is not a plain table or schema.table name")
    return (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def relation(table):
    from psycopg2 import sql

    schema, name = split_table(table)
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def redact(text, secrets):
    """``text`` without the given secrets and without any ``secretId=``/``secretKey=`` value."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "***", text)


def db_error_text(err, secrets=()):
    """The server's message and context of a psycopg2 error, redacted."""
    diag = getattr(err, "diag", None)
    primary = getattr(diag, "message_primary", None)
    text = primary or str(err).strip() or type(err).__name__
    context = getattr(diag, "context", None)
    if primary and context:
        text += f" [{context.strip()}]"
    return redact(text, secrets)


def copy_statement(rel, columns, header, delimiter):
    """``COPY rel (cols) FROM STDIN WITH (FORMAT csv, [HEADER true,] DELIMITER ',', ENCODING
    'UTF8')``: the provider's ``LoadFormat.copy_options`` for CSV."""
    from psycopg2 import sql

    options = [sql.SQL("FORMAT csv")]
    if header:
        options.append(sql.SQL("HEADER true"))
    options.append(sql.SQL("DELIMITER {}").format(sql.Literal(delimiter)))
    options.append(sql.SQL("ENCODING {}").format(sql.Literal("UTF8")))
    return sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(
        rel,
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        sql.SQL(", ").join(options),
    )


def cos_ext_location(bucket, key, region, secret_id, secret_key):
    """The one-URL LOCATION of a ``cos_ext`` table reading exactly ``key`` (a key is a prefix:
    the caller checks that no other key starts with it)."""
    if any(ch.isspace() for ch in key) or "'" in key:
        raise LoadError(f"{key!r} cannot be named in a cos_ext LOCATION (whitespace or quote)")
    for value in (secret_id, secret_key):
        if not value or any(ch.isspace() or ch in "'\"" for ch in value):
            raise LoadError("the COS key pair cannot be used in a cos_ext LOCATION")
    url = f"cos://{bucket}.cos.{region}.myqcloud.com/{key}"
    return f"{url} secretId={secret_id} secretKey={secret_key}"


def external_table_ddl(name, column_types, location, header, delimiter):
    """``CREATE READABLE EXTERNAL TABLE`` as the provider's ``ExternalTableDDL`` renders it for
    CSV: ``FORMAT 'CSV' ([HEADER ]DELIMITER ',') ENCODING 'UTF8'``."""
    from psycopg2 import sql

    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(type_text))
        for column, type_text in column_types
    )
    options = [sql.SQL("HEADER")] if header else []
    options.append(sql.SQL("DELIMITER {}").format(sql.Literal(delimiter)))
    return sql.SQL(" ").join(
        [
            sql.SQL("CREATE READABLE EXTERNAL TABLE {} ({})").format(relation(name), columns),
            sql.SQL("LOCATION ({})").format(sql.Literal(location)),
            sql.SQL("FORMAT {} ({})").format(sql.Literal("CSV"), sql.SQL(" ").join(options)),
            sql.SQL("ENCODING {}").format(sql.Literal("UTF8")),
        ]
    )


class SnovaObjectLoader:
    """Loads single objects into ``table`` through one psycopg2 connection.

    :param conn: a psycopg2 connection (set to READ COMMITTED, manual commit here).
    :param cos: a :class:`cos_source.CosSource`.
    :param table: the target, ``table`` or ``schema.table``.
    :param ledger_table: the ledger (pre-created by an administrator, or created when missing).
    :param method: ``auto`` (external table on Greenplum, COPY otherwise), ``copy`` or
        ``external_table``.
    :param header: whether each object starts with a header line.
    :param delimiter: the CSV delimiter.
    :param loaded_by: recorded as the ledger's ``dag_id`` (e.g. ``scf:<function name>``).
    :param request_id: recorded as the ledger's ``run_id``.
    """

    def __init__(
        self,
        conn,
        cos,
        table,
        ledger_table=DEFAULT_LEDGER_TABLE,
        method="auto",
        header=False,
        delimiter=",",
        loaded_by=None,
        request_id=None,
    ):
        if method not in METHODS:
            raise ValueError(f"LOAD_METHOD must be one of {METHODS}, got {method!r}")
        split_table(table)
        split_table(ledger_table)
        self.conn = conn
        self.cos = cos
        self.table = table
        self.ledger_table = ledger_table
        self.header = header
        self.delimiter = delimiter
        self.loaded_by = loaded_by
        self.request_id = request_id
        conn.set_session(isolation_level="READ COMMITTED", autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            self.greenplum = "Greenplum Database" in cur.fetchone()[0]
            self.target, self.column_types = self._describe_target(cur)
            self._ensure_ledger(cur)
        conn.commit()
        self.method = self._resolve_method(method)

    # -- set-up ----------------------------------------------------------------------------------
    def _describe_target(self, cur):
        from psycopg2 import sql

        cur.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
            (relation(self.table).as_string(cur),),
        )
        schema, name = cur.fetchone()
        cur.execute(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
            "FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s::regclass "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (sql.Identifier(schema, name).as_string(cur),),
        )
        return f"{schema}.{name}", cur.fetchall()

    def _ledger_exists(self, cur):
        schema, name = split_table(self.ledger_table)
        if schema:
            cur.execute(
                "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
                (schema, name),
            )
        else:
            cur.execute(
                "SELECT 1 FROM pg_catalog.pg_class c WHERE c.relname = %s "
                "AND pg_catalog.pg_table_is_visible(c.oid)",
                (name,),
            )
        return cur.fetchone() is not None

    def _ensure_ledger(self, cur):
        """Create the ledger when missing (needs CREATE on its schema; a least-privilege user
        gets it pre-created), serialised like the provider's ``LoadLedger.ensure``."""
        from psycopg2 import sql

        if self._ledger_exists(cur):
            return
        lock = table_lock_key(f"ledger:{self.ledger_table}")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        if not self._ledger_exists(cur):
            cur.execute(
                sql.SQL("CREATE TABLE {} ({})").format(
                    relation(self.ledger_table), sql.SQL(LEDGER_COLUMNS)
                )
            )
            print(f"Created the load ledger {self.ledger_table}")

    def _resolve_method(self, method):
        if method == "auto":
            method = "external_table" if self.greenplum else "copy"
            if method == "external_table" and self.cos.settings.token:
                print("cos_ext takes no session token: loading with COPY instead")
                method = "copy"
        elif method == "external_table":
            if not self.greenplum:
                raise LoadError("LOAD_METHOD=external_table needs Snova (Greenplum with cos_ext)")
            if self.cos.settings.token:
                raise LoadError(
                    "LOAD_METHOD=external_table needs a permanent API key (cos_ext has no session "
                    "token parameter); use LOAD_METHOD=copy"
                )
        return method

    # -- one object ------------------------------------------------------------------------------
    def load(self, bucket, key):
        """Load the current version of ``cos://bucket/key`` unless the ledger has it.

        :returns: ``{"bucket", "key", "etag", "rows", "status", "seconds"}``, ``status`` being
            ``loaded`` or ``skipped``.
        :raises LoadError: the object could not be loaded (nothing of it committed).
        """
        import psycopg2
        from psycopg2 import sql

        started = time.monotonic()
        obj = self.cos.head(bucket, key)
        if self.method == "external_table":
            self._check_prefix(obj)
        ledger = relation(self.ledger_table)
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (table_lock_key(self.target),))
                cur.execute(
                    sql.SQL(
                        "SELECT rows, loaded_at, dag_id, run_id FROM {} WHERE target_table = %s "
                        "AND bucket = %s AND key = %s AND etag = %s"
                    ).format(ledger),
                    (self.target, obj.bucket, obj.key, obj.etag),
                )
                found = cur.fetchone()
                if found is not None:
                    self.conn.rollback()
                    rows, loaded_at, dag_id, run_id = found
                    print(
                        f"Skipped cos://{obj.bucket}/{obj.key} (etag {obj.etag}): already loaded "
                        f"into {self.target} at {loaded_at} by {dag_id}/{run_id} ({rows} rows)"
                    )
                    return self._result(obj, int(rows), "skipped", started)
                if self.method == "external_table":
                    rows = self._load_external(cur, obj)
                else:
                    rows = self._load_copy(cur, obj)
                current = self.cos.head(obj.bucket, obj.key).etag
                if current != obj.etag:
                    raise LoadError(
                        f"cos://{obj.bucket}/{obj.key} changed while it was loaded (etag "
                        f"{obj.etag} -> {current}); nothing was committed"
                    )
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} (target_table, bucket, key, etag, rows, rejected, dag_id, "
                        "run_id, task_id) VALUES (%s, %s, %s, %s, %s, 0, %s, %s, NULL)"
                    ).format(ledger),
                    (
                        self.target,
                        obj.bucket,
                        obj.key,
                        obj.etag,
                        rows,
                        self.loaded_by,
                        self.request_id,
                    ),
                )
            self.conn.commit()
        except psycopg2.Error as err:
            self._rollback()
            reason = db_error_text(err, self.cos.settings.secrets)
            raise LoadError(f"loading cos://{bucket}/{key} failed: {reason}") from None
        except BaseException:
            self._rollback()
            raise
        print(
            f"Loaded {rows} row(s) from cos://{obj.bucket}/{obj.key} (etag {obj.etag}) into "
            f"{self.target} with {self.method}"
        )
        return self._result(obj, rows, "loaded", started)

    def _load_copy(self, cur, obj):
        stmt = copy_statement(
            relation(self.target), [c for c, _ in self.column_types], self.header, self.delimiter
        )
        stream = self.cos.open(obj.bucket, obj.key)
        try:
            cur.copy_expert(stmt, stream, size=COPY_CHUNK)
        finally:
            stream.close()
        return cur.rowcount

    def _check_prefix(self, obj):
        """A LOCATION is a prefix: refuse when another key starts with this one."""
        others = []
        for item in self.cos.list(obj.bucket, obj.key, page_size=10):
            if item.key != obj.key:
                others.append(item.key)
            if len(others) >= 5:
                break
        if others:
            raise LoadError(
                f"cannot load cos://{obj.bucket}/{obj.key} exactly through cos_ext: the bucket "
                f"also holds {others!r}, which its LOCATION would read; set LOAD_METHOD=copy"
            )

    def _load_external(self, cur, obj):
        from psycopg2 import sql

        settings = self.cos.settings
        schema = self.target.split(".", 1)[0]
        name = f"{schema}.airflow_scf_snova_ext_{uuid.uuid4().hex[:16]}"
        location = cos_ext_location(
            obj.bucket, obj.key, settings.region, settings.secret_id, settings.secret_key
        )
        ddl = external_table_ddl(name, self.column_types, location, self.header, self.delimiter)
        print(f"Creating external table {name} on cos://{obj.bucket}/{obj.key}")
        try:
            cur.execute(ddl.as_string(cur))
        except Exception as err:
            reason = db_error_text(err, (settings.secret_id, *settings.secrets))
            # Not chained: the driver's exception may quote the statement, secrets included.
            raise LoadError(f"creating external table {name} failed: {reason}") from None
        columns = sql.SQL(", ").join(sql.Identifier(c) for c, _ in self.column_types)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                relation(self.target), columns, columns, relation(name)
            )
        )
        rows = cur.rowcount
        cur.execute(sql.SQL("DROP EXTERNAL TABLE IF EXISTS {}").format(relation(name)))
        return rows

    def _rollback(self):
        if self.conn.closed:
            return
        try:
            self.conn.rollback()
        except Exception:  # the connection died with the transaction: nothing to undo
            pass

    @staticmethod
    def _result(obj, rows, status, started):
        return {
            "bucket": obj.bucket,
            "key": obj.key,
            "etag": obj.etag,
            "rows": rows,
            "status": status,
            "seconds": round(time.monotonic() - started, 3),
        }
