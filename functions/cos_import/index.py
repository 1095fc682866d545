"""SCF function: load COS ``.log`` CSV files into a Snova table, exactly once.

The seed article's import function, for Python 3. The article's version runs
``INSERT INTO t1 SELECT * FROM cos_tbl`` on every upload, re-reading the **whole** ``snova/``
prefix each time (every file's rows duplicated once per later upload), with the password and the
SecretKey written in the code. This one:

- on a **COS trigger** event loads only the objects named in the event's records
  (``cos:ObjectCreated:*``; other events are ignored), each in its own transaction;
- on a **timer trigger** event sweeps the prefix named in the timer's ``Message``
  (``{"bucket": ..., "prefix": ..., "suffix": ...}``, or the ``SWEEP_*`` variables) and loads the
  objects the ledger does not know yet: a catch-up for uploads no COS event delivered;
- records every object version in the provider's ledger under the table's advisory lock, so a
  retried invocation, a duplicate event, or the same file loaded by the Airflow operator is
  skipped, never duplicated (``snova_loader.py``, on ``scf_snova_core.ledger``);
- reads every setting from its environment (filled at deploy time from Airflow connections):

  =====================  ==========================================================
  ``DB_HOST``            Snova's address (``DB_PORT``, default 5432)
  ``DB_NAME``            the database (default ``postgres``)
  ``DB_USER``            the least-privilege user (the seed's ``scf_visit``)
  ``DB_PASSWORD``        its password
  ``TARGET_TABLE``       the table (default ``t1``)
  ``LEDGER_TABLE``       default ``airflow_scf_snova_load_ledger``
  ``KEY_PREFIX``         only keys starting with this are loaded (default: any)
  ``KEY_SUFFIX``         only keys ending with this are loaded (default: any)
  ``CSV_HEADER``         ``true`` when files start with a header line
  ``CSV_DELIMITER``      default ``,``
  ``LOAD_METHOD``        ``auto`` (cos_ext on Snova, COPY elsewhere), ``copy``,
                         ``external_table``
  ``COS_REGION``         the bucket's region
  ``COS_SECRET_ID``,     an API key; leave empty to use the execution role's temporary
  ``COS_SECRET_KEY``     credentials (then COPY is used: cos_ext takes no token)
  ``COS_ENDPOINT``       the offline emulator only (``http://127.0.0.1:9100``)
  =====================  ==========================================================

Returns ``{"trigger", "loaded", "skipped", "rows", "objects", "ignored"}``; each of ``objects``
is the object (``bucket``, ``key``, ``size``, ``etag``, ``last_modified``) with ``rows``,
``rejected``, ``status`` and ``seconds``, as ``COSToSnovaOperator`` returns it. A failure raises
(the invocation fails and SCF retries asynchronous ones); objects committed before it are
skipped by the retry.

Dependencies: ``scf_snova_core`` (pure Python, the rules this function shares with the Airflow
provider), and ``psycopg2`` and ``cos-python-sdk-v5`` (``requirements.txt``). SCF's Python 3
runtimes provide none of them, and neither does the emulator, which runs functions isolated on
the runtime's CPython: ``SCFDeployFunctionOperator`` copies ``scf_snova_core`` into the code
package (``include_packages``) and installs the requirements for SCF's platform next to
``index.py`` (``requirements_file``); a layer would do too.
"""

import json
import os
from contextlib import closing

from cos_source import CosSettings, CosSource
from scf_snova_core.names import full_bucket_name
from snova_loader import DEFAULT_LEDGER_TABLE, SnovaObjectLoader


def _flag(value):
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _records(event):
    """``(trigger, [(bucket name-appid, key), ...], [ignored ...])`` from a COS event."""
    objects, ignored = [], []
    for record in event.get("Records") or []:
        cos = record.get("cos") or {}
        name = (record.get("event") or {}).get("eventName", "")
        raw_key = (cos.get("cosObject") or {}).get("key", "")
        try:
            _, appid, bucket, key = raw_key.split("/", 3)  # "/<appid>/<bucket>/<key>"
        except ValueError:
            ignored.append({"key": raw_key, "reason": "not a /appid/bucket/key object key"})
            continue
        if not name.startswith("cos:ObjectCreated:"):
            ignored.append({"key": key, "reason": f"event {name}"})
            continue
        objects.append((f"{bucket}-{appid}", key))
    return "cos", objects, ignored


