"""No secret reaches what a user sees: every DAG in ``dags/`` runs with distinctive credentials
(a dedicated emulator with its own SecretKey and session token, dedicated PostgreSQL roles with
their own passwords), then task output, XComs, rendered template fields, exception text and the
whole Airflow metadata database are searched for them.

``dag.test()`` prints task logs without Airflow's secrets masker (masking happens when a worker's
supervisor writes the log file), so the search of its output is strict: zero occurrences means
the provider never emits a secret, masked or not. ``test_task_log_files`` covers the real path:
tasks run by Airflow's supervisor, which writes the log file a user reads in the UI.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from reliability.observations import record
from scf_snova_emulator import EmulatorConfig, EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
#: Known DAGs run first, in this order (the seed's imports create ``t1`` and the least-privilege
#: user the others use); any other DAG in dags/ runs afterwards, with its default params.
ORDER = [
    "example_cos.py",
    "example_snova.py",
    "example_scf.py",
    "example_cos_event.py",
    "cos_to_snova_import.py",
    "snova_timer_query.py",
    "cos_event_import.py",
    "scf_native_triggers.py",
]


def _dag_files() -> list[Path]:
    found = {p.name: p for p in DAGS.glob("*.py") if not p.name.startswith("_")}
    known = [found.pop(name) for name in ORDER if name in found]
    return known + [found[name] for name in sorted(found)]


def _run_conf(dag_id: str, names: SimpleNamespace) -> dict:
    return {
        "example_scf": {"function_name": f"sec-echo-{names.suffix}"},
        "snova_timer_query": {"function_name": f"sec-query-{names.suffix}"},
        "scf_native_triggers": {"function_name": f"sec-import-{names.suffix}"},
    }.get(dag_id, {})


@pytest.fixture(scope="module")
def secrets_world(airflow_db, snova_server, tmp_path_factory):
    """A dedicated emulator and database with canary credentials, wired as the connections."""
    import psycopg2

    tag = uuid.uuid4().hex[:10]
    canaries = SimpleNamespace(
        secret_key=f"SecretKeyCanary{tag}Zq",
        token=f"TokenCanary{tag}Xv",
        db_password=f"DbPasswordCanary{tag}Wk",
        visit_password=f"VisitPasswordCanary{tag}Jm",
        api_password=f"ApiPasswordCanary{tag}Rp",
        suffix=tag[:6],
    )
    server = EmulatorServer(
        EmulatorConfig(
            port=0,
            data_dir=str(tmp_path_factory.mktemp("secrets-emulator")),
            secret_key=canaries.secret_key,
            token=canaries.token,
            status_delay=0.05,
            timers=False,
        )
    ).start()
    appid = server.config.appid
    for bucket in ("airflow-example", f"seed-{tag}"):
        server.cos.create_bucket(f"{bucket}-{appid}")
    import_bucket = f"seed-{tag}-{appid}"
    for n in range(2):
        body = "".join(f"{n * 10 + i}\n" for i in range(1, 11)).encode()
        server.cos.put_object(import_bucket, f"snova/day-{n}.log", body)

    database, admin_role, visit_role = f"sec_{tag}", f"sec_admin_{tag}", f"sec_visit_{tag}"
    admin = psycopg2.connect(snova_server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(
            f'CREATE ROLE "{admin_role}" LOGIN CREATEROLE PASSWORD %s', (canaries.db_password,)
        )
        cur.execute(f'CREATE DATABASE "{database}" OWNER "{admin_role}"')
    parts = urlsplit(snova_server)
    where = f"{parts.hostname}:{parts.port}/{database}"
    env = {
        "AIRFLOW_CONN_TENCENTCLOUD_DEFAULT": json.dumps(
            {
                "conn_type": "tencentcloud",
                "login": server.config.secret_id,
                "password": canaries.secret_key,
                "extra": {
                    "region": server.config.region,
                    "appid": appid,
                    "endpoint": server.endpoint,
                    "token": canaries.token,
                },
            }
        ),
        "AIRFLOW_CONN_SNOVA_DEFAULT": (
            f"snova://{admin_role}:{quote(canaries.db_password, safe='')}@{where}"
        ),
        "AIRFLOW_CONN_SNOVA_SCF_VISIT": (
            f"snova://{visit_role}:{quote(canaries.visit_password, safe='')}@{where}"
        ),
        # The push bridge's Airflow user: the deploy puts it into the function's environment.
        "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
            {
                "conn_type": "http",
                "host": "http://127.0.0.1:9",
                "login": "scf_bridge",
                "password": canaries.api_password,
            }
        ),
        "SNOVA_IMPORT_BUCKET": import_bucket,
        "COS_EXAMPLE_BUCKET": import_bucket,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    yield SimpleNamespace(
        server=server,
        canaries=canaries,
        secrets={
            "SecretKey": canaries.secret_key,
            "token": canaries.token,
            "snova_default password": canaries.db_password,
            "snova_scf_visit password": canaries.visit_password,
            "airflow_api password": canaries.api_password,
        },
        dsn=urlunsplit(parts._replace(path=f"/{database}")),
    )
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        cur.execute(f'DROP ROLE IF EXISTS "{visit_role}"')
        cur.execute(f'DROP ROLE IF EXISTS "{admin_role}"')
    admin.close()


def _load_dags(path: Path) -> list:
    """Every DAG a file defines, in definition order (a file may hold several)."""
    import importlib.util

    from airflow.sdk import DAG

    spec = importlib.util.spec_from_file_location(f"secrets_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dags = list(dict.fromkeys(v for v in vars(module).values() if isinstance(v, DAG)))
    assert dags, f"{path.name} binds no DAG to a module-level name"
    return dags


def _load_dag(path: Path):
    (dag,) = _load_dags(path)
    return dag


def _run_rows(run_id: str, dag_id: str) -> tuple[list[str], list[str], list[str]]:
    """The run's XCom values (as stored), rendered template fields, and task states/notes."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        xcoms = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        xcom_texts = [f"{x.task_id}/{x.key}: {json.dumps(x.value, default=str)}" for x in xcoms]
        rtifs = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_id,
                RenderedTaskInstanceFields.run_id == run_id,
            )
        ).all()
        rendered = [f"{r.task_id}: {json.dumps(r.rendered_fields, default=str)}" for r in rtifs]
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
        states = [f"{ti.task_id}={ti.state} {ti.note or ''} {ti.next_kwargs or ''}" for ti in tis]
    return xcom_texts, rendered, states


