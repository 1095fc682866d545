"""The demo's one Airflow interpreter: it imports Airflow once and runs every seed DAG with
``dag.test()``, one step at a time, as ``scripts/demo.py`` asks.

An ``airflow dags test`` process spends most of its time before its first task: the CLI's
imports and the in-process execution API that ``dag.test()`` builds (Airflow caches it per
process, ``in_process_api_server``). One process pays both once. ``demo.py`` starts it at the
very beginning, so that it imports Airflow, parses the DAGs and builds the execution API while
PostgreSQL and the emulator start; when this Airflow version's migration stamp is missing, a
child forked from it right after the import migrates the metadata database meanwhile.

The protocol is one JSON object per line: requests on the runner's stdin, replies on its stdout.
Airflow's own output goes to log files instead (``logs/runner.log``, then the log each request
names), so stdout carries nothing but replies.

- first, unasked: ``{"ready": true, "pid": ..., "seconds": ..., "dags": [...], "timings": {...}}``
  (or ``{"ready": false, "error": ...}``);
- ``{"step": "environ", "environ": {...}}``: the connections (``AIRFLOW_CONN_*``), known once
  PostgreSQL and the emulator listen;
- ``{"step": "dag", "dag_id": ..., "conf": {...}, "log": path}``: ``dag.test(run_conf=conf)``;
- ``{"step": "events", "dag_id": ..., "uploads": [[key, path], ...], "log": path}``: the watched
  run of ``demo_events.watch_and_run``.

Every reply to a step carries ``pid`` (the process that ran it) and ``seconds``. End of input
ends the runner, so it never outlives ``demo.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent


# -- the parent's side -----------------------------------------------------------------------------
class RunnerError(RuntimeError):
    """The runner exited, failed to start, or did not answer in time."""


class DagRunner:
    """``demo.py``'s handle on the runner process.

    :param process: the runner, started with pipes on stdin and stdout.
    :param log: its start-up log (Airflow's output before the first step, the migration's).
    """

    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log
        self.pid = process.pid
        self.info: dict[str, Any] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="runner-replies", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, env: Any, migrate: bool) -> DagRunner:
        """Start the runner on ``env``'s Airflow home and DAG folder (``env`` need not be
        started: the connections follow in :meth:`send_environ`).

        :param env: a :class:`demo_env.DemoEnvironment` (prepared).
        :param migrate: migrate the metadata database first.
        """
        environ = env.base_env()
        environ["SNOVA_IMPORT_BUCKET"] = env.bucket  # the asset's URI is fixed when parsed
        environ["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, str(SCRIPTS / "demo_runner.py"), str(env.dags_folder)]
        if migrate:
            command += ["--migrate-log", str(env.log_path("airflow-db-migrate"))]
        log = env.log_path("runner")
        with open(log, "wb") as err:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env=environ,
                cwd=str(SCRIPTS.parent),
                start_new_session=True,  # stopped with the environment's other children
                text=True,
            )
        env.adopt(process)
        return cls(process, log)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self._replies.put(line)
        self._replies.put(None)

    def _reply(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise RunnerError(f"the DAG runner did not answer in {timeout:.0f} s") from None
        if line is None:
            self._replies.put(None)  # every later call fails the same way
            code = self.process.poll()
            raise RunnerError(f"the DAG runner exited (code {code}): see {self.log}")
        return json.loads(line)

    def ready(self, timeout: float = 600) -> dict[str, Any]:
        """Wait until the runner is ready (Airflow imported, DAGs parsed); its first line.

        :raises RunnerError: it failed to get ready.
        """
        if self.info is None:
            self.info = self._reply(timeout)
            if not self.info.get("ready"):
                error = self.info.get("error")
                raise RunnerError(f"the DAG runner failed: {error}; see {self.log}")
        return self.info

    def request(self, step: str, timeout: float = 900, **fields: Any) -> dict[str, Any]:
        """Send one step and wait for its reply (after :meth:`ready`)."""
        self.ready()
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"step": step, **fields}, default=str) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it exited: _reply says so
        return self._reply(timeout)

    def send_environ(self, environ: dict[str, str]) -> None:
        """Give the runner the connections and settings it could not know at start."""
        self.request("environ", environ=environ)

    def run_dag(self, dag_id: str, log: Path, conf: dict | None = None) -> dict[str, Any]:
        """``dag.test(run_conf=conf)`` in the runner; ``dag_id``, ``run_id``, ``state``..."""
        return self.request("dag", dag_id=dag_id, conf=conf or {}, log=str(log))

    def run_events(self, dag_id: str, log: Path, uploads: list[tuple[str, Path]]) -> dict:
        """The watched run of an asset-scheduled DAG (``demo_events.watch_and_run``)."""
        return self.request("events", dag_id=dag_id, log=str(log), uploads=uploads)

    def close(self, wait: bool = True, timeout: float = 60) -> None:
        """End the runner (end of its input); wait for it to exit when asked."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        if not wait:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# -- the runner's side -----------------------------------------------------------------------------
