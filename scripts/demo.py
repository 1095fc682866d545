"""``make demo``: the seed article's two workflows running offline, end to end, then a report.

1. starts a local Snova (embedded PostgreSQL) and the SCF + COS emulator on free loopback ports,
   data under ``.demo/`` (kept between runs; ``make clean`` removes it), and an Airflow home in
   ``.demo/airflow`` (metadata database migrated once);
2. uploads generated ``.log`` files (4,000 rows in all, see ``demo_data.py``) and two decoys to
   the bucket, in the order the story needs, and runs the seed DAGs with ``dag.test()`` in one
   Airflow interpreter (``demo_runner.py``, started first: it imports Airflow, migrates and
   parses the DAGs while PostgreSQL and the emulator start): ``cos_to_snova_import`` (sensor,
   exactly-once load, checks), ``cos_event_import`` (the asset watcher's events, see
   ``demo_events.py``), ``scf_native_triggers`` (then a COS upload and the timer fire the SCF
   function), ``snova_timer_query`` (the query through SCF and directly);
3. prints what happened: each DAG's state, files loaded and skipped, what the SCF functions
   returned, the rows in ``t1``; and stops everything it started, also on failure or Ctrl-C.

Running it again loads nothing: every file is in the ledger (the import runs with wait_for="any").

``make demo-ui`` (``--ui``) then starts ``airflow standalone`` on the same setup and prints the URL
and the login, to watch the runs in the Airflow UI; Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import demo_push
from demo_data import ALL_FILES, BATCHES, DECOYS, EXPECTED_ROWS, EXPECTED_SUM
from demo_env import BIN, REPO, DemoEnvironment, DemoError, wait_until
from demo_runner import DagRunner, RunnerError

IMPORT_FUNCTION = "snova-cos-import"
QUERY_FUNCTION = "snova-timer-query"
SWEEP_TRIGGER = "nightly-sweep"
LEDGER = "airflow_scf_snova_load_ledger"

__all__ = [
    "DemoEnvironment",
    "DemoError",
    "format_report",
    "main",
    "run_demo",
    "run_ui",
    "seed_bucket",
    "start_runner",
    "ui_credentials",
]


# -- the metadata database, read directly (importing Airflow here would cost seconds) ------------
def _decode(value: Any) -> Any:
    """An XCom value as stored by Airflow 3 (JSON, with serde wrappers for tuples and such)."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        if "__data__" in value and "__classname__" in value:
            return _decode(value["__data__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def last_run(env: DemoEnvironment, dag_id: str) -> dict[str, Any]:
    """The newest run of ``dag_id``: state, task states and return values."""
    with sqlite3.connect(env.airflow_home / "airflow.db", timeout=30) as db:
        row = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
        if row is None:
            return {"dag_id": dag_id, "state": "missing", "tasks": {}, "xcom": {}}
        run_id, state = row
        tasks = dict(
            db.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                (dag_id, run_id),
            ).fetchall()
        )
        xcom = {
            task_id: _decode(value)
            for task_id, value in db.execute(
                "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? "
                "AND key = 'return_value'",
                (dag_id, run_id),
            ).fetchall()
        }
    return {"dag_id": dag_id, "run_id": run_id, "state": state, "tasks": tasks, "xcom": xcom}


# -- steps ---------------------------------------------------------------------------------------
class Story:
    """Runs the demo's steps against one :class:`DemoEnvironment`, collecting the report.

    :param env: the started environment.
    :param runner: the Airflow interpreter that runs the DAGs.
    """

    def __init__(self, env: DemoEnvironment, runner: DagRunner) -> None:
        self.env = env
        self.runner = runner
        self.step = 0
        self.started = time.time()
        self.report: dict[str, Any] = {"bucket": env.bucket, "dags": {}, "scf": {}}
        self.timings: dict[str, float] = {}
        self.redeployed_at = float("inf")

    def say(self, text: str) -> None:
        self.env.log(f"  [{time.time() - self.started:5.0f}s] {text}")

    @contextmanager
    def timed(self, part: str):
        """Record the seconds ``part`` of the story takes (``report["timings"]``)."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings[part] = round(time.monotonic() - began, 2)

    def upload(self, files) -> None:
        for item in files:
            self.env.upload(item.key, item.data)

    def _in_runner(self, dag_id: str, text: str, ask) -> tuple[dict[str, Any], Path]:
        """One step that the runner runs: ``ask(log)`` sends it (the runner writes the run's
        output to ``log``); a runner that fails makes it a failed step. Its reply and log."""
        self.step += 1
        self.say(text)
        log = self.env.log_path(f"{self.step}-{dag_id}")
        log.write_bytes(b"")
        with self.timed(dag_id):
            try:
                reply = ask(log)
            except RunnerError as err:
                reply = {"state": "failed", "error": str(err)}
        return reply, log

    def dag_test(self, dag_id: str, conf: dict | None = None) -> dict[str, Any]:
        """``dag.test()`` of ``dag_id`` in the runner; its run, read from the metadata DB."""
        reply, log = self._in_runner(
            dag_id, f"dag.test() {dag_id}", lambda log: self.runner.run_dag(dag_id, log, conf)
        )
        run = last_run(self.env, dag_id)
        if "error" in reply:
            run["error"] = reply["error"]
            if reply.get("run_id") != run.get("run_id"):  # no run of this step to read
                run["state"] = "failed"
        run["pid"], run["seconds"] = reply.get("pid"), reply.get("seconds")
        run["log"] = self.env._rel(log)
        self.report["dags"][dag_id] = run
        return run

    def event_run(self) -> dict[str, Any]:
        """cos_event_import: the watcher sees the ``events`` files arrive; one run loads them."""
        dag_id = "cos_event_import"
        samples = self.env.root / "samples"
        uploads = []
        for item in BATCHES["events"]:
            path = samples / item.key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(item.data)
            uploads.append((item.key, path))
        run, log = self._in_runner(
            dag_id,
            f"{dag_id}: the asset watcher lists snova/*.log, two files arrive",
            lambda log: self.runner.run_events(dag_id, log, uploads),
        )
        run.setdefault("dag_id", dag_id)
        run["log"] = self.env._rel(log)
        run["xcom"] = {"load_new_objects": run.pop("results", [])}
        self.report["dags"][dag_id] = run
        return run

    def tell(self, before: tuple[int, int]) -> None:
        """The story's steps, in order (each DAG only once the first one set up the tables).

        :param before: ``t1``'s rows and their sum before this run.
        """
        env = self.env
        self.say(
            f"upload {len(BATCHES['initial'])} .log files and {len(DECOYS)} decoys to {env.bucket}"
        )
        with self.timed("upload the first files"):
            self.upload(BATCHES["initial"])
            for key, data in DECOYS.items():
                env.upload(key, data)
        wait_for = "any" if before[0] else "new"  # a re-run: every file is in t1's ledger already
        first = self.dag_test("cos_to_snova_import", {"bucket": env.bucket, "wait_for": wait_for})
        if first["state"] == "success":  # t1, the ledger and scf_visit exist from here on
            self.event_run()
            self.scf_native()
            self.dag_test("snova_timer_query")

    def wait_invocation(self, match, what: str) -> dict:
        def finished():
            for item in self.env.invocations(IMPORT_FUNCTION):
                if item["start_time"] >= self.started - 1 and match(item):
                    return item if item["status"] != "running" else None
            return None

        return wait_until(finished, what, timeout=180, interval=0.3)

    def scf_native(self) -> None:
        self.upload(BATCHES["backlog"])  # lands before the function has any trigger
        self.redeployed_at = time.time()
        run = self.dag_test("scf_native_triggers", {"bucket": self.env.bucket})
        if run["state"] != "success":
            return
        [live] = BATCHES["live"]
        self.say(f"upload {live.key}: SCF's COS trigger fires {IMPORT_FUNCTION}")
        with self.timed("SCF COS trigger"):
            self.env.upload(live.key, live.data)
            self.wait_invocation(
                lambda i: i["trigger"] == "cos" and _event_key(i) == live.key, "the COS trigger"
            )
        self.say(f"fire the timer trigger {SWEEP_TRIGGER!r} (the emulator's control API)")
        with self.timed("SCF timer trigger"):
            request_id = self.env.fire_timer(IMPORT_FUNCTION, SWEEP_TRIGGER)
            self.wait_invocation(lambda i: i["request_id"] == request_id, "the timer trigger")

    def collect_scf(self) -> None:
        """What the import function did this run, per trigger type (waits for stragglers)."""

        def all_done():
            found = [
                i
                for i in self.env.invocations(IMPORT_FUNCTION)
                if i["start_time"] >= self.started - 1
            ]
            return found if all(i["status"] != "running" for i in found) else None

        invocations = wait_until(all_done, "SCF invocations to finish", timeout=180) or []
        summary: dict[str, dict[str, Any]] = {}
        for item in invocations:
            entry = summary.setdefault(
                item["trigger"],
                {"invocations": 0, "loaded": 0, "skipped": 0, "rows": 0, "failed": 0, "stale": 0},
            )
            entry["invocations"] += 1
            if item["status"] != "success":
                # Before this run redeployed it, the function may still hold an earlier run's
                # addresses (when a port was taken and changed): expected to fail.
                stale = item["start_time"] < self.redeployed_at
                entry["stale" if stale else "failed"] += 1
                continue
            result = json.loads(item["ret_msg"])
            for key in ("loaded", "skipped", "rows"):
                entry[key] += result[key]
        self.report["scf"] = summary

    def collect_tables(self, before: tuple[int, int]) -> None:
        rows, total = _t1(self.env)
        self.report["t1"] = {"rows": rows, "sum": total, "added": rows - before[0]}
        self.report["ledger"], self.report["decoys_loaded"] = {}, []
        if not self.env.sql("SELECT to_regclass(%s) IS NOT NULL", (LEDGER,))[0][0]:
            return  # the setup never ran
        ledger = self.env.sql(
            f"SELECT coalesce(dag_id, '?'), count(*), coalesce(sum(rows), 0) FROM {LEDGER} "
            "WHERE target_table = 'public.t1' GROUP BY 1 ORDER BY 1"
        )
        self.report["ledger"] = {by: {"files": n, "rows": int(r)} for by, n, r in ledger}
        keys = list(DECOYS)
        self.report["decoys_loaded"] = [
            key for (key,) in self.env.sql(f"SELECT key FROM {LEDGER} WHERE key = ANY(%s)", (keys,))
        ]


def _event_key(invocation: dict) -> str | None:
    try:
        raw = invocation["event"]["Records"][0]["cos"]["cosObject"]["key"]
    except (KeyError, IndexError, TypeError):
        return None
    return raw.split("/", 3)[3]


def _t1(env: DemoEnvironment) -> tuple[int, int]:
    exists = env.sql("SELECT to_regclass('public.t1') IS NOT NULL")[0][0]
    if not exists:
        return 0, 0
    rows, total = env.sql("SELECT count(*), coalesce(sum(a1), 0) FROM t1")[0]
    return int(rows), int(total)


def seed_bucket(env: DemoEnvironment) -> list[str]:
    """Upload every sample file and decoy at once (no story, no DAG run): for tools that only
    need data in the bucket. Returns the keys."""
    for item in ALL_FILES:
        env.upload(item.key, item.data)
    for key, data in DECOYS.items():
        env.upload(key, data)
    return [item.key for item in ALL_FILES] + list(DECOYS)


def start_runner(env: DemoEnvironment) -> DagRunner:
    """Start the demo's Airflow interpreter on ``env`` (which need not be started yet: the
    runner imports Airflow, migrates and parses the DAGs meanwhile)."""
    return DagRunner.start(env.prepare(), migrate=not env.migrated)


def run_demo(
    env: DemoEnvironment,
    runner: DagRunner | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The seed workflows on ``env`` (started): uploads, DAG runs, SCF triggers; the report.

    :param env: the started environment.
    :param runner: the runner :func:`start_runner` started on ``env`` (and that ``env`` does not
        migrate: ``migrate_early=False``); started here when missing.
    :param timings: seconds spent before (``report["timings"]`` starts with them).
    """
    if runner is None:
        env.migrate()
        runner = start_runner(env)
    story = Story(env, runner)
    story.timings.update(timings or {})
    before = _t1(env)
    try:
        with story.timed("wait for the DAG runner to start"):
            info = runner.ready()
        if info.get("migrated"):
            env.mark_migrated()
        env.migrate()  # nothing left to do, unless env migrates itself
        runner.send_environ(env.env)
        story.report["runner_pid"] = runner.pid
        story.report["runner"] = {k: info[k] for k in ("seconds", "timings")}
        story.tell(before)
    except RunnerError as err:
        story.report["runner_error"] = str(err)
        env.log(f"  the DAG runner failed: {err}")
    finally:
        runner.close(wait=False)  # it exits while the report is collected
    with story.timed("collect the report"):
        story.collect_scf()
        story.collect_tables(before)
    story.report["seconds"] = round(time.time() - story.started)
    story.report["timings"] = story.timings
    story.report["ok"] = _ok(story.report)
    return story.report


