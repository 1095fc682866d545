"""Shared test harness: an isolated Airflow home, a real PostgreSQL, and the bundled emulator.

The environment is fixed here, before anything imports Airflow:
- ``AIRFLOW_HOME`` is a fresh temporary directory with its own SQLite metadata database, migrated
  once per session by the ``airflow_db`` fixture (only tests that run DAGs ask for it);
- ``TENCENTCLOUD_*`` and proxy variables are scrubbed; ``NO_PROXY`` covers loopback, so the SDKs
  never leave the machine;
- connections are ``AIRFLOW_CONN_*`` variables pointing at the session's emulator and PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: db, put, run_load, block_stream, wait_for and task_logs for the load tests.
pytest_plugins = ["scf_snova_devel.loads"]

# -- the process environment, before Airflow is imported anywhere --------------------------------
for _name in list(os.environ):
    if _name.upper().startswith("TENCENTCLOUD_") or _name.lower() in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        del os.environ[_name]
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-scf-snova-test-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
)


def pytest_collection_modifyitems(config, items):
    """``soak`` tests run only under ``make soak`` (``SOAK=1``)."""
    if os.environ.get("SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="soak test: run with `make soak`")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


# -- Airflow metadata database ------------------------------------------------------------------
@pytest.fixture(scope="session")
def airflow_db():
    """Migrate the isolated Airflow metadata database once per session."""
    from airflow.utils import db

    db.resetdb(skip_init=False)
    yield _AIRFLOW_HOME


# -- names ----------------------------------------------------------------------------------------
_counter = itertools.count()


@pytest.fixture
def unique_name():
    """``unique_name("fn")`` -> a fresh lowercase name such as ``fn-3a9c1f02-7``."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}-{next(_counter)}"

    return make


@pytest.fixture
def shared_dir():
    """A directory functions can read: they run as an unprivileged user when the emulator runs
    as root, and pytest's own temporary directories are private to their owner."""
    path = Path(tempfile.mkdtemp(prefix="scf-shared-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- the emulator ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """A started emulator (SCF + COS + CLS) on a free port, data under a session temp dir. SCF
    retries a failed asynchronous invocation after 0.1 s here (60 s on SCF), so a test sees the
    whole retried invocation."""
    from scf_snova_emulator import EmulatorConfig, EmulatorServer

    server = EmulatorServer(
        EmulatorConfig(
            port=0,
            data_dir=str(tmp_path_factory.mktemp("emulator")),
            status_delay=0.05,
            retry_interval=0.1,
        )
    )
    server.start()
    os.environ["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"] = tencentcloud_conn_json(server)
    yield server
    server.stop()


def tencentcloud_conn_json(server, **extra_overrides) -> str:
    """An ``AIRFLOW_CONN_*`` value for a tencentcloud connection pointed at ``server``."""
    cfg = server.config
    extra = {
        "region": cfg.region,
        "appid": cfg.appid,
        "namespace": "default",
        "endpoint": server.endpoint,
    }
    extra.update(extra_overrides)
    return json.dumps(
        {
            "conn_type": "tencentcloud",
            "login": cfg.secret_id,
            "password": cfg.secret_key,
            "extra": extra,
        }
    )


@pytest.fixture(autouse=True)
def _clear_emulator_faults(request):
    """Faults injected by one test never leak into the next."""
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").faults.reset()


@pytest.fixture(autouse=True)
def _delete_leftover_functions(request):
    """Functions a test leaves in the session emulator are deleted after it: SCF allows 50
    functions per namespace, the emulator enforces that, and the suite creates more than 50."""
    if "emulator" not in request.fixturenames:
        yield
        return
    from scf_snova_core.states import TRANSIENT_STATES
    from scf_snova_emulator.scf.exceptions import ScfError

    backend = request.getfixturevalue("emulator").scf.backend
    before = {function.name for function in backend.list("default")}
    yield
    for function in backend.list("default"):
        if function.name not in before and function.status not in TRANSIENT_STATES:
            try:
                backend.delete("default", function.name, None)
            except ScfError:  # deleted meanwhile
                pass


def sdk_client(server, client_class):
    """A real Tencent Cloud API 3.0 SDK client (``ScfClient``, ``ClsClient``) pointed at
    ``server``."""
    from scf_snova_devel.scf_api import client_for

    return client_for(server, client_class)


@pytest.fixture
def scf_client(emulator):
    """A real ``ScfClient`` pointed at the emulator."""
    from tencentcloud.scf.v20180416.scf_client import ScfClient

    return sdk_client(emulator, ScfClient)


@pytest.fixture
def cls_client(emulator):
    """A real ``ClsClient`` pointed at the emulator (its CLS half, on the same port)."""
    from tencentcloud.cls.v20201016.cls_client import ClsClient

    return sdk_client(emulator, ClsClient)


@pytest.fixture
def cos_client(emulator):
    """A real ``CosS3Client`` pointed at the emulator (bucket carried in the Host header)."""
    from qcloud_cos import CosConfig, CosS3Client

    cfg = emulator.config
    return CosS3Client(
        CosConfig(
            Region=cfg.region,
            SecretId=cfg.secret_id,
            SecretKey=cfg.secret_key,
            Scheme="http",
            IP="127.0.0.1",
            Port=emulator.port,
        )
    )


@pytest.fixture
def bucket(emulator, unique_name):
    """A fresh, empty bucket (full ``name-appid``)."""
    name = f"{unique_name('b')}-{emulator.config.appid}"
    emulator.cos.create_bucket(name)
    return name


# -- PostgreSQL (the Snova stand-in) --------------------------------------------------------------
@pytest.fixture(scope="session")
def snova_server():
    """A real PostgreSQL: ``SNOVA_TEST_DSN`` when set, otherwise an embedded one on loopback.

    Yields a ``postgresql://`` URI with a superuser; ``AIRFLOW_CONN_SNOVA_DEFAULT`` points at it.
    """
    dsn = os.environ.get("SNOVA_TEST_DSN")
    server = None
    if not dsn:
        from scf_snova_devel.postgres import LocalSnova

        server = LocalSnova().start()
        dsn = server.uri()
    os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = dsn.replace("postgresql://", "snova://", 1)
    yield dsn
    if server is not None:
        server.stop()


@pytest.fixture
def snova_db(snova_server):
    """A fresh database on the session's server; ``AIRFLOW_CONN_SNOVA_DEFAULT`` points at it."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    name = f"t_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(snova_server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(snova_server)
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    previous = os.environ.get("AIRFLOW_CONN_SNOVA_DEFAULT")
    os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = dsn.replace("postgresql://", "snova://", 1)
    yield dsn
    if previous is not None:
        os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = previous
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()
