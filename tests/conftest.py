"""Shared test harness: an isolated Airflow home, a real PostgreSQL, and the bundled emulator.

The environment is fixed here, before anything imports Airflow:
- ``AIRFLOW_HOME`` is a fresh temporary directory with its own SQLite metadata database, migrated
  once per session by the ``airflow_db`` fixture (only tests that run DAGs ask for it);
- the target of the system tests is chosen (:func:`scf_snova_devel.cloud.choose_target`): the
  emulator, or Tencent Cloud when ``SCF_SNOVA_TEST_CLOUD=1`` and its variables are set
  (``make test-cloud``, docs/cloud-tests.md); its variables are read before the next step;
- ``TENCENTCLOUD_*`` variables are scrubbed (and, on the emulator, proxy variables); ``NO_PROXY``
  covers loopback, so the SDKs never leave the machine unless the cloud is the target;
- connections are ``AIRFLOW_CONN_*`` variables pointing at the session's target and PostgreSQL.

Markers: ``emulator_only("why")`` tests need the emulator itself (its control API, fault
injection, its state) and are skipped on the cloud; ``cloud_only("why")`` tests need Tencent
Cloud and are skipped on the emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from scf_snova_devel.cleanup import ResourceTracker
from scf_snova_devel.cloud import RunNames, choose_target, redact_report

ROOT = Path(__file__).resolve().parents[1]
#: db, put, run_load, block_stream, wait_for and task_logs for the load tests.
pytest_plugins = ["scf_snova_devel.loads"]

# -- the process environment, before Airflow is imported anywhere --------------------------------
#: The system tests' target, read before the scrub below.
TARGET = choose_target(os.environ)
#: The run's names: everything the session creates carries ``RUN.tag``.
RUN = RunNames()
_PROXIES = () if TARGET.cloud else ("http_proxy", "https_proxy", "all_proxy")
for _name in list(os.environ):
    if _name.upper().startswith("TENCENTCLOUD_") or _name.lower() in _PROXIES:
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
    """``soak`` tests run only under ``make soak`` (``SOAK=1``), ``cluster`` tests only under
    ``make test-cluster`` (``CLUSTER=1``); ``emulator_only`` tests are
    skipped on the cloud, ``cloud_only`` ones on the emulator; when the cloud is asked for but
    not configured, everything is skipped, saying why."""
    soak = pytest.mark.skip(reason="soak test: run with `make soak`")
    cluster = pytest.mark.skip(reason="cluster test: run with `make test-cluster`")
    for item in items:
        if "soak" in item.keywords and os.environ.get("SOAK") != "1":
            item.add_marker(soak)
        if "cluster" in item.keywords and os.environ.get("CLUSTER") != "1":
            item.add_marker(cluster)
        if TARGET.skip_reason:
            item.add_marker(pytest.mark.skip(reason=TARGET.skip_reason))
            continue
        wrong = item.get_closest_marker("cloud_only" if not TARGET.cloud else "emulator_only")
        if wrong is not None:
            why = wrong.args[0] if wrong.args else "see the test"
            where = "the emulator" if TARGET.cloud else "Tencent Cloud (make test-cloud)"
            reason = f"{wrong.name}: {why}; the target is not {where}"
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """No report shows a secret of the target: pytest prints a failing test's arguments and its
    captured output."""
    outcome = yield
    if _SECRETS:
        redact_report(outcome.get_result(), _SECRETS)


def pytest_terminal_summary(terminalreporter):
    for line in _CLEANUP_LINES:
        terminalreporter.write_line(line)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


#: Values no test report may show (the target's secrets, generated passwords).
_SECRETS: set[str] = set(TARGET.settings.secrets if TARGET.settings else ())
#: What the session's clean-up printed.
_CLEANUP_LINES: list[str] = []
#: What the run created (Snova's databases and roles, and the target's resources).
TRACKER = ResourceTracker(RUN.tag, _SECRETS)


# -- Airflow metadata database ------------------------------------------------------------------
@pytest.fixture(scope="session")
def airflow_db():
    """Migrate the isolated Airflow metadata database once per session."""
    from airflow.utils import db

    db.resetdb(skip_init=False)
    yield _AIRFLOW_HOME


# -- names ----------------------------------------------------------------------------------------
@pytest.fixture
def unique_name():
    """``unique_name("fn")`` -> a fresh lowercase name with the run's tag, such as
    ``fn-it3a9c1f-7``."""
    return RUN.name


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
    if TARGET.cloud:
        pytest.skip("needs the emulator itself; SCF_SNOVA_TEST_CLOUD=1 selects Tencent Cloud")
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
    if not TARGET.cloud and "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").faults.reset()


@pytest.fixture(autouse=True)
def _delete_leftover_functions(request):
    """Functions a test leaves in the session emulator are deleted after it: SCF allows 50
    functions per namespace, the emulator enforces that, and the suite creates more than 50.
    On the cloud, the functions of the run (with its tag) a test leaves are deleted after it."""
    if TARGET.cloud and "target" in request.fixturenames:
        yield from _delete_leftover_cloud_functions(request.getfixturevalue("target"))
        return
    if TARGET.cloud or "emulator" not in request.fixturenames:
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


def _delete_leftover_cloud_functions(target):
    from scf_snova_devel.cleanup import delete_function
    from scf_snova_devel.cloud import holds_tag

    def tagged() -> set[str]:
        names = (f["FunctionName"] for f in target.scf.list_functions(target.namespace))
        return {name for name in names if holds_tag(name, RUN.tag)}

    before = tagged()
    yield
    for name in tagged() - before:
        target.tracker.function(name, target.namespace)
        delete_function(target.scf, name, target.namespace)


# -- the system tests' target ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def target(request):
    """Where the system tests run (:class:`scf_snova_devel.target.Target`): the session's emulator
    with a scratch bucket of its own, or Tencent Cloud (``make test-cloud``). At the end of the
    session every function, layer and object of the run is deleted, recorded or found by its
    tag."""
    from scf_snova_devel.target import Target, cloud_connection_json

    if TARGET.cloud:
        os.environ["AIRFLOW_CONN_TENCENTCLOUD_DEFAULT"] = cloud_connection_json(TARGET.settings)
        chosen = Target.for_cloud(TARGET.settings, RUN, TRACKER)
    else:
        chosen = Target.for_emulator(request.getfixturevalue("emulator"), RUN, TRACKER)
    chosen.begin()
    yield chosen
    chosen.clean_up()
    chosen.end()
    where = "Tencent Cloud" if TARGET.cloud else "the emulator"
    report = TRACKER.report
    if TARGET.cloud or report.failed:
        _CLEANUP_LINES.append(f"clean-up of run {RUN.tag} on {where}: {report.summary()}")
    if report.failed:
        _CLEANUP_LINES.append(
            f"  delete the rest with: python -m scf_snova_devel.cloud sweep --tag {RUN.tag}"
        )


@pytest.fixture
def scratch(target, request):
    """A fresh folder of the target's scratch bucket for one test: ``bucket`` and ``root``
    (``scf-snova-tests/<tag>/<module>-<n>/``); tests put every key under ``root``."""
    from types import SimpleNamespace

    label = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    return SimpleNamespace(bucket=target.bucket, root=target.root(label[:24]))


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


# -- PostgreSQL (the Snova stand-in), or Snova ----------------------------------------------------
@pytest.fixture(scope="session")
def snova_server(request):
    """A real PostgreSQL: ``SNOVA_TEST_DSN`` when set, otherwise an embedded one on loopback; on
    the cloud, Snova at ``SNOVA_TEST_DSN``, whose user must create databases and roles.

    Yields a ``postgresql://`` URI (its ``repr`` hides the password) of a user who may create
    databases and roles; ``AIRFLOW_CONN_SNOVA_DEFAULT`` points at it. At the end of the session
    every database and role of the run (recorded, or named with its tag) is dropped.
    """
    from scf_snova_devel.cloud import redacted_dsn

    server = None
    if TARGET.cloud:
        request.getfixturevalue("target")  # set up first, so that it is torn down last
        dsn = TARGET.settings.dsn
        _check_snova_user(dsn)
    else:
        dsn = os.environ.get("SNOVA_TEST_DSN")
    if not dsn:
        from scf_snova_devel.postgres import LocalSnova

        server = LocalSnova().start()
        dsn = server.uri()
    os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = dsn.replace("postgresql://", "snova://", 1)
    yield redacted_dsn(dsn)
    TRACKER.clean_snova(dsn)  # on the cloud, the target's summary follows and includes it
    if not TARGET.cloud and TRACKER.report.failed:
        summary = TRACKER.report.summary()
        _CLEANUP_LINES.append(f"clean-up of run {RUN.tag} in PostgreSQL: {summary}")
    if server is not None:
        server.stop()


def _check_snova_user(dsn: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT rolsuper OR (rolcreatedb AND rolcreaterole) FROM pg_roles "
                "WHERE rolname = current_user"
            )
            [(allowed,)] = cur.fetchall()
    finally:
        conn.close()
    if not allowed:
        pytest.fail(
            "SNOVA_TEST_DSN's user needs CREATEDB and CREATEROLE: each test gets a database of "
            "its own, and the seed DAGs create a role (docs/cloud-tests.md)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def snova_is_greenplum(snova_server) -> bool:
    """Whether the server is Greenplum (Snova) rather than plain PostgreSQL, by the provider's
    own rule (what ``method="auto"`` decides with)."""
    import psycopg2

    from airflow_scf_snova.hooks.snova import SnovaHook

    hook = SnovaHook()
    conn = psycopg2.connect(snova_server)
    try:
        hook.read_server_version(conn)
    finally:
        conn.close()
    return hook.is_greenplum()


def _new_database(admin_dsn: str, label: str = "t") -> tuple[str, str]:
    """Create a database named with the run's tag (recorded for the clean-up); returns its name
    and its DSN (the admin's user)."""
    from urllib.parse import urlsplit, urlunsplit

    from scf_snova_devel.cleanup import as_admin
    from scf_snova_devel.cloud import redacted_dsn

    name = TRACKER.database(RUN.ident(label))
    as_admin(admin_dsn, lambda conn: conn.cursor().execute(f'CREATE DATABASE "{name}"'))
    return name, redacted_dsn(urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}")))


def _drop_database(admin_dsn: str, name: str) -> None:
    """Drop a database made by :func:`_new_database` (its sessions ended first)."""
    from scf_snova_devel.cleanup import as_admin, drop_database

    as_admin(admin_dsn, lambda conn: drop_database(conn, name))


@pytest.fixture
def snova_db(snova_server):
    """A fresh database on the session's server; ``AIRFLOW_CONN_SNOVA_DEFAULT`` points at it."""
    name, dsn = _new_database(snova_server)
    previous = os.environ.get("AIRFLOW_CONN_SNOVA_DEFAULT")
    os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = dsn.replace("postgresql://", "snova://", 1)
    yield dsn
    if previous is not None:
        os.environ["AIRFLOW_CONN_SNOVA_DEFAULT"] = previous
    _drop_database(snova_server, name)


@pytest.fixture(scope="session")
def new_database(snova_server):
    """``new_database("label")`` -> ``(name, dsn)`` of a fresh database named with the run's tag
    (dropped by the test, or at the end of the session); ``new_database.drop(name)`` drops it."""

    def make(label: str = "t") -> tuple[str, str]:
        return _new_database(snova_server, label)

    make.drop = lambda name: _drop_database(snova_server, name)
    return make
