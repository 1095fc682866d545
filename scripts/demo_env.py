"""The demo's environment: a local Snova (embedded PostgreSQL), the SCF + COS emulator and an
isolated Airflow home, all under one directory (``.demo/`` by default), on free loopback ports.

:class:`DemoEnvironment` is what ``make demo`` and ``make demo-ui`` run on, and what other tools
(the UI tests) can reuse::

    from demo_env import DemoEnvironment          # scripts/ on sys.path

    with DemoEnvironment(root=Path(".demo")) as env:   # starts PostgreSQL and the emulator
        env.migrate()                                  # the Airflow metadata DB, once
        env.airflow("dags", "test", "cos_to_snova_import")
        print(env.env["AIRFLOW_HOME"], env.endpoint, env.bucket)
    # stopped: the emulator, PostgreSQL, and any process started through env.popen()

Secrets (the PostgreSQL passwords and the emulator's key pair) are generated on first use and
kept in ``<root>/secrets.json`` (mode 0600), so the data survives between runs; they reach
Airflow only as ``AIRFLOW_CONN_*`` environment variables of the processes started here.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATABASE = "warehouse"
BUCKET_NAME = "snova-demo"
SCF_VISIT_USER = "scf_visit"
#: The DAGs the demo shows: the seed's (the example DAGs stay out of its UI and its parsing).
SEED_DAGS = ("cos_to_snova_import", "cos_event_import", "scf_native_triggers", "snova_timer_query")
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy"}


class DemoError(RuntimeError):
    """A demo component failed to start or a step failed; the message says where to look."""


class DemoEnvironment:
    """Start (and stop) everything the seed DAGs need, offline.

    :param root: where data, logs and the Airflow home live; reused between runs.
    :param timers: let the emulator fire SCF timer triggers on their schedule (off for ``make
        demo``, which fires the timer itself so that its report is deterministic).
    :param log: where progress lines go.
    :param migrate_early: start ``airflow db migrate`` (on the SQLite database in the Airflow
        home) in the background as soon as :meth:`start` begins; :meth:`migrate` waits for it
        (or runs it, when this is off).
    """

    def __init__(
        self,
        root: Path | str = REPO / ".demo",
        timers: bool = False,
        log=print,
        migrate_early: bool = False,
    ) -> None:
        self.root = Path(root).resolve()
        self.timers = timers
        self.migrate_early = migrate_early
        self.log = log
        self.logs = self.root / "logs"
        self.airflow_home = self.root / "airflow"
        self.dags_folder = self.root / "dags"
        self.snova: Any = None
        self.endpoint = ""
        self.env: dict[str, str] = {}
        self._emulator: subprocess.Popen | None = None
        self._children: list[subprocess.Popen] = []
        self._migration: subprocess.Popen | None = None
        self._emulator_port = 0
        self._secrets: dict[str, str] = {}

    # -- life cycle ------------------------------------------------------------------------------
    def __enter__(self) -> DemoEnvironment:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def prepare(self) -> DemoEnvironment:
        """Create the directories and the DAG folder (what an Airflow process started before
        :meth:`start` needs); :meth:`start` does it too."""
        for path in (self.root, self.logs, self.airflow_home, self.dags_folder):
            path.mkdir(parents=True, exist_ok=True)
        self._link_dags()
        return self

    def start(self) -> DemoEnvironment:
        """Start the emulator and PostgreSQL, create the database and the bucket."""
        self.prepare()
        self._secrets = self._load_secrets()
        self._stop_leftovers()
        self._ports = self._load_ports()
        if self.migrate_early:
            self._start_migration()  # in the background, like the emulator, while PostgreSQL
        self._start_emulator(self._ports["emulator"])  # starts
        self._start_snova()
        self.endpoint = self._wait_for_emulator()
        self._save_ports()
        self._create_bucket()
        self.env = self._airflow_env()
        return self

    def stop(self) -> None:
        """Stop every process this environment started, newest first. Safe to call twice; a
        second Ctrl-C does not interrupt it."""
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self._stop()
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def _stop(self) -> None:
        for child in reversed(self._children):
            _terminate(child)
        self._children.clear()
        if self._emulator is not None:
            _terminate(self._emulator)
            self._emulator = None
            (self.root / "emulator.pid").unlink(missing_ok=True)
        if self.snova is not None:
            self.snova.stop()
            self._ensure_snova_stopped()
            self.snova = None

    def _ensure_snova_stopped(self, timeout: float = 30) -> None:
        """``LocalSnova.stop`` ignores a failing ``pg_ctl stop`` (for instance when a parent
        directory became unreadable for the server's user); then stop the postmaster we started
        by its PID (SIGINT: PostgreSQL's fast shutdown)."""
        pid_file = self.snova.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        self.log(f"  pg_ctl did not stop PostgreSQL: stopping its postmaster (pid {pid})")
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)

    def _link_dags(self) -> None:
        """``<root>/dags``: symbolic links to the seed DAGs of this repository (the DAG files
        find ``functions/`` through their resolved path)."""
        for dag_id in SEED_DAGS:
            link, target = self.dags_folder / f"{dag_id}.py", REPO / "dags" / f"{dag_id}.py"
            if link.is_symlink() and link.resolve() == target:
                continue
            link.unlink(missing_ok=True)
            link.symlink_to(target)

    def dag_file(self, dag_id: str) -> Path:
        """The DAG's file in the demo's DAG folder."""
        return self.dags_folder / f"{dag_id}.py"

    # -- secrets ---------------------------------------------------------------------------------
    def _load_secrets(self) -> dict[str, str]:
        path = self.root / "secrets.json"
        if path.exists():
            return json.loads(path.read_text())
        values = {
            "snova_password": secrets.token_urlsafe(18),
            "scf_visit_password": secrets.token_urlsafe(18),
            "secret_id": "AKID" + secrets.token_hex(16),
            "secret_key": secrets.token_urlsafe(24),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
        return values

    def _stop_leftovers(self) -> None:
        """A run that was killed (SIGKILL cannot be caught) leaves its emulator and PostgreSQL
        running on this directory's data: stop them, by the PIDs that run recorded."""
        pid_file = self.root / "emulator.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text() or 0)
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                cmdline = ""
            if str(self.root / "emulator") in cmdline:  # still ours, not a reused PID
                self.log(f"  stopping the emulator an earlier run left behind (pid {pid})")
                os.kill(pid, signal.SIGTERM)
                wait_until(lambda: not Path(f"/proc/{pid}").exists(), "the old emulator", 30)
            pid_file.unlink()
        pgdata = self.root / "snova" / "pgdata"
        if (pgdata / "postmaster.pid").exists():
            from scf_snova_devel.postgres import LocalSnova

            self.log("  stopping the PostgreSQL an earlier run left behind")
            self.snova = LocalSnova(self.root / "snova", password=self._secrets["snova_password"])
            self.snova._prepare_user()  # pg_ctl runs as the server's user
            self.snova.stop()
            self._ensure_snova_stopped()
            self.snova = None

    def _load_ports(self) -> dict[str, int]:
        """The ports of the last run, kept while they are free: an SCF function deployed by an
        earlier run has the database's and the emulator's addresses in its environment."""
        path = self.root / "ports.json"
        ports = json.loads(path.read_text()) if path.exists() else {}
        for name in ("snova", "emulator"):
            if not (ports.get(name) and _port_is_free(ports[name])):
                if ports.get(name):
                    self.log(f"  port {ports[name]} ({name}) is taken: using another one")
                ports[name] = _free_port(avoid=set(ports.values()))
        return ports

    def _save_ports(self) -> None:
        from urllib.parse import urlsplit

        self._ports = {"snova": self.snova.port, "emulator": urlsplit(self.endpoint).port}
        (self.root / "ports.json").write_text(json.dumps(self._ports))

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Values that must never appear in any output."""
        s = self._secrets
        return (s["snova_password"], s["scf_visit_password"], s["secret_key"])

    # -- components ------------------------------------------------------------------------------
    def _start_emulator(self, port: int) -> None:
        self._emulator_port = port
        command = [
            sys.executable,
            "-m",
            "scf_snova_emulator",
            "--port",
            str(port),
            "--data-dir",
            str(self.root / "emulator"),
            "--secret-id",
            self._secrets["secret_id"],
            "--secret-key",
            self._secrets["secret_key"],
            "--status-delay",
            "0.05",
        ]
        if not self.timers:
            command.append("--no-timers")
        with open(self.logs / "emulator.log", "ab") as err:
            self._emulator = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=err,
                env=_clean_environ(),
                start_new_session=True,  # Ctrl-C reaches the demo, which stops it in order
            )
        (self.root / "emulator.pid").write_text(str(self._emulator.pid))

    def _wait_for_emulator(self) -> str:
        assert self._emulator is not None and self._emulator.stdout is not None
        line = self._emulator.stdout.readline().decode().strip()  # exactly one line when ready
        for _ in range(2):  # the port may have been taken since it was free; its log says why
            if line.startswith("Emulator ready at "):
                break
            code = self._emulator.wait(30)
            port = self._emulator_port or "any"
            self.log(
                f"  the emulator exited at start (code {code}, port {port}; see "
                f"{self._rel(self.logs / 'emulator.log')}): starting it on a free port"
            )
            self._start_emulator(0)
            line = self._emulator.stdout.readline().decode().strip()
        if not line.startswith("Emulator ready at "):
            log = self.logs / "emulator.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise DemoError(f"the emulator did not start: see {log}; it ends with:\n{tail}")
        endpoint = line.removeprefix("Emulator ready at ")
        self.log(f"  SCF + COS emulator   {endpoint}   (data: {self._rel(self.root / 'emulator')})")
        return endpoint

    def _start_snova(self) -> None:
        from scf_snova_devel.postgres import LocalSnova

        data = self.root / "snova"
        password = self._secrets["snova_password"]
        try:
            self.snova = LocalSnova(data, password=password, port=self._ports["snova"]).start()
        except RuntimeError as err:
            if "already in use" not in str(err) and "could not bind" not in str(err):
                raise
            # The port was free a moment ago; someone took it since.
            self.log(f"  PostgreSQL could not use port {self._ports['snova']}: using another one")
            port = _free_port(avoid=set(self._ports.values()))
            self.snova = LocalSnova(data, password=password, port=port).start()
        self.ensure_database(DATABASE)
        self.log(
            f"  Snova (PostgreSQL)   {self.snova.host}:{self.snova.port}/{DATABASE}   "
            f"(data: {self._rel(data)})"
        )

    def ensure_database(self, name: str) -> None:
        """Create the database ``name`` on the embedded PostgreSQL unless it exists."""
        import psycopg2

        conn = psycopg2.connect(self.snova.uri())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()

    @property
    def appid(self) -> str:
        from scf_snova_emulator.config import EmulatorConfig

        return EmulatorConfig().appid

    @property
    def region(self) -> str:
        from scf_snova_emulator.config import EmulatorConfig

        return EmulatorConfig().region

    @property
    def bucket(self) -> str:
        return f"{BUCKET_NAME}-{self.appid}"

    def cos_client(self):
        """A ``CosS3Client`` (cos-python-sdk-v5) pointed at the emulator."""
        import logging
        from urllib.parse import urlsplit

        from qcloud_cos import CosConfig, CosS3Client

        logging.getLogger("qcloud_cos").setLevel(logging.WARNING)
        url = urlsplit(self.endpoint)
        return CosS3Client(
            CosConfig(
                Region=self.region,
                SecretId=self._secrets["secret_id"],
                SecretKey=self._secrets["secret_key"],
                Scheme="http",
                IP=url.hostname,
                Port=url.port,
            )
        )

    def _create_bucket(self) -> None:
        client = self.cos_client()
        if not client.bucket_exists(Bucket=self.bucket):
            client.create_bucket(Bucket=self.bucket)

    # -- Airflow ---------------------------------------------------------------------------------
    def snova_uri(self, user: str | None = None, password: str | None = None) -> str:
        """A ``postgresql://`` URI of the demo database (the superuser by default)."""
        return self.snova.uri(DATABASE, user=user, password=password)

    def base_env(self) -> dict[str, str]:
        """Airflow's settings without connections (enough for ``airflow db migrate``)."""
        env = _clean_environ()
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home}/airflow.db",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        return env

    def _airflow_env(self) -> dict[str, str]:
        env = self.base_env()
        tencentcloud = {
            "conn_type": "tencentcloud",
            "login": self._secrets["secret_id"],
            "password": self._secrets["secret_key"],
            "extra": {
                "region": self.region,
                "appid": self.appid,
                "namespace": "default",
                "endpoint": self.endpoint,
            },
        }
        admin = self.snova_uri()
        visit = self.snova_uri(SCF_VISIT_USER, self._secrets["scf_visit_password"])
        env.update(
            {
                "AIRFLOW_CONN_TENCENTCLOUD_DEFAULT": json.dumps(tencentcloud),
                "AIRFLOW_CONN_SNOVA_DEFAULT": admin.replace("postgresql://", "snova://", 1),
                "AIRFLOW_CONN_SNOVA_SCF_VISIT": visit.replace("postgresql://", "snova://", 1),
                "SNOVA_IMPORT_BUCKET": self.bucket,
            }
        )
        return env

    @property
    def _migration_stamp(self) -> Path:
        return self.airflow_home / f".migrated-{version('apache-airflow')}"

    def _start_migration(self) -> None:
        if not self._migration_stamp.exists():
            command = [str(BIN / "airflow"), "db", "migrate"]
            self._migration = self.popen(command, "airflow-db-migrate", env=self.base_env())

    @property
    def migrated(self) -> bool:
        """Whether this Airflow version's schema is in place (its stamp file exists)."""
        return self._migration_stamp.exists()

    def mark_migrated(self) -> None:
        """Record that this Airflow version's schema is in place (migrated by another process)."""
        self._migration_stamp.touch()

    def migrate(self) -> None:
        """Wait for ``airflow db migrate`` (started by :meth:`start` unless a stamp file says
        this Airflow version's schema is already in place).

        :raises DemoError: the migration failed.
        """
        if self._migration is None:
            if not self._migration_stamp.exists():
                self._start_migration()
            if self._migration is None:
                return
        code = self._migration.wait(600)
        self._children.remove(self._migration)
        self._migration = None
        if code != 0:
            raise DemoError(f"airflow db migrate failed: see {self.log_path('airflow-db-migrate')}")
        self._migration_stamp.touch()

    def popen(self, command: list[str], log_name: str, **kwargs: Any) -> subprocess.Popen:
        """Start ``command`` with the Airflow environment in its own process group, output to
        ``logs/<log_name>.log``; stopped by :meth:`stop` if still running."""
        kwargs.setdefault("cwd", str(REPO))
        with open(self.logs / f"{log_name}.log", "wb") as out:
            child = subprocess.Popen(
                command,
                env=kwargs.pop("env", self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,
            )
        return self.adopt(child)

    def adopt(self, child: subprocess.Popen) -> subprocess.Popen:
        """Stop ``child`` (started with ``start_new_session``) with this environment."""
        self._children.append(child)
        return child

    def run(self, command: list[str], log_name: str, timeout: float = 600) -> str:
        """Run ``command`` to completion (see :meth:`popen`); returns its output.

        :raises DemoError: it failed (the message names its log file).
        """
        child = self.popen(command, log_name)
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            _terminate(child)
            raise DemoError(
                f"{' '.join(command[1:4])} timed out: see {self.log_path(log_name)}"
            ) from None
        finally:
            if child in self._children and child.poll() is not None:
                self._children.remove(child)
        output = self.log_path(log_name).read_text(errors="replace")
        if code != 0:
            raise DemoError(f"{' '.join(command[1:4])} failed: see {self.log_path(log_name)}")
        return output

    def airflow(self, *args: str, log_name: str) -> str:
        """Run the ``airflow`` CLI of this environment (see :meth:`run`)."""
        return self.run([str(BIN / "airflow"), *args], log_name)

    def log_path(self, log_name: str) -> Path:
        return self.logs / f"{log_name}.log"

    # -- the emulator's control API ----------------------------------------------------------------
    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call the emulator's control API (``/_emulator/...``)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.endpoint}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=120) as response:
            return json.loads(response.read())

    def invocations(self, function_name: str) -> list[dict]:
        from urllib.parse import quote

        return self.control("GET", f"invocations?function_name={quote(function_name)}")[
            "invocations"
        ]

    def fire_timer(self, function_name: str, trigger_name: str) -> str:
        body = {"function_name": function_name, "trigger_name": trigger_name}
        return self.control("POST", "timers/fire", body)["request_id"]

    def upload(self, key: str, data: bytes) -> str:
        """Put an object into the demo bucket (fires the emulator's COS triggers); its ETag."""
        return self.cos_client().put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"]

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run a query on the demo database as the superuser."""
        import psycopg2

        conn = psycopg2.connect(self.snova_uri())
        try:
            with conn, conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(REPO))
        except ValueError:
            return str(path)


def _clean_environ() -> dict[str, str]:
    """This process's environment without Airflow settings, Tencent Cloud credentials or HTTP
    proxies (everything the demo talks to is on loopback)."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW")
        and not key.upper().startswith("TENCENTCLOUD_")
        and key.lower() not in _PROXY_VARS
    }