def _sweep(event, env, cos, appid):
    """Objects under the timer's prefix (the loader skips those already in the ledger)."""
    try:
        message = json.loads(event.get("Message") or "{}")
    except ValueError:
        message = {}
    message = message if isinstance(message, dict) else {}
    bucket = message.get("bucket") or env.get("SWEEP_BUCKET") or ""
    prefix = message.get("prefix", env.get("SWEEP_PREFIX") or "")
    suffix = message.get("suffix", env.get("SWEEP_SUFFIX") or "")
    if not bucket:
        raise ValueError('a timer event needs a bucket: Message {"bucket": ...} or SWEEP_BUCKET')
    bucket = full_bucket_name(bucket, appid)
    keys = [o.key for o in cos.list(bucket, prefix) if o.key.endswith(suffix or "")]
    keys = [key for key in keys if not key.endswith("/")]
    return "timer", [(bucket, key) for key in keys], []


def _wanted(key, env):
    return key.startswith(env.get("KEY_PREFIX") or "") and key.endswith(env.get("KEY_SUFFIX") or "")


def _connect(env):
    import psycopg2

    return psycopg2.connect(
        host=env["DB_HOST"],
        port=int(env.get("DB_PORT") or 5432),
        dbname=env.get("DB_NAME") or "postgres",
        user=env["DB_USER"],
        password=env.get("DB_PASSWORD") or "",
        connect_timeout=int(env.get("DB_CONNECT_TIMEOUT") or 10),
        application_name=f"scf:{env.get('SCF_FUNCTIONNAME', 'cos_import')}",
    )


def main_handler(event, context):
    env = os.environ
    event = event if isinstance(event, dict) else {}
    cos = CosSource(CosSettings.from_environ(env))
    appid = env.get("TENCENTCLOUD_APPID", "")
    if event.get("Type") == "Timer":
        trigger, found, ignored = _sweep(event, env, cos, appid)
    else:
        trigger, found, ignored = _records(event)
    objects = []
    for bucket, key in found:
        if _wanted(key, env):
            objects.append((bucket, key))
        else:
            ignored.append({"key": key, "reason": "outside KEY_PREFIX/KEY_SUFFIX"})
    print(f"{trigger} event: {len(objects)} object(s) to load, {len(ignored)} ignored")

    results = []
    if objects:
        with closing(_connect(env)) as conn:
            loader = SnovaObjectLoader(
                conn,
                cos,
                env.get("TARGET_TABLE") or "t1",
                ledger_table=env.get("LEDGER_TABLE") or DEFAULT_LEDGER_TABLE,
                method=env.get("LOAD_METHOD") or "auto",
                header=_flag(env.get("CSV_HEADER")),
                delimiter=env.get("CSV_DELIMITER") or ",",
                loaded_by=f"scf:{context.get('function_name', 'cos_import')}",
                request_id=context.get("request_id"),
            )
            for bucket, key in objects:
                try:
                    results.append(loader.load(bucket, key))
                except Exception as err:
                    if not _is_missing(err):
                        raise  # LoadError names the object; the secrets are already removed
                    ignored.append({"key": key, "reason": "no longer in COS"})
    loaded = [r for r in results if r["status"] == "loaded"]
    print(
        f"Operation done: {len(loaded)} object(s) loaded ({sum(r['rows'] for r in loaded)} rows), "
        f"{len(results) - len(loaded)} skipped as already loaded"
    )
    return {
        "trigger": trigger,
        "loaded": len(loaded),
        "skipped": len(results) - len(loaded),
        "rows": sum(r["rows"] for r in loaded),
        "objects": results,
        "ignored": ignored,
    }


def _is_missing(err):
    status = getattr(err, "get_status_code", None)
    return callable(status) and status() == 404