def _ok(report: dict[str, Any]) -> bool:
    dags = report["dags"]
    states = [run.get("state") for run in dags.values()]
    ledger_rows = sum(entry["rows"] for entry in report["ledger"].values())
    failed_scf = sum(entry["failed"] for entry in report["scf"].values())
    return (
        len(dags) == 4
        and all(state == "success" for state in states)
        and not failed_scf
        and report["t1"]["rows"] == ledger_rows  # every row of t1 came through the ledger once
        and not report["decoys_loaded"]
    )


# -- the report ------------------------------------------------------------------------------------
def _counts(results: list[dict]) -> tuple[int, int, int]:
    loaded = [r for r in results if r.get("status") == "loaded"]
    return len(loaded), len(results) - len(loaded), sum(r.get("rows", 0) for r in loaded)


def format_report(report: dict[str, Any]) -> str:
    dags, scf = report["dags"], report["scf"]
    lines = [
        "",
        f"Report: the seed's workflows on bucket {report['bucket']} "
        f"({len(ALL_FILES)} .log files under snova/, {EXPECTED_ROWS} rows, and "
        f"{len(DECOYS)} decoys)",
        "",
        f"  {'':34} {'state':9} {'loaded':>6} {'skipped':>7} {'rows':>6}",
    ]

    def row(label: str, state: str, counts: tuple[int, int, int] | None, note: str = "") -> None:
        numbers = f"{counts[0]:>6} {counts[1]:>7} {counts[2]:>6}" if counts else " " * 21
        lines.append(f"  {label:34} {state:9} {numbers}  {note}".rstrip())

    def state_of(dag_id: str) -> str:
        return str(dags.get(dag_id, {}).get("state", "not run"))

    for dag_id, task_id in (
        ("cos_to_snova_import", "load_into_t1"),
        ("cos_event_import", "load_new_objects"),
    ):
        run = dags.get(dag_id, {})
        results = run.get("xcom", {}).get(task_id) or []
        note = ""
        if dag_id == "cos_event_import" and "events" in run:
            note = f"{len(run['events'])} asset events"
        row(dag_id, state_of(dag_id), _counts(results) if results else None, note)

    native = dags.get("scf_native_triggers", {})
    timer = native.get("xcom", {}).get("create_sweep_timer") or {}
    row(
        "scf_native_triggers",
        state_of("scf_native_triggers"),
        None,
        f"{IMPORT_FUNCTION} deployed; COS trigger snova/*.log; timer 0 2 * * * -> "
        f"{(timer.get('triggers') or ['?'])[0]}",
    )
    for trigger, label in (("cos", "SCF function, COS trigger"), ("timer", "SCF function, timer")):
        entry = scf.get(trigger)
        if entry:
            counts = (entry["loaded"], entry["skipped"], entry["rows"])
            note = f"{entry['invocations']} invocation(s)"
            if entry["failed"]:
                note += f", {entry['failed']} FAILED"
            if entry["stale"]:
                note += f", {entry['stale']} failed before the redeploy (old settings)"
            row(f"  {label}", "", counts, note)

    query = dags.get("snova_timer_query", {})
    returned = query.get("xcom", {}).get("invoke_query_function") or {}
    compared = query.get("xcom", {}).get("compare_paths") or {}
    row("snova_timer_query", state_of("snova_timer_query"), None)
    if returned:
        first = (returned["rows"] or [[]])[0]
        values = ", ".join(f"{c}={v}" for c, v in zip(returned["columns"], first, strict=False))
        same = "the same" if compared.get("same") else "DIFFERENT rows"
        lines.append(f"    the SCF function returned {values}; SnovaSQLOperator: {same}")

    t1, ledger = report["t1"], report["ledger"]
    by = ", ".join(f"{entry['files']} by {name}" for name, entry in ledger.items())
    lines += [
        "",
        f"  t1: {t1['rows']} rows, sum(a1) = {t1['sum']} ({t1['added']:+d} this run; the sample "
        f"files hold {EXPECTED_ROWS} rows summing to {EXPECTED_SUM})",
        f"  ledger: {sum(e['files'] for e in ledger.values())} files, each loaded once ({by})",
    ]
    if report["decoys_loaded"]:
        lines.append(f"  DECOYS LOADED: {report['decoys_loaded']}")
    else:
        lines.append(f"  decoys never loaded: {', '.join(DECOYS)}")
    if t1["added"] == 0 and all(run.get("state") == "success" for run in dags.values()):
        lines.append("  Nothing new was loaded: every file was skipped, already in the ledger.")
    for run in dags.values():
        if run.get("state") != "success":
            lines.append(f"  {run['dag_id']} FAILED: see {run.get('log')}")
    lines += ["", f"  {'OK' if report['ok'] else 'FAILED'} in {report['seconds']} s", ""]
    return "\n".join(lines)


