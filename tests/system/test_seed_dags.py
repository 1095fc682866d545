"""The seed article's workflows as DAGs (dags/cos_to_snova_import.py, snova_timer_query.py,
cos_event_import.py, scf_native_triggers.py) run with ``dag.test()`` against the target (the
emulator and a real PostgreSQL, or Tencent Cloud and Snova under ``make test-cloud``), and the SCF
functions they deploy (functions/cos_import, functions/snova_query) checked to take the rules
they share with the provider (ledger, lock key, external-table DDL) from the core,
scf_snova_core, instead of holding copies.

Everything the module writes to the bucket lives under its folder ``seed.root``; function
invocations are read as any client reads them (CLS and GetRequestStatus)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg2
import pytest
from scf_snova_devel.cleanup import as_admin, drop_role
from scf_snova_devel.cloud import redacted_dsn
from scf_snova_devel.postgres import query

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
FUNCTIONS = ROOT / "functions"
SEED_DAGS = ("cos_to_snova_import", "snova_timer_query", "cos_event_import", "scf_native_triggers")


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_dag(dag_id: str):
    return load_module(DAGS / f"{dag_id}.py", f"{dag_id}_under_test").dag


def xcoms(run_id: str, dag_id: str) -> dict[tuple[str, str], object]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        return {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}


def log_lines(first: int, count: int) -> bytes:
    """A ``.log`` CSV file for ``t1 (a1 int)``: the integers first .. first + count - 1."""
    return "".join(f"{n}\n" for n in range(first, first + count)).encode()


# -- the whole dags/ folder ------------------------------------------------------------------------
#: Literals that would be secrets in a DAG or function file (templates like {{ conn.x.password }}
#: are fine: they are resolved at run time from connections).
SECRET_PATTERNS = [
    re.compile(r"AKID[0-9A-Za-z]{13,}"),  # a Tencent Cloud SecretId
    re.compile(r"emulator-secret-key", re.I),
    re.compile(r"(?i)secret_?key=[^\s'\"{}*)`]+"),  # secretKey=... in cos_ext DDL text
    re.compile(r"(?i)\b(password|passwd|pwd|secret|token)\b\s*[:=]\s*['\"][^'\"{}\s]+['\"]"),
    re.compile(r"(?i)\bPASSWORD\s+'[^'{}]+'"),  # CREATE USER ... PASSWORD 'x'
    re.compile(r"://[^/\s:@'\"]+:[^@\s{}'\"]+@"),  # credentials in a URI
]


def test_every_dag_imports_and_no_dag_or_function_holds_a_secret():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert set(SEED_DAGS) <= set(bag.dags)
    files = sorted(DAGS.glob("*.py")) + sorted(FUNCTIONS.rglob("*.py"))
    assert len(files) >= 8
    for path in files:
        text = path.read_text()
        for pattern in SECRET_PATTERNS:
            found = pattern.search(text)
            assert found is None, f"{path.relative_to(ROOT)} holds {found.group(0)!r}"


def test_the_secret_scan_catches_what_it_is_meant_to():
    samples = [
        'password="hunter2"',
        "CREATE USER scf_visit WITH LOGIN PASSWORD 'scf_passwd'",
        "LOCATION('cos://b-1.cos.ap-guangzhou.myqcloud.com/snova/ secretKey=abc secretId=x')",
        "snova://scf_visit:scf_passwd@10.0.0.1:5432/postgres",
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
    ]
    for sample in samples:
        assert any(p.search(sample) for p in SECRET_PATTERNS), sample
    assert not any(
        p.search('"DB_PASSWORD": "{{ conn.snova_scf_visit.password }}"') for p in SECRET_PATTERNS
    )


# -- a warehouse, a bucket and the connections, shared by this module's DAG runs ------------------
@pytest.fixture(scope="module")
def seed(airflow_db, target, snova_server, snova_is_greenplum, new_database):
    """A fresh database as ``snova_default``, a fresh least-privilege role as
    ``snova_scf_visit``, and a fresh folder (``root``) of the target's scratch bucket: the
    bucket is ``SNOVA_IMPORT_BUCKET``, the seed's ``snova/`` is ``root + "snova/"``
    (``SNOVA_IMPORT_PREFIX``)."""
    database, dsn = new_database("seed")
    role = target.tracker.role(target.names.ident("scf_visit"))
    password = target.secret("pw-" + secrets.token_urlsafe(12) + "'\"; --")  # quoting exercised
    root = target.root("seed")
    parts = urlsplit(dsn)
    visit_uri = (
        f"snova://{role}:{quote(password, safe='')}@{parts.hostname}:{parts.port}/{database}"
    )
    names = ("AIRFLOW_CONN_SNOVA_DEFAULT", "SNOVA_IMPORT_BUCKET", "SNOVA_IMPORT_PREFIX")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(
        {
            "AIRFLOW_CONN_SNOVA_DEFAULT": dsn.replace("postgresql://", "snova://", 1),
            "AIRFLOW_CONN_SNOVA_SCF_VISIT": visit_uri,
            "SNOVA_IMPORT_BUCKET": target.bucket,
            "SNOVA_IMPORT_PREFIX": root + "snova/",
        }
    )
    yield SimpleNamespace(
        dsn=dsn,
        role=role,
        password=password,
        bucket=target.bucket,
        root=root,
        target=target,
        greenplum=snova_is_greenplum,
        role_dsn=redacted_dsn(
            urlunsplit(
                parts._replace(
                    netloc=f"{role}:{quote(password, safe='')}@{parts.netloc.split('@')[1]}"
                )
            )
        ),
    )
    os.environ.pop("AIRFLOW_CONN_SNOVA_SCF_VISIT", None)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    new_database.drop(database)
    as_admin(snova_server, lambda conn: drop_role(conn, role))


def t1_state(seed) -> tuple[int, int]:
    [(count, total)] = query(seed.dsn, "SELECT count(*), coalesce(sum(a1), 0) FROM t1")
    return count, total


def conf(seed, **more) -> dict:
    """The run conf pointing a seed DAG at the module's folder of the bucket."""
    return {"bucket": seed.bucket, "prefix": seed.root + "snova/", **more}