def _metadata_db_text() -> str:
    """Every text and blob value of every table of the Airflow metadata database."""
    from airflow.configuration import conf

    path = conf.get("database", "sql_alchemy_conn").removeprefix("sqlite:///")
    chunks = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        chunks.append(value.decode("utf-8", errors="replace"))
                    elif isinstance(value, str):
                        chunks.append(value)
    return "\n".join(chunks)


def _occurrences(secrets: dict[str, str], **texts: str) -> dict[str, list[str]]:
    return {
        where: [name for name, value in secrets.items() if value in text]
        for where, text in texts.items()
        if any(value in text for value in secrets.values())
    }


@pytest.mark.slow
def test_no_secret_in_any_dag_run(secrets_world, capfd, caplog):
    caplog.set_level("DEBUG")
    files = _dag_files()
    assert {p.name for p in files} >= {"example_scf.py", "example_snova.py"}
    report, leaks, failed, seconds, all_rendered = [], {}, {}, {}, []
    totals = {"xcoms": 0, "rendered": 0, "tasks": 0}
    for dag in [dag for path in files for dag in _load_dags(path)]:
        started = time.monotonic()
        run = dag.test(run_conf=_run_conf(dag.dag_id, secrets_world.canaries))
        seconds[dag.dag_id] = time.monotonic() - started
        out, err = capfd.readouterr()
        logging_text = "\n".join(
            f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
        )
        caplog.clear()
        xcom_texts, rendered, states = _run_rows(run.run_id, dag.dag_id)
        totals["xcoms"] += len(xcom_texts)
        totals["rendered"] += len(rendered)
        all_rendered.extend(rendered)
        totals["tasks"] += len(states)
        assert "[DAG TEST] start" in out + err + logging_text, "the task output was not captured"
        found = _occurrences(
            secrets_world.secrets,
            task_output=out + err,
            python_logging=logging_text,
            xcoms="\n".join(xcom_texts),
            rendered_fields="\n".join(rendered),
            task_states="\n".join(states),
        )
        if found:
            leaks[dag.dag_id] = found
        if run.state != "success":
            failed[dag.dag_id] = (out + err)[-3000:]
        report.append(f"{dag.dag_id}: {run.state}, {len(states)} tasks")
    metadata = _occurrences(secrets_world.secrets, metadata_db=_metadata_db_text())
    assert not failed, failed
    assert leaks == {} and metadata == {}, {"leaks": leaks, "metadata": metadata}
    assert totals["xcoms"] > 0 and totals["rendered"] > 0
    # the deploys' environments were rendered from connections, and stored redacted
    redacted = [r for r in all_rendered if '"DB_PASSWORD": "***"' in r]
    assert redacted, [r for r in all_rendered if "DB_PASSWORD" in r]
    record(
        "secrets.example-dags",
        f"{len(files)} DAGs ({', '.join(p.stem for p in files)}), {totals['tasks']} task "
        f"instances, all successful: 0 occurrences of the 5 secrets in task output (unmasked "
        f"stdout/stderr and Python logging), {totals['xcoms']} XComs, {totals['rendered']} "
        f"rendered-field rows ({len(redacted)} deploy environments stored with "
        '`"DB_PASSWORD": "***"`), task states and every table of the metadata database',
        {"secrets: dag.test() of every DAG, seconds": sum(seconds.values())},
    )