# -- make demo-ui ----------------------------------------------------------------------------------
def _free_port(preferred: int = 8080) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise DemoError("no free TCP port")


def ui_credentials(env: DemoEnvironment) -> dict[str, str]:
    """The simple auth manager's generated logins (``user -> password``), once written."""
    path = env.airflow_home / "simple_auth_manager_passwords.json.generated"
    return json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}


def run_ui(env: DemoEnvironment, port: int | None = None) -> int:
    """``airflow standalone`` on the demo's environment until Ctrl-C."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    env.env.update(
        {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
        }
    )
    env.airflow("dags", "unpause", "cos_event_import", log_name="airflow-unpause")
    demo_push.prepare(env, url)  # the COS-to-asset bridge's user, connection and DAGs
    env.log(f"  starting airflow standalone on {url} (log: {env._rel(env.log_path('standalone'))})")
    standalone = env.popen([str(BIN / "airflow"), "standalone"], log_name="standalone")

    def ready():
        if standalone.poll() is not None:
            raise DemoError(f"airflow standalone exited: see {env.log_path('standalone')}")
        try:
            import urllib.request

            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"{url}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200 and ui_credentials(env)
        except OSError:
            return None

    logins = wait_until(ready, "the Airflow UI", timeout=600, interval=1)
    demo_push.deploy(env, url, logins)
    (env.root / "running.json").write_text(json.dumps({"endpoint": env.endpoint, "url": url}))
    env.log("")
    env.log(f"  Airflow UI: {url}")
    for user, password in logins.items():
        env.log(f"  login: {user} / password: {password}")
    env.log(f"  (generated by Airflow's simple auth manager, kept in {env._rel(env.airflow_home)}/")
    env.log("   simple_auth_manager_passwords.json.generated)")
    env.log("  cos_event_import is unpaused: upload a file to see an asset-triggered run:")
    env.log("    .venv/bin/python scripts/demo.py --put snova/2024-06-04/app-01.log")
    demo_push.hints(env)
    env.log("  Ctrl-C stops Airflow, the emulator and PostgreSQL.")
    try:
        standalone.wait()
    finally:
        (env.root / "running.json").unlink(missing_ok=True)
    return 0


def put_file(root: Path, key: str) -> int:
    """Upload a new 100-row .log file to the bucket of a running ``make demo-ui``."""
    running = root / "running.json"
    if not running.exists():
        print("no running demo-ui: start `make demo-ui` first", file=sys.stderr)
        return 1
    env = DemoEnvironment(root)
    env._secrets = env._load_secrets()
    env.endpoint = json.loads(running.read_text())["endpoint"]
    data = "".join(f"{n}\n" for n in range(100001, 100101)).encode()
    etag = env.upload(key, data)
    print(f"uploaded cos://{env.bucket}/{key} (etag {etag}, 100 rows)")
    return 0


# -- command line ----------------------------------------------------------------------------------
README_BEGIN, README_END = "<!-- demo-output:begin -->", "<!-- demo-output:end -->"


class Recorder:
    """Writes through to ``stream`` and keeps a copy of what was written."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def text(self) -> str:
        return "".join(self._parts)