@pytest.fixture(scope="module")
def imported(seed):
    """cos_to_snova_import run once on three .log files and two decoys."""
    put, root = seed.target.put_object, seed.root
    for index in range(3):
        put(seed.bucket, f"{root}snova/2024-01-0{index + 1}.log", log_lines(index * 100 + 1, 100))
    put(seed.bucket, f"{root}snova/readme.txt", b"not a .log file\n")
    put(seed.bucket, f"{root}archive/old.log", b"999999\n")  # outside snova/
    dag = load_dag("cos_to_snova_import")
    run = dag.test(run_conf=conf(seed))
    return SimpleNamespace(run=run, values=xcoms(run.run_id, dag.dag_id), dag=dag)


def expected_role_setup(seed) -> dict:
    """What create_scf_visit returns: on Snova (Greenplum) the role also loads through cos_ext
    external tables, which needs CREATE on the schema and the cos protocol."""
    return {
        "role": seed.role,
        "role_created": True,
        "ledger": "public.airflow_scf_snova_load_ledger",
        "tables": {
            "public.t1": ["SELECT", "INSERT"],
            "public.airflow_scf_snova_load_ledger": ["SELECT", "INSERT"],
        },
        "schemas": {"public": ["USAGE", "CREATE"] if seed.greenplum else ["USAGE"]},
        "temporary": False,
        "cos_protocol": seed.greenplum,
    }