def _port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` (with SO_REUSEADDR, as PostgreSQL and the
    emulator do: the connections of the previous run may linger in TIME_WAIT)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(avoid: set[int] = frozenset()) -> int:
    """A port nothing listens on now (not one of ``avoid``)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def _terminate(child: subprocess.Popen, grace: float = 30) -> None:
    """Stop the process group ``child`` leads (we started it with ``start_new_session``): SIGTERM
    to the whole group, then wait until every member is gone (``airflow standalone`` exits at
    once but its scheduler, triggerer and API server take a while), SIGKILL after ``grace``."""
    group = child.pid
    if child.returncode is not None and not _group_alive(group):
        return  # it ended by itself, and nothing it started is left
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_alive(group) and time.monotonic() < deadline:
        if child.poll() is None:
            try:
                child.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
        else:
            time.sleep(0.2)
    if _group_alive(group):
        _signal_group(group, signal.SIGKILL)
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        pass
    for stream in (child.stdout, child.stderr):
        if stream is not None:
            stream.close()


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(group: int) -> bool:
    """Whether any process is left in the group (a zombie leader counts until it is reaped)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until(predicate, what: str, timeout: float = 60.0, interval: float = 0.2):
    """Poll ``predicate`` until it returns something truthy; raise :class:`DemoError` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        time.sleep(interval)


__all__ = ["DemoEnvironment", "DemoError", "wait_until"]
