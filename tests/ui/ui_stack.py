"""The system under test of the browser tests: ``airflow standalone`` on the demo setup.

:class:`AirflowStandalone` runs ``airflow standalone`` (API server, scheduler, DAG processor and
triggerer) in its own process group with its own ``AIRFLOW_HOME``, free ports, the metadata
database on the demo's PostgreSQL and the repository's ``dags/`` folder, and stops every
process it started (its whole process group, and any descendant that left it) on ``stop``.

Nothing here drives the browser; see ``ui_pages.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class StackError(RuntimeError):
    """The stack did not come up (the message carries the tail of its log)."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.5):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` passes.

    :param what: what is awaited, for the :class:`TimeoutError` message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)  # a poll interval, not synchronisation: the predicate decides


def _clean_environment() -> dict[str, str]:
    """The test process's environment without its Airflow settings (the root conftest points
    ``AIRFLOW_HOME`` at the unit tests' SQLite home) and with this venv's ``airflow`` first on
    ``PATH`` (standalone starts its components as ``airflow <command>``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_", "AIRFLOW__")) and key != "PYTEST_CURRENT_TEST"
    }
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


class AirflowStandalone:
    """``airflow standalone`` on free ports, stopped with everything it started.

    :param home: a fresh, empty directory for ``AIRFLOW_HOME``.
    :param metadata_uri: a SQLAlchemy URI of an empty PostgreSQL database for the metadata.
    :param extra_env: environment variables for every component (connections as
        ``AIRFLOW_CONN_*``, the seed DAGs' settings).
    :param log_path: where the components' combined output goes.
    """

    def __init__(
        self,
        home: Path,
        metadata_uri: str,
        extra_env: dict[str, str],
        log_path: Path,
    ) -> None:
        self.home = Path(home)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.env = _clean_environment()
        self.env.update(extra_env)
        self.env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_uri,
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # Two shared cores: a few task processes at a time is plenty.
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                # Also the execution API address the task processes report to.
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                # The connection list's "Test" button is part of what is checked.
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                # Only the runs the tests trigger: unpausing an @hourly DAG must not also
                # start a scheduled run that loads the seed files before the manual one.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                # A busy machine: task processes wait longer for the execution API (its 5 s
                # default let the supervisor kill tasks) and DAG files are parsed once.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
            }
        )
        self.process: subprocess.Popen | None = None
        self._log_file = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, dag_ids: Iterable[str] = (), timeout: float = 240) -> AirflowStandalone:
        """Start the components and return once they are healthy and ``dag_ids`` are parsed.

        :param dag_ids: DAGs that must be in the metadata database before the tests start.
        :param timeout: seconds to wait for all of it.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            ["airflow", "standalone"],
            env=self.env,
            cwd=str(self.home),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one in stop()
        )
        deadline = time.monotonic() + timeout
        self._wait(
            self._healthy, deadline, "a healthy API server, scheduler, DAG processor and triggerer"
        )
        token = self.api_token()
        for dag_id in dag_ids:
            self._wait(lambda d=dag_id: self._dag_parsed(d, token), deadline, f"DAG {dag_id}")
        return self

    def stop(self, timeout: float = 5) -> None:
        """Stop every process the stack started: SIGTERM to the process group, then SIGKILL to
        whatever is left of it and of the descendants seen before (some may have left the
        group)."""
        if self.process is None:
            return
        import psutil

        try:
            family = [psutil.Process(self.process.pid)]
            family += family[0].children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        for proc in family:
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=timeout)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        psutil.wait_procs(alive, timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> AirflowStandalone:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the tests need -----------------------------------------------------------------
    @property
    def admin_password(self) -> str:
        """The password standalone generated for ``admin`` (simple auth manager), from the file
        it tells its users to read."""
        path = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())["admin"]

    def api_token(self) -> str:
        """A JWT for the public API (for set-up and waiting, never for what is tested)."""
        body = json.dumps({"username": "admin", "password": self.admin_password}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/auth/token",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access_token"]

    def api_get(self, path: str, token: str) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def api_post(self, path: str, token: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def airflow_cli(self, *args: str, timeout: float = 120) -> str:
        """Run ``airflow <args>`` against this stack's metadata database; returns stdout."""
        result = subprocess.run(
            ["airflow", *args],
            env=self.env,
            cwd=str(self.home),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise StackError(f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- readiness ---------------------------------------------------------------------------
    def _wait(self, predicate: Callable[[], object], deadline: float, what: str) -> None:
        def check():
            if self.process.poll() is not None:
                raise StackError(
                    f"airflow standalone exited with {self.process.returncode} while waiting "
                    f"for {what}:\n{self.log_tail()}"
                )
            return predicate()

        try:
            wait_for(check, max(deadline - time.monotonic(), 1), what, interval=1)
        except TimeoutError as err:
            raise StackError(f"{err}\n{self.log_tail()}") from err

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=5) as r:
                health = json.load(r)
        except (OSError, ValueError):
            return False
        return all(health.get(name, {}).get("status") == "healthy" for name in COMPONENTS)

    def _dag_parsed(self, dag_id: str, token: str) -> bool:
        errors = self.api_get("/api/v2/importErrors", token)
        for error in errors.get("import_errors", []):
            if Path(error.get("filename", "")).stem == dag_id:
                raise StackError(f"DAG file of {dag_id} does not import:\n{error['stack_trace']}")
        try:
            self.api_get(f"/api/v2/dags/{dag_id}", token)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            raise
        return True
