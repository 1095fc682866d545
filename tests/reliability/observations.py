"""What the reliability tests observed, written to a JSON file as they pass.

Every scenario of ``docs/reliability.md`` is registered in :data:`SCENARIOS` with its static
columns (area, scenario, what is injected, what is expected). A test calls :func:`record` at its
end, after its assertions passed, with the *observed* column built from what it measured, and
optional figures (durations, throughput). Records go to :func:`observations_path` (merged by
scenario id, so ``make test`` and ``make soak`` fill one file); ``render_table.py`` turns the file
into the table of ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_PATH = "RELIABILITY_OBSERVATIONS"


@dataclass(frozen=True)
class Scenario:
    area: str
    scenario: str
    injected: str
    expected: str
    soak: bool = False


_F, _L, _B, _S, _A = "Faults", "Load", "Bad input", "Secrets", "Emulator auth"
SAFE = "each source row once in the warehouse"

SCENARIOS: dict[str, Scenario] = {
    # -- faults -------------------------------------------------------------------------------
    "faults.scf-throttle-deploy": Scenario(
        _F,
        "Deploy a function while SCF throttles",
        "`RequestLimitExceeded` on the next 3 `GetFunction`/`CreateFunction` calls",
        "retried with backoff; one function created, Active",
    ),
    "faults.scf-throttle-invoke-sync": Scenario(
        _F,
        "Sync invoke while SCF throttles",
        "`RequestLimitExceeded` on the next `Invoke`",
        "not re-sent by the hook (a sync invoke may run the function); the task fails "
        "clearly and Airflow's task retry runs it; the function ran exactly once",
    ),
    "faults.scf-throttle-invoke-async": Scenario(
        _F,
        "Async invoke while SCF throttles",
        "`RequestLimitExceeded` on the next 2 `Invoke` (Event)",
        "retried (a throttled call ran nothing); the function ran exactly once",
    ),
    "faults.scf-throttle-listing": Scenario(
        _F,
        "Listing functions and triggers while SCF throttles",
        "`RequestLimitExceeded` on the next 4 `ListFunctions`/`ListTriggers`",
        "retried; complete listings; the trigger operator binds one trigger",
    ),
    "faults.cos-503-deploy": Scenario(
        _F,
        "Deploy from a COS package while COS answers 503",
        "503 `ServiceUnavailable` on the next 2 COS HEAD requests",
        "the COS SDK retries; the function is created from the package",
    ),
    "faults.cos-503-upload-listing": Scenario(
        _F,
        "Upload and list while COS answers 503",
        "503 on the next PUT, then on the next listing",
        "SDK retries; the object is stored once with its content; the listing is complete",
    ),
    "faults.cos-503-load": Scenario(
        _F,
        "COS-to-Snova load while COS answers 503",
        "503 on the next listing and the next 2 GETs",
        f"SDK retries; the load succeeds; {SAFE}",
    ),
    "faults.cos-503-exhausted": Scenario(
        _F,
        "COS keeps answering 503 during a load",
        "503 on the next 10 GETs (more than the SDK's 3 retries)",
        "a clear failure naming the object and the request id, nothing of that object "
        f"committed; the task retry succeeds; {SAFE}",
    ),
    "faults.latency-cos-load": Scenario(
        _F,
        "Latency spike on COS during a load",
        "+0.3 s on every COS request",
        f"slower, same result; {SAFE}",
    ),
    "faults.latency-scf-read-timeout": Scenario(
        _F,
        "Latency spike beyond the SCF client's timeout on a read",
        "+3 s on SCF answers, client timeout 1 s, until the hook's first retry",
        "the read (`GetFunction`) times out, is retried and succeeds once the spike ends",
    ),
    "faults.latency-scf-invoke-timeout": Scenario(
        _F,
        "Latency spike beyond the SCF client's timeout on a sync invoke",
        "+65 s on SCF answers (the invoke's client timeout is 60 s)",
        "a clear network error after 60 s, the invoke is not re-sent; the function ran at most "
        "once",
        soak=True,
    ),
    "faults.restart-cos-sensor": Scenario(
        _F,
        "Emulator restarted while a deferred COS sensor waits",
        "the emulator stopped mid-wait, a second one started on the same port and data dir; "
        "the object uploaded after the restart",
        "the trigger sits out the failed polls and fires once the object appears",
    ),
    "faults.restart-scf-sensor": Scenario(
        _F,
        "Emulator restarted while a deferred SCF status wait runs",
        "the emulator stopped while the function is `Creating`, restarted on the same port "
        "and data dir",
        "the trigger's reads are retried; the function settles to Active after the restart; "
        "success event",
    ),
    "faults.cos-drop-mid-download": Scenario(
        _F,
        "COS connection dropped mid-download during a load",
        "the 2nd GET cut after 64 KiB of the body (`drop_connections`)",
        "the object fails naming its key, nothing of it committed, earlier objects stay; "
        f"the retry loads the rest; {SAFE}",
    ),
    "faults.pg-backend-terminated": Scenario(
        _F,
        "PostgreSQL backend terminated mid-COPY (loader in a child process)",
        "`pg_terminate_backend` while the COPY of the 2nd object is streaming (held at a gate)",
        f"a clear failure naming the object; rerun skips committed objects; {SAFE}",
    ),
    "faults.task-sigkill": Scenario(
        _F,
        "Task process killed (SIGKILL) mid-COPY, then retried",
        "`kill -9` of the loading process while its COPY streams (held at a gate)",
        "the server rolls the object back when the client vanishes; the retry is not blocked "
        f"by a stale lock and loads the rest; {SAFE}",
    ),
    "faults.task-sigkill-airflow": Scenario(
        _F,
        "`airflow tasks test` killed (SIGKILL) mid-COPY, then rerun",
        "`kill -9` of the real Airflow task process while its COPY streams (held at a gate)",
        f"as above, through the Airflow CLI; {SAFE}",
        soak=True,
    ),
    # -- load ---------------------------------------------------------------------------------
    "load.concurrent-loads-small": Scenario(
        _L,
        "Concurrent load tasks into one table (reduced scale, every `make test`)",
        "8 processes, each loading an overlapping half of 40 objects",
        "no duplicates, no losses, no deadlock; every object loaded by exactly one task",
    ),
    "load.concurrent-loads": Scenario(
        _L,
        "20 concurrent load tasks over 200 objects into one table",
        "20 processes (a pool), each loading 20 objects; every object in 2 tasks' lists",
        "no duplicates, no losses, no deadlock; every object loaded by exactly one task",
        soak=True,
    ),
    "load.deferred-sensors": Scenario(
        _L,
        "50 deferred COS sensors on one triggerer",
        "50 `COSObjectTrigger`s in one asyncio loop (poke 0.5 s); their objects uploaded "
        "one by one once all are polling",
        "every trigger fires exactly once, with its own object",
    ),
    "load.sync-invokes": Scenario(
        _L,
        "100 concurrent sync invokes",
        "100 threads invoking one function through `SCFHook` at once",
        "100 successes, each returns its own payload, 100 distinct request ids, 100 runs recorded",
    ),
    # -- bad input ----------------------------------------------------------------------------
    "input.csv-bad-quoting": Scenario(
        _B,
        "CSV with an unterminated quote",
        'an object whose 3rd line opens a `"` that never closes',
        "a clear error naming the object; nothing of it committed",
    ),
    "input.csv-wrong-columns": Scenario(
        _B,
        "CSV with a wrong column count",
        "a row with 3 fields for a 2-column load, another with 1",
        "a clear error naming the object and the line; nothing of it committed",
    ),
    "input.csv-invalid-utf8": Scenario(
        _B,
        "CSV with invalid UTF-8",
        "the bytes `\\xff\\xfe` in a field, `encoding=UTF8`",
        "a clear error naming the object and the line; nothing of it committed",
    ),
    "input.csv-10mb-field": Scenario(
        _B,
        "CSV with a 10 MB field",
        "one quoted field of 10 MiB (with commas and newlines inside)",
        "loaded intact (it is valid CSV): byte-identical, once",
    ),
    "input.empty-object": Scenario(
        _B,
        "Empty object",
        "a 0-byte object (with `header=True` and without)",
        "0 rows loaded, recorded in the ledger (skipped next time), no error",
    ),
    "input.deleted-before-load": Scenario(
        _B,
        "Object deleted between the listing task and the load task",
        "a key listed by `COSListObjectsOperator`, deleted before `COSToSnovaOperator` runs",
        "a clear error naming the key before anything is loaded",
    ),
    "input.deleted-mid-run": Scenario(
        _B,
        "Object deleted between the loader's own listing and its download",
        "the 2nd of 3 listed objects deleted after the listing",
        "the 1st committed, a clear error naming the 2nd; the retry (listing again) loads "
        f"the 3rd; {SAFE}",
    ),
    "input.invalid-bucket-names": Scenario(
        _B,
        "Invalid bucket names",
        "`Bad_Bucket`, `-x`, 60 characters, a bucket of another APPID, a missing bucket",
        "refused before any request (format), or a clear `NoSuchBucket`/`AccessDenied` naming "
        "the bucket",
    ),
    "input.invalid-keys": Scenario(
        _B,
        "Invalid object keys",
        "`''`, `/`, `/a.csv` (the SDK strips a leading `/`), a folder key for a load",
        "refused before any request with a message naming the key",
    ),
    "input.invalid-function-names": Scenario(
        _B,
        "Invalid function names",
        "`1bad`, `a`, `bad-`, 61 characters, `bad name`, `../etc`",
        "`InvalidParameter.FunctionName` naming the input, with a request id; nothing created",
    ),
    "input.invalid-trigger-names": Scenario(
        _B,
        "Invalid trigger names",
        "`bad name`, `1timer`, 61 characters",
        "`InvalidParameterValue.TriggerName` naming the input; no trigger bound",
    ),
    "input.cron-edge-cases": Scenario(
        _B,
        "5-field and 7-field cron edge cases",
        "valid: `@daily`, `*/15 * * * *`, `0 0 29 2 *`, `0 0 * * 7`, `0 0 12 ? * 6#3 *`, "
        "`0 0 0 LW * ? *`; invalid: 4/6 fields, `60 * * * *`, `0 0 * * 8`, `*/0`, `5-1`, "
        "`@once`, `0 0 30 2 *`, `0 0 0 31 4 ? *`",
        "valid ones converted; invalid ones rejected at DAG parse with a message naming the "
        "field and why",
    ),
    "input.payload-over-6mb": Scenario(
        _B,
        "Invoke payloads over the limits",
        "6 MiB + 1 byte (sync), 128 KiB + 1 (async), non-JSON text; and exactly 6 MiB",
        "refused before sending with the size and limit; the exact limit goes through",
    ),
    "input.sql-injection": Scenario(
        _B,
        "SQL identifier injection attempts",
        '`t1; DROP TABLE victim`, `t1" --`, `a.b.c`, columns with quotes, a templated table '
        "rendering to an injection",
        "refused at DAG parse (literals) or before any SQL (templated), naming the input; "
        "the victim table intact",
    ),
    "input.wrong-credentials": Scenario(
        _B,
        "Wrong credentials",
        "a wrong SecretKey (SCF and COS), an unknown SecretId, a wrong Snova password",
        "`AuthFailure`/`SignatureDoesNotMatch` with its request id; no secret in the message",
    ),
    # -- secrets ------------------------------------------------------------------------------
    "secrets.example-dags": Scenario(
        _S,
        "Every example DAG in `dags/`, run with `dag.test()`",
        "distinctive SecretKey, session token and Snova password (a dedicated emulator and "
        "PostgreSQL role)",
        "zero occurrences in task output (unmasked), XComs, rendered fields, exceptions",
    ),
    "secrets.task-log-files": Scenario(
        _S,
        "Task log files as a worker writes them (Airflow's supervisor)",
        "the same secrets; a canary task that logs them on purpose",
        "the canary is masked (`***`) in the log file; zero occurrences in the file",
    ),
    # -- emulator auth ------------------------------------------------------------------------
    "auth.scf-unsigned": Scenario(
        _A, "SCF request without a signature", "no `Authorization` header", "rejected"
    ),
    "auth.scf-wrong-signature": Scenario(
        _A, "SCF request wrongly signed", "signed with another SecretKey", "rejected"
    ),
    "auth.scf-expired": Scenario(
        _A, "SCF request with an expired signature", "timestamp 10 minutes old", "rejected"
    ),
    "auth.scf-replayed": Scenario(
        _A,
        "SCF request replayed",
        "the same signed request sent twice with `reject_replays(True)`",
        "the first accepted, the replay rejected",
    ),
    "auth.cos-unsigned": Scenario(
        _A, "COS request without a signature", "no `Authorization`", "rejected (403)"
    ),
    "auth.cos-wrong-signature": Scenario(
        _A, "COS request wrongly signed", "signed with another SecretKey", "rejected (403)"
    ),
    "auth.cos-expired": Scenario(
        _A,
        "COS request with an expired signature",
        "`q-sign-time` ended an hour ago",
        "rejected (403)",
    ),
}


def observations_path() -> Path:
    """Where observations go: ``$RELIABILITY_OBSERVATIONS``, else a fixed temp file."""
    configured = os.environ.get(ENV_PATH)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "airflow-scf-snova-reliability" / "observations.json"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _airflow_version() -> str:
    try:
        from airflow import __version__
    except ImportError:
        return "unknown"
    return __version__


_lock = threading.Lock()


def load(path: Path | None = None) -> dict:
    target = path or observations_path()
    if not target.exists():
        return {}
    return json.loads(target.read_text(encoding="utf-8"))


def record(scenario_id: str, observed: str, figures: dict | None = None) -> None:
    """Store what a passing test observed for ``scenario_id``.

    :param observed: the table's observed column, built from measured values.
    :param figures: numbers worth keeping (seconds, rates), rendered under the table.
    """
    if scenario_id not in SCENARIOS:
        raise KeyError(f"unregistered reliability scenario {scenario_id!r}")
    entry = {
        "observed": observed,
        "figures": figures or {},
        "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "commit": _commit(),
        "soak": os.environ.get("SOAK") == "1",
        "python": platform.python_version(),
        "airflow": _airflow_version(),
    }
    target = observations_path()
    with _lock:
        target.parent.mkdir(parents=True, exist_ok=True)
        data = load(target)
        data[scenario_id] = entry
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, target)