def test_cos_to_snova_import_loads_the_seed_filter_once(seed, imported, capfd):
    assert imported.run.state == "success"
    loaded = imported.values[("load_into_t1", "return_value")]
    assert [(r["key"], r["status"], r["rows"]) for r in loaded] == [
        (f"{seed.root}snova/2024-01-0{i}.log", "loaded", 100) for i in (1, 2, 3)
    ]
    assert t1_state(seed) == (300, 300 * 301 // 2)
    assert imported.values[("create_scf_visit", "return_value")] == expected_role_setup(seed)

    # A manual re-run over the same files (wait_for="any": the sensor passes on any .log file):
    # the ledger skips them, nothing is loaded twice.
    again = imported.dag.test(run_conf=conf(seed, wait_for="any"))
    out, err = capfd.readouterr()
    assert again.state == "success", out[-4000:]
    values = xcoms(again.run_id, imported.dag.dag_id)
    assert [r["status"] for r in values[("load_into_t1", "return_value")]] == ["skipped"] * 3
    assert values[("create_scf_visit", "return_value")]["role_created"] is False
    assert t1_state(seed) == (300, 300 * 301 // 2)
    assert seed.password not in out + err


def test_the_scheduled_run_waits_for_files_t1_has_not_loaded(seed, imported, capfd):
    """By default the sensor passes on the files t1's ledger does not record only: a new file,
    and one overwritten since it was loaded (new ETag), not the two loaded ones."""
    put, root = seed.target.put_object, seed.root
    before = t1_state(seed)
    put(seed.bucket, f"{root}snova/2024-01-04.log", log_lines(10001, 100))
    put(seed.bucket, f"{root}snova/2024-01-01.log", log_lines(20001, 50))  # overwritten
    dag = load_dag("cos_to_snova_import")  # a fresh parse: dag.test() keeps a run's conf
    run = dag.test(run_conf=conf(seed))  # the default, wait_for="new"
    out, _ = capfd.readouterr()
    assert run.state == "success", out[-4000:]
    values = xcoms(run.run_id, dag.dag_id)
    assert [o["key"] for o in values[("wait_for_logs", "return_value")]] == [
        f"{root}snova/2024-01-01.log",
        f"{root}snova/2024-01-04.log",
    ]
    assert [
        (r["key"][len(root) :], r["status"]) for r in values[("load_into_t1", "return_value")]
    ] == [
        ("snova/2024-01-01.log", "loaded"),
        ("snova/2024-01-02.log", "skipped"),
        ("snova/2024-01-03.log", "skipped"),
        ("snova/2024-01-04.log", "loaded"),
    ]
    assert t1_state(seed) == (
        before[0] + 150,
        before[1] + sum(range(10001, 10101)) + sum(range(20001, 20051)),
    )


def rendered(run, dag_id: str) -> dict[str, dict]:
    """The rendered template fields of a run's tasks, by task id."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(RenderedTaskInstanceFields).where(
                RenderedTaskInstanceFields.dag_id == dag_id,
                RenderedTaskInstanceFields.run_id == run.run_id,
            )
        ).all()
        return {r.task_id: r.rendered_fields for r in rows}


def test_the_table_param_creates_waits_for_loads_and_checks_that_table(seed, imported, capfd):
    """``table=t2``: the run creates t2, waits on t2's ledger, loads into t2 and checks t2;
    t1 gets nothing (its own folder keeps the other tests' files out)."""
    put, root = seed.target.put_object, seed.root
    folder = f"{root}tables/"
    put(seed.bucket, f"{folder}a.log", log_lines(1, 10))
    put(seed.bucket, f"{folder}b.log", log_lines(11, 20))
    before = t1_state(seed)
    dag = load_dag("cos_to_snova_import")
    run = dag.test(run_conf=conf(seed, prefix=folder, table="t2"))
    out, _ = capfd.readouterr()
    assert run.state == "success", out[-4000:]
    assert query(seed.dsn, "SELECT count(*), sum(a1) FROM t2") == [(30, sum(range(1, 31)))]
    assert t1_state(seed) == before
    assert query(
        seed.dsn,
        "SELECT target_table, count(*) FROM airflow_scf_snova_load_ledger WHERE key LIKE %s"
        " GROUP BY target_table",
        (folder + "%",),
    ) == [("public.t2", 2)]
    fields = rendered(run, dag.dag_id)
    assert fields["create_t1"]["sql"] == "CREATE TABLE IF NOT EXISTS t2 (a1 int)"
    assert fields["load_into_t1"]["table"] == "t2"
    assert fields["check_a1"]["table"] == "t2"
    assert fields["check_t1"]["table"] == "t2"
    assert "FROM t2" in fields["check_t1"]["sql"]
    assert "'public.t2'" in fields["check_t1"]["sql"]
    # The dedicated user's grants stay on the SCF functions' table.
    assert fields["create_scf_visit"]["load_tables"] == ["t1"]

    # A new file: the sensor waits on t2's ledger, so it passes on that file alone.
    put(seed.bucket, f"{folder}c.log", log_lines(31, 5))
    run = load_dag("cos_to_snova_import").test(run_conf=conf(seed, prefix=folder, table="t2"))
    assert run.state == "success"
    values = xcoms(run.run_id, dag.dag_id)
    assert [o["key"] for o in values[("wait_for_logs", "return_value")]] == [f"{folder}c.log"]
    assert [r["status"] for r in values[("load_into_t1", "return_value")]] == [
        "skipped",
        "skipped",
        "loaded",
    ]
    assert query(seed.dsn, "SELECT count(*) FROM t2") == [(35,)]
    assert t1_state(seed) == before


def test_the_table_param_accepts_only_the_four_tables(airflow_db):
    """The name is spliced into SQL text, so the Param's enum is what keeps it a table name: a
    run with any other is refused before it is created."""
    from airflow.sdk.exceptions import ParamValidationError

    dag = load_dag("cos_to_snova_import")
    assert dag.params["table"] == "t1"
    assert dag.params.get_param("table").schema["enum"] == ["t1", "t2", "t3", "t4"]
    with pytest.raises(ParamValidationError, match="table"):
        dag.test(run_conf={"table": "t1; DROP TABLE t1"})


def test_max_active_runs_follows_the_environment(monkeypatch):
    monkeypatch.delenv("SNOVA_IMPORT_MAX_ACTIVE_RUNS", raising=False)
    assert load_dag("cos_to_snova_import").max_active_runs == 1  # the seed's: one at a time
    monkeypatch.setenv("SNOVA_IMPORT_MAX_ACTIVE_RUNS", "20")
    assert load_dag("cos_to_snova_import").max_active_runs == 20
    for bad in ("0", "-3", "twenty", "2.5", ""):
        monkeypatch.setenv("SNOVA_IMPORT_MAX_ACTIVE_RUNS", bad)
        with pytest.raises(ValueError, match=r"SNOVA_IMPORT_MAX_ACTIVE_RUNS must be a whole"):
            load_dag("cos_to_snova_import")


def test_the_scf_user_has_least_privileges(seed, imported):
    # It can log in with the connection's password (quotes and all) and read and append ...
    assert query(seed.role_dsn, "SELECT count(*) FROM t1") == [(t1_state(seed)[0],)]
    assert query(seed.role_dsn, "INSERT INTO t1 VALUES (NULL) RETURNING a1") == [(None,)]
    query(seed.dsn, "DELETE FROM t1 WHERE a1 IS NULL")
    # ... but nothing more than the imports and queries need (on Snova its loads create cos_ext
    # external tables, so it may create tables in the schema).
    denied = ["DELETE FROM t1", "DROP TABLE t1"]
    if not seed.greenplum:
        denied.append("CREATE TABLE scf_visit_probe (a int)")
    for statement in denied:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(seed.role_dsn, statement)


def test_the_scf_users_password_never_travels_in_clear(seed, imported):
    """The server stores (and was sent) a verifier, not the password: SCRAM-SHA-256, or MD5 where
    the server asks for it (Greenplum 6)."""
    [(superuser,)] = query(seed.dsn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not superuser:
        pytest.skip("reading pg_authid needs a superuser, and SNOVA_TEST_DSN's user is not one")
    [(encryption,)] = query(seed.dsn, "SHOW password_encryption")
    [(verifier,)] = query(
        seed.dsn, "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (seed.role,)
    )
    assert verifier.startswith("SCRAM-SHA-256$" if encryption == "scram-sha-256" else "md5")
    assert seed.password not in verifier


def test_snova_timer_query_returns_the_rows_via_scf_and_directly(
    seed, imported, unique_name, capfd
):
    dag = load_dag("snova_timer_query")
    function = unique_name("query")
    run = dag.test(run_conf={"function_name": function})
    out, err = capfd.readouterr()
    assert run.state == "success", out[-4000:]
    values = xcoms(run.run_id, dag.dag_id)
    count, total = t1_state(seed)
    result = values[("invoke_query_function", "return_value")]
    assert result == {
        "columns": ["row_count", "a1_sum"],
        "rows": [[count, total]],
        "row_count": 1,
        "truncated": False,
    }
    assert values[("compare_paths", "return_value")]["same"] is True
    seed.target.wait_for_invocations(1, function)
    [invocation] = seed.target.invocations(function)
    assert invocation["status"] == "success"
    assert f"row_count = {count}, a1_sum = {total}" in invocation["log"]
    assert seed.password not in out + err + invocation["log"]

    # The seed's own query, capped: rows are logged and returned up to max_rows.
    run = dag.test(
        run_conf={
            "function_name": function,
            "query": "SELECT a1 FROM t1 ORDER BY a1",
            "max_rows": 3,
        }
    )
    assert run.state == "success"
    result = xcoms(run.run_id, dag.dag_id)[("invoke_query_function", "return_value")]
    assert result == {"columns": ["a1"], "rows": [[1], [2], [3]], "row_count": 3, "truncated": True}


def test_cos_event_import_loads_exactly_the_objects_of_its_events(seed, imported, capfd):
    events_helper = load_module(ROOT / "scripts" / "demo_events.py", "demo_events_under_test")
    dag = load_dag("cos_event_import")
    asset = events_helper.watched_asset(dag)
    root = seed.root
    assert asset.uri == f"cos://{seed.bucket}/{root}snova"
    put = seed.target.put_object
    before = t1_state(seed)
    with events_helper.WatcherHarness(asset.watchers[0].trigger) as watcher:
        put(seed.bucket, f"{root}snova/events/a.log", log_lines(1001, 10))
        put(seed.bucket, f"{root}snova/events/notes.txt", b"not a .log\n")
        put(seed.bucket, f"{root}other/events/b.log", log_lines(2001, 10))
        put(seed.bucket, f"{root}snova/events/b.log", log_lines(3001, 20))
        payloads = watcher.wait_for(2, timeout=seed.target.seconds(30))
    assert sorted(p["key"] for p in payloads) == [
        f"{root}snova/events/a.log",
        f"{root}snova/events/b.log",
    ]

    run = events_helper.test_with_asset_events(dag, asset, payloads)
    out, _ = capfd.readouterr()
    assert run.state == "success", out[-4000:]
    assert run.run_type == "asset_triggered"
    for payload in payloads:  # the task saw them in triggering_asset_events
        assert f"new object {payload['url']} etag={payload['etag']}" in out
    loaded = xcoms(run.run_id, dag.dag_id)[("load_new_objects", "return_value")]
    assert sorted((r["key"], r["status"], r["rows"]) for r in loaded) == [
        (f"{root}snova/events/a.log", "loaded", 10),
        (f"{root}snova/events/b.log", "loaded", 20),
    ]
    assert t1_state(seed) == (
        before[0] + 30,
        before[1] + sum(range(1001, 1011)) + sum(range(3001, 3021)),
    )

    # The same events delivered again (at-least-once): nothing is loaded twice.
    run = events_helper.test_with_asset_events(dag, asset, payloads)
    loaded = xcoms(run.run_id, dag.dag_id)[("load_new_objects", "return_value")]
    assert [r["status"] for r in loaded] == ["skipped", "skipped"]
    assert t1_state(seed)[0] == before[0] + 30


def test_scf_native_triggers_bind_triggers_that_load_exactly_once(
    seed, imported, unique_name, capfd
):
    from airflow_scf_snova.scf.dependencies import (
        build_dependencies,
        default_cache_dir,
        read_requirements,
    )
    from airflow_scf_snova.scf.packaging import package_directory

    target, root = seed.target, seed.root
    put = target.put_object
    function = unique_name("import")
    put(seed.bucket, f"{root}snova/backlog/early.log", log_lines(5001, 50))  # before any trigger
    dag = load_dag("scf_native_triggers")
    run = dag.test(run_conf=conf(seed, function_name=function))
    out, err = capfd.readouterr()
    assert run.state == "success", out[-4000:]
    values = xcoms(run.run_id, dag.dag_id)
    # The deployed package is functions/cos_import with the provider's core copied in and its
    # requirements built for SCF's Python 3.9; too large to send inline, it went through COS.
    deployed = values[("deploy_import_function", "return_value")]
    code_dir = FUNCTIONS / "cos_import"
    site = build_dependencies(read_requirements(code_dir / "requirements.txt"), "Python3.9")
    expected = package_directory(code_dir, ["scf_snova_core"], site, default_cache_dir())
    assert deployed["code_sha256"] == expected.sha256
    staged = target.head_object(seed.bucket, f"scf-code/{function}/{expected.sha256}.zip")
    assert staged.size == expected.size > 7_400_000
    assert values[("create_sweep_timer", "return_value")]["triggers"] == ["0 0 10 * * * *"]
    [cos_desc] = values[("create_cos_trigger", "return_value")]["triggers"]
    assert json.loads(cos_desc) == {
        "event": "cos:ObjectCreated:*",
        "filter": {"Prefix": f"{root}snova/", "Suffix": ".log"},
    }
    assert seed.password not in out + err
    before = t1_state(seed)

    # A COS upload matching the filter fires the function, which loads that object only.
    put(seed.bucket, f"{root}snova/live/new.log", log_lines(6001, 40))
    put(seed.bucket, f"{root}snova/live/ignored.csv", b"1\n")  # wrong suffix: no invocation
    [fired] = target.wait_for_invocations(1, function, timeout=60)
    assert fired["status"] == "success", fired["log"][-3000:]
    result = json.loads(fired["ret_msg"])
    assert (result["trigger"], result["loaded"], result["skipped"], result["rows"]) == (
        "cos",
        1,
        0,
        40,
    )
    assert [o["key"] for o in result["objects"]] == [f"{root}snova/live/new.log"]
    assert t1_state(seed)[0] == before[0] + 40
    assert seed.password not in fired["log"]

    # The timer sweeps the prefix: it loads only what no event delivered (the backlog).
    request_id = target.fire_timer(function, "nightly-sweep")
    swept = target.wait_for_invocations(2, function, timeout=60)[-1]
    assert swept["request_id"] == request_id
    assert swept["status"] == "success", swept["log"][-3000:]
    result = json.loads(swept["ret_msg"])
    assert result["trigger"] == "timer"
    assert [o["key"] for o in result["objects"] if o["status"] == "loaded"] == [
        f"{root}snova/backlog/early.log"
    ]
    assert result["loaded"] == 1 and result["skipped"] >= 6
    assert t1_state(seed)[0] == before[0] + 90

    # Re-uploading the same bytes fires again; the ledger makes it a no-op.
    put(seed.bucket, f"{root}snova/live/new.log", log_lines(6001, 40))
    again = target.wait_for_invocations(3, function, timeout=60)[-1]
    assert json.loads(again["ret_msg"])["skipped"] == 1
    assert t1_state(seed)[0] == before[0] + 90
    assert len(target.invocations(function)) == 3

    # Deploying again changes nothing.
    run = dag.test(run_conf=conf(seed, function_name=function))
    values = xcoms(run.run_id, dag.dag_id)
    assert values[("deploy_import_function", "return_value")]["code_updated"] is False
    assert values[("create_cos_trigger", "return_value")]["changed"] is False


# -- the import function on the core's rules --------------------------------------------------
@pytest.fixture(scope="module")
def cos_import():
    """functions/cos_import imported as SCF would (its directory first on ``sys.path``)."""
    path = str(FUNCTIONS / "cos_import")
    sys.path.insert(0, path)
    try:
        yield SimpleNamespace(
            index=load_module(FUNCTIONS / "cos_import" / "index.py", "cos_import_index"),
            loader=sys.modules["snova_loader"],
            source=sys.modules["cos_source"],
        )
    finally:
        sys.path.remove(path)
        for name in ("snova_loader", "cos_source"):
            sys.modules.pop(name, None)


#: Text a hand copy of the ledger protocol or of the cos_ext DDL would hold.
LEDGER_SQL = (
    "pg_advisory_xact_lock",
    "airflow_scf_snova.cos_to_snova:",
    "PRIMARY KEY (target_table",
    "INSERT INTO {} (target_table",
    "WHERE target_table = %s",
    "CREATE READABLE EXTERNAL TABLE",
    "secretKey=",
    "FROM STDIN WITH",
    "hashlib",
)


def test_the_function_uses_the_cores_ledger_and_lock_and_holds_no_copy(cos_import):
    from scf_snova_core import cos_ext, formats, ledger, loads

    assert cos_import.loader.LoadLedger is ledger.LoadLedger
    assert cos_import.loader.DEFAULT_LEDGER_TABLE is ledger.DEFAULT_LEDGER_TABLE
    assert cos_import.loader.ExternalTableDDL is cos_ext.ExternalTableDDL
    assert cos_import.loader.LoadFormat is formats.LoadFormat
    assert cos_import.loader.METHODS is loads.METHODS
    for path in sorted(FUNCTIONS.rglob("*.py")):
        text = path.read_text()
        for fragment in LEDGER_SQL:
            assert fragment not in text, f"{path.relative_to(ROOT)} holds {fragment!r}"


def test_the_functions_greenplum_ddl_is_the_cores(cos_import, seed, imported, function_env):
    """The Greenplum branch cannot run offline: the function's statement is the core's builder's,
    with the function's key pair, and follows Tencent's documented cos_ext syntax."""
    import psycopg2
    from scf_snova_core.cos_ext import CosExtLocation, ExternalTableDDL
    from scf_snova_core.formats import LoadFormat
    from scf_snova_core.objects import COSObject
    from scf_snova_devel.ddl_syntax import check_cos_ext_ddl

    cfg = seed.target
    source = cos_import.source.CosSource(cos_import.source.CosSettings.from_environ(os.environ))
    obj = COSObject(seed.bucket, "snova/x.log", 3, "e", __import__("datetime").datetime.now())
    conn = psycopg2.connect(seed.role_dsn)
    try:
        for header, delimiter in ((False, ","), (True, "|")):
            loader = cos_import.loader.SnovaObjectLoader(
                conn, source, "t1", header=header, delimiter=delimiter
            )
            mine = loader.external_table_ddl(obj, "public.ext_1").render(conn)
            location = CosExtLocation(
                seed.bucket, "snova/x.log", cfg.region, cfg.secret_id, cfg.secret_key
            )
            core = ExternalTableDDL(
                "public.ext_1",
                [("a1", "integer")],
                location,
                LoadFormat(header=header, delimiter=delimiter),
            ).render(conn)
            assert mine == core
            parsed = check_cos_ext_ddl(mine)
            assert parsed.params == {"secretId": cfg.secret_id, "secretKey": cfg.secret_key}
            assert (
                parsed.options == {"HEADER": None, "DELIMITER": "|"}
                if header
                else {"DELIMITER": ","}
            )
    finally:
        conn.close()


@pytest.fixture
def function_env(cos_import, seed, monkeypatch):
    """The function's environment as the scf_native_triggers deploy renders it."""
    cfg = seed.target
    parts = urlsplit(seed.dsn)
    env = {
        "DB_HOST": parts.hostname,
        "DB_PORT": str(parts.port),
        "DB_NAME": parts.path.lstrip("/"),
        "DB_USER": seed.role,
        "DB_PASSWORD": seed.password,
        "TARGET_TABLE": "t1",
        "KEY_PREFIX": seed.root + "snova/",
        "KEY_SUFFIX": ".log",
        "COS_REGION": cfg.region,
        "COS_SECRET_ID": cfg.secret_id,
        "COS_SECRET_KEY": cfg.secret_key,
        "COS_ENDPOINT": seed.target.endpoint,
        "TENCENTCLOUD_APPID": cfg.appid,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def cos_event(seed, key: str, event_name: str = "cos:ObjectCreated:Put") -> dict:
    from scf_snova_core.events import cos_event as build

    head = seed.target.head_object(seed.bucket, key) if "Created" in event_name else None
    size, etag = (head.size, head.etag) if head else (0, "")
    return build(seed.bucket, key, size, etag, seed.target.region, event_name=event_name)


def test_the_function_loads_only_the_objects_its_event_names(
    cos_import, seed, imported, function_env, capfd
):
    put, root = seed.target.put_object, seed.root
    put(seed.bucket, f"{root}snova/direct/one.log", log_lines(7001, 5))
    put(
        seed.bucket, f"{root}snova/direct/two.log", log_lines(7101, 5)
    )  # in the prefix, not the event
    before = t1_state(seed)
    event = cos_event(seed, f"{root}snova/direct/one.log")
    event["Records"].append(
        cos_event(seed, f"{root}snova/direct/gone.log", "cos:ObjectRemove:Delete")["Records"][0]
    )
    context = {"request_id": "req-1", "function_name": "snova-cos-import"}

    result = cos_import.index.main_handler(event, context)
    assert (result["loaded"], result["skipped"], result["rows"]) == (1, 0, 5)
    assert result["ignored"] == [
        {"key": f"{root}snova/direct/gone.log", "reason": "event cos:ObjectRemove:Delete"}
    ]
    assert t1_state(seed)[0] == before[0] + 5
    [(dag_id, run_id)] = query(
        seed.dsn,
        "SELECT dag_id, run_id FROM airflow_scf_snova_load_ledger WHERE key = %s",
        (f"{root}snova/direct/one.log",),
    )
    assert (dag_id, run_id) == ("scf:snova-cos-import", "req-1")

    # The duplicate delivery skips; the Airflow operator skips what the function loaded.
    assert cos_import.index.main_handler(event, context)["skipped"] == 1
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    op = COSToSnovaOperator(
        task_id="probe", table="t1", bucket=seed.bucket, keys=[f"{root}snova/direct/one.log"]
    )
    assert [r["status"] for r in op.execute({})] == ["skipped"]
    assert t1_state(seed)[0] == before[0] + 5
    out, err = capfd.readouterr()
    assert seed.password not in out + err + json.dumps(result)
    assert seed.target.secret_key not in out + err + json.dumps(result)


@pytest.mark.emulator_only(
    "plain PostgreSQL rejects the cos_ext DDL; on Snova the branch loads "
    "(test_the_function_loads_only_the_objects_its_event_names, test_snova_external_table.py)"
)
def test_the_functions_external_table_branch_refuses_prefix_collisions_and_hides_secrets(
    cos_import, seed, imported, function_env
):
    """Plain PostgreSQL has no cos_ext: the Greenplum branch is driven up to the server, which
    rejects the DDL; the error must not quote the SecretKey and nothing may be committed."""
    import psycopg2

    put, root = seed.target.put_object, seed.root
    put(seed.bucket, f"{root}snova/gp/a.log", log_lines(1, 3))
    put(seed.bucket, f"{root}snova/gp/a.log.bak", log_lines(1, 3))
    put(seed.bucket, f"{root}snova/gp/b.log", log_lines(1, 3))
    source = cos_import.source.CosSource(cos_import.source.CosSettings.from_environ(os.environ))
    conn = psycopg2.connect(seed.role_dsn)
    try:
        loader = cos_import.loader.SnovaObjectLoader(conn, source, "t1")
        assert (loader.greenplum, loader.method) == (False, "copy")
        loader.method = "external_table"  # as on Snova
        with pytest.raises(
            cos_import.loader.LoadError, match=re.escape(f"also holds ['{root}snova/gp/a.log.bak']")
        ):
            loader.load(seed.bucket, f"{root}snova/gp/a.log")
        before = t1_state(seed)
        with pytest.raises(cos_import.loader.LoadError) as failure:
            loader.load(seed.bucket, f"{root}snova/gp/b.log")
        message = str(failure.value)
        assert "creating external table" in message
        assert seed.target.secret_key not in message and failure.value.__cause__ is None
        assert t1_state(seed) == before
    finally:
        conn.close()