class _Output:
    """Where file descriptors 1 and 2 point: the start-up log, or one step's log."""

    def __init__(self) -> None:
        self.replies = os.fdopen(os.dup(1), "w", buffering=1)  # the pipe to demo.py
        self.home = os.dup(2)  # the start-up log
        os.dup2(self.home, 1)

    def send(self, value: dict[str, Any]) -> None:
        self.replies.write(json.dumps(value, default=str) + "\n")

    @contextmanager
    def to(self, path: str | None):
        if not path:
            yield
            return
        sys.stdout.flush()
        sys.stderr.flush()
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(self.home, 1)
            os.dup2(self.home, 2)


def _fork_migration(log: str) -> int:
    """Start ``airflow db migrate`` in a forked child, output to ``log``; the child's pid.

    Forked right after ``import airflow``: the child starts with Airflow imported (a second
    ``airflow db migrate`` process would import it again), and no thread and no database
    connection exists yet to be shared with it. The parent parses the DAGs and builds the
    execution API meanwhile, none of which reads the metadata database.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        from airflow import settings
        from airflow.utils.db import upgradedb
        from airflow.utils.providers_configuration_loader import providers_configuration_loaded

        settings.engine.dispose(close=False)  # the parent's pool is not the child's
        providers_configuration_loaded(upgradedb)()
        print("Database migration done!")
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait_for_migration(pid: int, log: str) -> None:
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"airflow db migrate failed: see {log}")


def _get_ready(args: argparse.Namespace, output: _Output) -> dict[str, Any]:
    timings: dict[str, float] = {}
    mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 2)
        mark = now

    import airflow  # noqa: F401  (configures settings and logging, writes airflow.cfg)

    lap("import airflow")
    migration = _fork_migration(args.migrate_log) if args.migrate_log else None
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(args.dags_folder))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {sorted(bag.import_errors)}")
    lap("parse DAGs")
    from demo_events import prepare_dag_test

    prepare_dag_test()
    lap("execution API")
    if migration is not None:
        _wait_for_migration(migration, args.migrate_log)
        lap("wait for the migration (forked after the import)")
    return {"bag": bag, "timings": timings, "migrated": bool(args.migrate_log)}


def _run_step(request: dict[str, Any], bag: Any) -> dict[str, Any]:
    step = request["step"]
    if step == "environ":
        os.environ.update(request["environ"])
        return {"ok": True}
    dag = bag.dags[request["dag_id"]]
    if step == "dag":
        run = dag.test(run_conf=request.get("conf") or None)
        return {"dag_id": dag.dag_id, "run_id": run.run_id, "state": str(run.state)}
    if step == "events":
        from demo_events import watch_and_run

        return watch_and_run(dag, [tuple(item) for item in request["uploads"]])
    raise ValueError(f"unknown step {step!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dags_folder", type=Path)
    parser.add_argument("--migrate-log", help="migrate the metadata database first, log here")
    args = parser.parse_args(argv)
    output = _Output()
    sys.path.insert(0, str(SCRIPTS))
    started = time.monotonic()
    try:
        ready = _get_ready(args, output)
    except Exception as err:
        traceback.print_exc()
        output.send({"ready": False, "error": f"{type(err).__name__}: {err}"})
        return 1
    bag = ready.pop("bag")
    output.send(
        {
            "ready": True,
            "pid": os.getpid(),
            "seconds": round(time.monotonic() - started, 2),
            "dags": sorted(bag.dags),
            **ready,
        }
    )
    for line in sys.stdin:
        request = json.loads(line)
        began = time.monotonic()
        with output.to(request.get("log")):
            try:
                reply = _run_step(request, bag)
            except Exception as err:  # reported; the log holds the traceback
                traceback.print_exc()
                reply = {"state": "failed", "error": f"{type(err).__name__}: {err}"}
        reply.update(pid=os.getpid(), seconds=round(time.monotonic() - began, 2))
        output.send(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