def write_readme_output(output: str) -> None:
    """Replace the README's demo transcript with ``output``, naming the commit it ran."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!docs",
            ":!README.md",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    commit = f"{commit or 'unknown'}{' (with uncommitted changes)' if dirty else ''}"
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(README_BEGIN)
    _, _, tail = rest.partition(README_END)
    block = (
        f"{README_BEGIN}\n*Written by `scripts/demo.py --record-readme` from commit {commit}.*\n\n"
        f"```text\n{output.strip()}\n```\n{README_END}"
    )
    readme.write_text(head + block + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui", action="store_true", help="then run airflow standalone")
    parser.add_argument("--root", type=Path, default=REPO / ".demo", help="data directory")
    parser.add_argument("--port", type=int, help="the Airflow UI's port (default: 8080 or free)")
    parser.add_argument("--put", metavar="KEY", help="upload a file to a running demo-ui")
    parser.add_argument(
        "--record-readme",
        action="store_true",
        help="after a successful run, write its output into README.md (between its markers)",
    )
    args = parser.parse_args(argv)
    if args.put:
        return put_file(args.root.resolve(), args.put)
    if args.record_readme:
        recorder = Recorder(sys.stdout)
        sys.stdout = recorder
        try:
            status = main([a for a in (argv or sys.argv[1:]) if a != "--record-readme"])
        finally:
            sys.stdout = recorder.stream
        if status == 0:
            write_readme_output(recorder.text())
        return status

    def stop_on_term(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C (even when started in the background, where SIGINT may be ignored) and SIGTERM both
    # unwind through the cleanup below.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop_on_term)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # platformdirs, as root
    started = time.monotonic()
    print("airflow-scf-snova demo: the seed article's workflows, offline")
    story = not (args.ui and (args.root / "report.json").exists())
    try:
        # The DAG runner starts first: it imports Airflow (and migrates) while the rest starts.
        env = DemoEnvironment(args.root, timers=args.ui, migrate_early=not story)
        runner = start_runner(env) if story else None
        with env:
            startup = {"start PostgreSQL and the emulator": round(time.monotonic() - started, 2)}
            env.log(f"  Airflow home         {env._rel(env.airflow_home)}")
            report_path = env.root / "report.json"
            if runner is not None:
                report = run_demo(env, runner, startup)
                report_path.write_text(json.dumps(report, indent=1, default=str))
                print(format_report(report))
                if not report["ok"]:
                    return 1
            if args.ui:
                env.migrate()
                return run_ui(env, args.port)
    except KeyboardInterrupt:
        print("\nInterrupted: everything the demo started is stopped.")
        return 130
    except DemoError as err:
        print(f"\ndemo failed: {err}", file=sys.stderr)
        return 1
    finally:
        logs = args.root.resolve() / "logs"
        shown = logs.relative_to(REPO) if logs.is_relative_to(REPO) else logs
        print(f"(stopped; {time.monotonic() - started:.0f} s in all; logs in {shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