# -- the log files a worker writes -----------------------------------------------------------------
CANARY_DAG = Path(__file__).resolve().parent / "dags" / "secrets_canary.py"


def _supervised(logs_dir: Path):
    """A stand-in for ``run_task_in_process`` (what ``dag.test()`` uses) that runs the task the
    way a Local/Celery worker does: ``supervise_task`` forks a task process that parses the DAG
    file itself, streams its logs to the supervisor, and the supervisor writes the log file
    through Airflow's processors (secrets masking included). Only the Execution API is in-process
    instead of HTTP."""
    from airflow.executors.workloads import BundleInfo
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.execution_time.supervisor import (
        InProcessTestSupervisor,
        TaskRunResult,
        supervise_task,
    )
    from airflow.utils.session import create_session

    def run(ti, task, client=None):
        log_path = logs_dir / f"{ti.task_id}.log"
        exit_code = supervise_task(
            ti=ti,
            bundle_info=BundleInfo(name="dags-folder"),
            dag_rel_path=str(CANARY_DAG),  # absolute: the bundle path joined with it is itself
            token="",
            client=InProcessTestSupervisor._api_client(task.dag),
            log_path=str(log_path),
        )
        with create_session() as session:
            state = session.get(TaskInstance, ti.id).state
        done = SimpleNamespace(state=state, task=task, exit_code=exit_code)
        return TaskRunResult(ti=done, state=state, msg=None, error=None)

    return run


def _serialize(path: Path) -> None:
    """Store the DAG in the metadata database (``dag.test()`` only syncs the configured dags
    folder, and this DAG is not an example)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=str(path), bundle_path=path.parent, bundle_name="dags-folder")
    assert bag.import_errors == {}
    sync_bag_to_db(bag, "dags-folder", None)


@pytest.mark.slow
def test_task_log_files(secrets_world, tmp_path, monkeypatch):
    import airflow.sdk.execution_time.supervisor as supervisor

    logs = tmp_path / "logs"
    logs.mkdir()
    monkeypatch.setattr(supervisor, "run_task_in_process", _supervised(logs))
    dag = _load_dag(CANARY_DAG)
    _serialize(CANARY_DAG)
    conf = {
        "function_name": f"canary-{secrets_world.canaries.suffix}",
        "bucket": os.environ["SNOVA_IMPORT_BUCKET"],
    }
    run = dag.test(run_conf=conf)
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        states = {
            ti.task_id: ti.state
            for ti in session.scalars(select(TaskInstance).where(TaskInstance.run_id == run.run_id))
        }
    files = {p.stem: p.read_text() for p in logs.glob("*.log")}
    assert set(files) == set(states), (sorted(files), states)
    failed = {t: s for t, s in states.items() if s != "success"}
    assert failed == {"canary_failure": "failed"}, {t: files[t][-2000:] for t in failed}
    text = "\n".join(files.values())
    assert text.count("canary via logging: *** *** ***") == 1
    assert text.count("canary via print: *** *** ***") == 1
    assert "canary exception carrying ***" in files["canary_failure"]
    assert "Loaded 2 row(s)" in files["load"] and "SCF function log" in files["invoke"]
    found = _occurrences(secrets_world.secrets, log_files=text)
    assert found == {}, found
    record(
        "secrets.task-log-files",
        f"{len(files)} tasks run by `supervise_task` (a forked task process per task, logs "
        "streamed to the supervisor, written as JSON by Airflow's processors): the canary's "
        "print, logging and exception show `***`; the provider's tasks (COS put with a session "
        "token, COPY load, SQL, deploy with secret environment values, invoke) and the files as "
        "a whole: 0 occurrences",
    )
