"""Bad input: malformed CSV, empty and vanishing objects, invalid names, cron edge cases, oversized
payloads, SQL identifier injection and wrong credentials. Each must end in a clear error naming
the input, with nothing partially written (or, for valid-but-odd input, a correct load)."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from reliability.observations import record
from reliability.support import StreamGate

from airflow_scf_snova.exceptions import (
    InvalidInputError,
    ResourceNotFoundError,
    SnovaLoadError,
    TencentCloudApiError,
    TencentCloudAuthError,
)

TABLE = "CREATE TABLE t (a int, b text)"


def _nothing_of(db, key: str) -> bool:
    return key not in db.ledger_keys()


# -- malformed CSV -------------------------------------------------------------------------------
def test_unterminated_quote_fails_naming_the_object(db, bucket, put, run_load):
    db.execute(TABLE)
    put("in/1-good.csv", "1,fine\n")
    put("in/2-bad.csv", '10,ok\n11,also ok\n12,"never closed\n13,x\n')
    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t", bucket=bucket, prefix="in/")
    err = caught.value
    assert err.key == "in/2-bad.csv" and "in/2-bad.csv" in str(err)
    assert "unterminated CSV quoted field" in err.reason
    assert db.rows("SELECT a FROM t ORDER BY a") == [(1,)]  # the earlier object stays
    assert _nothing_of(db, "in/2-bad.csv")
    record(
        "input.csv-bad-quoting",
        f"`SnovaLoadError`: {err}; the table holds only the earlier object's row, no ledger row "
        "for the bad one",
    )


def test_wrong_column_counts_fail_naming_object_and_line(db, bucket, put, run_load):
    db.execute(TABLE)
    put("w/extra.csv", "1,a\n2,b\n3,c,surplus\n")
    put("w/short.csv", "1,a\n2\n")
    messages = []
    for key, line, reason in (
        ("w/extra.csv", 3, "extra data after last expected column"),
        ("w/short.csv", 2, "missing data for column"),
    ):
        with pytest.raises(SnovaLoadError) as caught:
            run_load(table="t", bucket=bucket, keys=[key])
        err = caught.value
        assert (err.key, err.line) == (key, line)
        assert reason in err.reason
        messages.append(str(err))
    assert db.scalar("SELECT count(*) FROM t") == 0
    assert db.ledger_keys() == []
    record(
        "input.csv-wrong-columns",
        "; ".join(f"`{m.splitlines()[0]}`" for m in messages) + "; 0 rows, no ledger rows",
    )


def test_invalid_utf8_fails_naming_object_and_line(db, bucket, put, run_load):
    db.execute(TABLE)
    put("u/latin.csv", b"1,ok\n2,caf\xff\xfe\n3,ok\n")
    with pytest.raises(SnovaLoadError) as caught:
        run_load(table="t", bucket=bucket, keys=["u/latin.csv"], encoding="UTF8")
    err = caught.value
    assert (err.key, err.line) == ("u/latin.csv", 2)
    assert 'invalid byte sequence for encoding "UTF8"' in err.reason
    assert db.scalar("SELECT count(*) FROM t") == 0 and db.ledger_keys() == []
    record("input.csv-invalid-utf8", f"`{err}`; 0 rows, no ledger row")


def test_a_ten_megabyte_field_loads_intact(db, bucket, put, run_load):
    db.execute(TABLE)
    unit = 'chunk, with "quotes", commas\nand newlines;'
    field = (unit * (10 * 1024 * 1024 // len(unit) + 1))[: 10 * 1024 * 1024]
    escaped = field.replace('"', '""')
    put("big/field.csv", f'1,"{escaped}"\n2,small\n')
    result = run_load(table="t", bucket=bucket, keys=["big/field.csv"])
    assert [(r["status"], r["rows"]) for r in result] == [("loaded", 2)]
    stored = db.rows("SELECT length(b), md5(b) FROM t WHERE a = 1")
    assert stored == [(len(field), hashlib.md5(field.encode()).hexdigest())]
    again = run_load(table="t", bucket=bucket, keys=["big/field.csv"])
    assert again[0]["status"] == "skipped" and db.scalar("SELECT count(*) FROM t") == 2
    record(
        "input.csv-10mb-field",
        f"loaded: {len(field):,} characters stored, md5 identical; 2 rows; a rerun skipped it "
        f"({result[0]['seconds']:.2f} s)",
        {"10 MiB field load, seconds": result[0]["seconds"]},
    )


def test_an_empty_object_loads_zero_rows_once(db, bucket, put, run_load):
    db.execute(TABLE)
    put("e/empty.csv", b"")
    put("e/header-only.csv", b"")
    plain = run_load(table="t", bucket=bucket, keys=["e/empty.csv"])
    with_header = run_load(table="t", bucket=bucket, keys=["e/header-only.csv"], header=True)
    assert [(r["status"], r["rows"]) for r in plain + with_header] == [
        ("loaded", 0),
        ("loaded", 0),
    ]
    rerun = run_load(table="t", bucket=bucket, keys=["e/empty.csv"])
    assert rerun[0]["status"] == "skipped"
    assert db.ledger_keys() == ["e/empty.csv", "e/header-only.csv"]
    assert db.scalar("SELECT count(*) FROM t") == 0
    record(
        "input.empty-object",
        "0 rows loaded (with and without `header=True`), one ledger row each, a rerun reports "
        "`skipped`",
    )


# -- vanishing objects ---------------------------------------------------------------------------
def test_object_deleted_between_listing_and_load(db, emulator, bucket, put, run_load):
    from airflow_scf_snova.operators.cos import COSListObjectsOperator

    db.execute(TABLE)
    for n in (1, 2, 3):
        put(f"l/{n}.csv", f"{n},x\n")
    listed = COSListObjectsOperator(
        task_id="list", bucket=bucket, prefix="l/", do_xcom_push=False
    ).execute({})
    assert listed == ["l/1.csv", "l/2.csv", "l/3.csv"]
    emulator.cos.delete_object(bucket, "l/2.csv")
    with pytest.raises(ResourceNotFoundError) as caught:
        run_load(table="t", bucket=bucket, keys=listed)
    assert "l/2.csv" in str(caught.value) and caught.value.request_id
    assert db.scalar("SELECT count(*) FROM t") == 0 and db.ledger_keys() == []
    record(
        "input.deleted-before-load",
        f"`{type(caught.value).__name__}: {caught.value}` while resolving the keys; 0 rows loaded",
    )


def test_object_deleted_after_the_loaders_listing(db, emulator, bucket, put, run_load, monkeypatch):
    db.execute(TABLE)
    for n in (1, 2, 3):
        put(f"m/{n}.csv", f"{n},x\n")
    gate = StreamGate("m/1.csv", after=0).install(monkeypatch)
    outcome: dict = {}

    def first_try():
        try:
            # One object per transaction, each streamed when its turn comes: a batch would read
            # all three ahead, m/2 included, before the gate opens.
            run_load(table="t", bucket=bucket, prefix="m/", batch_size=1)
        except Exception as err:
            outcome["error"] = err

    worker = threading.Thread(target=first_try)
    worker.start()
    try:
        assert gate.reached.wait(60), "the load never started streaming m/1.csv"
        emulator.cos.delete_object(bucket, "m/2.csv")  # listed already, not yet downloaded
    finally:
        gate.release()
        worker.join(60)
    err = outcome.get("error")
    assert isinstance(err, SnovaLoadError) and err.key == "m/2.csv", err
    assert "NoSuchKey" in str(err)
    assert db.ledger_keys() == ["m/1.csv"]
    retry = run_load(table="t", bucket=bucket, prefix="m/")
    assert [(r["key"], r["status"]) for r in retry] == [
        ("m/1.csv", "skipped"),
        ("m/3.csv", "loaded"),
    ]
    assert db.rows("SELECT a, count(*) FROM t GROUP BY a ORDER BY a") == [(1, 1), (3, 1)]
    record(
        "input.deleted-mid-run",
        f"`{str(err).splitlines()[0]}`; m/1 committed; the retry skipped m/1, loaded m/3; "
        "each row once",
    )


# -- names ---------------------------------------------------------------------------------------
@pytest.fixture
def unreachable_cos(monkeypatch):
    """A COSHook whose endpoint refuses connections: anything refused *before* a request
    is sent raises at once; a request would fail with a network error instead."""
    import socket

    from airflow_scf_snova.hooks.cos import COSHook

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = {
        "conn_type": "tencentcloud",
        "login": "AKIDclosedport000000000000000000000",
        "password": "closed-port-key",
        "extra": {
            "region": "ap-guangzhou",
            "appid": "1250000000",
            "endpoint": f"http://127.0.0.1:{port}",
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_CLOSED_PORT", json.dumps(conn))
    return COSHook(tencentcloud_conn_id="closed_port", retries=0)


def test_invalid_bucket_names(emulator, unreachable_cos, run_load, snova_db):
    refused = []
    for name in ("Bad_Bucket", "-x", "a" * 60, "trailing-", "under_score-1250000000"):
        with pytest.raises(InvalidInputError) as caught:
            unreachable_cos.put_object(name, "k.csv", "x")
        assert repr(name) in str(caught.value)
        refused.append(name)
    from airflow_scf_snova.hooks.cos import COSHook

    hook = COSHook()
    with pytest.raises(ResourceNotFoundError) as missing:
        hook.put_object("does-not-exist-1250000000", "k.csv", "x")
    assert missing.value.code == "NoSuchBucket" and "does-not-exist-1250000000" in str(
        missing.value
    )
    with pytest.raises(TencentCloudApiError) as other:
        hook.put_object("theirs-1300000000", "k.csv", "x")
    assert other.value.status == 403 and "theirs-1300000000" in str(other.value)
    with pytest.raises(InvalidInputError):
        run_load(table="t", bucket="Bad_Bucket", keys=["k.csv"])
    record(
        "input.invalid-bucket-names",
        f"{len(refused)} malformed names refused before any request (`InvalidInputError` "
        f"quoting the name); missing bucket: `{missing.value.code}`; another APPID: "
        f"{other.value.status} `{other.value.code}`; both name the bucket and carry a request id",
    )


def test_invalid_keys_are_refused_before_any_request(unreachable_cos, emulator, bucket, run_load):
    """The COS SDK strips one leading ``/`` (``/a.csv`` is stored as ``a.csv``) and turns ``/``
    into a bucket request, so such keys must be refused, not silently rewritten."""
    from airflow_scf_snova.hooks.cos import COSHook

    calls = {
        "head_object": lambda h, k: h.head_object(bucket, k),
        "object_exists": lambda h, k: h.object_exists(bucket, k),
        "put_object": lambda h, k: h.put_object(bucket, k, "x"),
        "open_object": lambda h, k: h.open_object(bucket, k),
        "copy_object": lambda h, k: h.copy_object(bucket, "src.csv", bucket, k),
    }
    seen = []
    for key in ("", "/", "/a.csv", "//a.csv"):
        for method, call in calls.items():
            with pytest.raises(InvalidInputError) as caught:
                call(unreachable_cos, key)
            assert repr(key) in str(caught.value), (method, str(caught.value))
        seen.append(key)
    # nothing was written under the stripped name either, through the real endpoint
    hook = COSHook()
    with pytest.raises(InvalidInputError):
        hook.put_object(bucket, "/a.csv", "x")
    assert not hook.object_exists(bucket, "a.csv")
    with pytest.raises(InvalidInputError) as folder:
        run_load(table="t", bucket=bucket, keys=["in/"])
    assert "'in/'" in str(folder.value)
    record(
        "input.invalid-keys",
        f"{len(seen)} keys × {len(calls)} hook methods refused with `InvalidInputError` quoting "
        f"the key, no request sent; a folder key for a load: `{folder.value}`",
    )


def test_invalid_function_names(emulator, unique_name):
    from scf_snova_devel.scf import fast_hook

    from airflow_scf_snova.operators.scf import (
        SCFDeployFunctionOperator,
        SCFInvokeFunctionOperator,
    )

    hook = fast_hook()
    before = {f["FunctionName"] for f in hook.list_functions()}
    errors = []
    for name in ("1bad", "a", "bad-", "x" * 61, "bad name", "../etc"):
        for op in (
            SCFDeployFunctionOperator(
                task_id="deploy",
                function_name=name,
                code_dir="functions/examples/echo",
                handler="index.main_handler",
                runtime="Python3.9",
                do_xcom_push=False,
            ),
            SCFInvokeFunctionOperator(task_id="invoke", function_name=name, do_xcom_push=False),
        ):
            with pytest.raises(TencentCloudApiError) as caught:
                op.execute({})
            err = caught.value
            assert err.code == "InvalidParameter.FunctionName" and repr(name) in err.message
            assert err.request_id
            errors.append(err)
    assert {f["FunctionName"] for f in hook.list_functions()} == before
    record(
        "input.invalid-function-names",
        f"{len(errors)} deploys/invokes failed with `{errors[0].code}` quoting the name and a "
        "request id (e.g. `" + str(errors[0]) + "`); no function created",
    )


def test_invalid_trigger_names(emulator, unique_name):
    from scf_snova_devel.scf import delete_quietly, deploy_echo, fast_hook

    from airflow_scf_snova.operators.scf_triggers import SCFCreateTimerTriggerOperator

    hook = fast_hook()
    function = unique_name("trig")
    deploy_echo(hook, function)
    try:
        errors = []
        for name in ("bad name", "1timer", "t" * 61):
            op = SCFCreateTimerTriggerOperator(
                task_id="timer",
                function_name=function,
                trigger_name=name,
                cron="0 1 * * *",
                do_xcom_push=False,
            )
            with pytest.raises(TencentCloudApiError) as caught:
                op.execute({})
            assert caught.value.code == "InvalidParameterValue.TriggerName"
            assert repr(name) in caught.value.message
            errors.append(caught.value)
        assert hook.list_triggers(function) == []
    finally:
        delete_quietly(hook, function)
    record(
        "input.invalid-trigger-names",
        f"{len(errors)} refused with `{errors[0].code}` quoting the name; no trigger bound",
    )


# -- cron ----------------------------------------------------------------------------------------
VALID_CRONS = {  # written in UTC (no DAG), converted to SCF's UTC+8 with weekdays named
    "@daily": "0 0 8 * * * *",
    "*/15 * * * *": "0 */15 * * * * *",
    "0 0 29 2 *": "0 0 8 29 2 * *",
    "0 0 * * 7": "0 0 8 * * SUN *",
    "0 0 12 ? * 6#3 *": "0 0 20 ? * SAT#3 *",
    "0 0 0 LW * ? *": "0 0 8 LW * ? *",
}
INVALID_CRONS = {
    "* * * *": "expected 5 fields (crontab) or 7 fields (SCF), got 4",
    "0 0 1 1 * *": "has 6 fields",
    "60 * * * *": "minute field '60': 60 is outside 0-59",
    "0 0 * * 8": "week field '8': 8 is outside 0-6",
    "*/0 * * * *": "a step must be at least 1",
    "5-1 * * * *": "range '5-1' runs backwards",
    "@once": "has no cron equivalent",
    "0 0 30 2 *": "never fires",
    "0 0 0 31 4 ? *": "never fires",
}


def test_cron_edge_cases():
    from scf_snova_core.cron import CronError, to_scf_cron

    from airflow_scf_snova.operators.scf_triggers import SCFCreateTimerTriggerOperator

    for given, expected in VALID_CRONS.items():
        assert to_scf_cron(given) == expected
    messages = {}
    for given, why in INVALID_CRONS.items():
        with pytest.raises(CronError) as caught:
            to_scf_cron(given)
        assert why in str(caught.value), str(caught.value)
        with pytest.raises(InvalidInputError) as at_parse:  # the operator, at DAG-parse time
            SCFCreateTimerTriggerOperator(
                task_id="t", function_name="f", trigger_name="n", cron=given
            )
        assert why in str(at_parse.value)
        messages[given] = str(caught.value)
    record(
        "input.cron-edge-cases",
        f"{len(VALID_CRONS)} valid converted (e.g. `0 0 * * 7` (UTC) -> `0 0 8 * * SUN *`); "
        f"{len(INVALID_CRONS)} rejected at DAG parse, e.g. `{messages['0 0 30 2 *']}`, "
        f"`{messages['60 * * * *']}`",
    )


# -- payloads ------------------------------------------------------------------------------------
def test_payloads_over_the_limits(emulator, unique_name):
    from scf_snova_devel.scf import delete_quietly, deploy_echo, fast_hook

    hook = fast_hook()
    function = unique_name("payload")
    deploy_echo(hook, function)
    try:
        six_mb = 6 * 1024 * 1024
        over = {"d": "x" * six_mb}
        refusals = []
        for payload, kind in (
            (over, "RequestResponse"),
            ({"d": "x" * (128 * 1024)}, "Event"),
            ("{not json", "RequestResponse"),
        ):
            with pytest.raises(InvalidInputError) as caught:
                hook.invoke(function, payload, invocation_type=kind)
            refusals.append(str(caught.value))
        assert "6291456 bytes (6 MB)" in refusals[0] and "131072 bytes (128 KB)" in refusals[1]
        assert "not valid JSON" in refusals[2]
        assert emulator.control.invocations(function) == []
        exact = json.dumps("y" * (six_mb - 2))
        assert len(exact.encode()) == six_mb
        result = hook.invoke(function, exact, log_type="None")
        # It ran; the echo of it is a return value above SCF's 6 MB sync response limit: 407.
        error = json.loads(result["ErrMsg"])
        assert (error["statusCode"], result["InvokeResult"]) == (407, -1)
        (run,) = emulator.control.invocations(function)
        assert run["event"] == "y" * (six_mb - 2)  # the whole payload reached the function
    finally:
        delete_quietly(hook, function)
    record(
        "input.payload-over-6mb",
        f"refused before sending: `{refusals[0]}`; `{refusals[1]}`; non-JSON text refused; "
        "0 invocations; a payload of exactly 6 MiB ran once",
    )


# -- SQL identifiers -----------------------------------------------------------------------------
INJECTIONS = {
    "table": ["t1; DROP TABLE victim", 't1" --', "a.b.c", "victim,t1", "t1 WHERE 1=1"],
    "columns": [["a", 'b"; DROP TABLE victim; --'], ["a", "a"], ["a b"]],
    "upsert_keys": [["a) OR (1=1"]],
    "ledger_table": ["ledger; DROP TABLE victim"],
}


def test_sql_identifier_injection_is_refused(db, emulator, bucket, put, run_load):
    from airflow_scf_snova.transfers.cos_to_snova import COSToSnovaOperator

    db.execute("CREATE TABLE victim (v int)")
    db.execute("INSERT INTO victim VALUES (42)")
    db.execute(TABLE)
    put("i/1.csv", "1,x\n")
    refused = 0
    for field, values in INJECTIONS.items():
        for value in values:
            kwargs = {"table": "t", "bucket": bucket, "keys": ["i/1.csv"], field: value}
            if field == "upsert_keys":
                kwargs["mode"] = "upsert"
            with pytest.raises(InvalidInputError) as caught:
                COSToSnovaOperator(task_id="load", **kwargs)  # at DAG-parse time
            assert "name" in str(caught.value)
            refused += 1
    # templated: known only at run time, refused before any SQL runs
    op = COSToSnovaOperator(
        task_id="load", table="{{ params.table }}", bucket=bucket, keys=["i/1.csv"]
    )
    op.render_template_fields({"params": {"table": "t; DROP TABLE victim"}})
    with pytest.raises(InvalidInputError) as templated:
        op.execute({"run_id": "injection"})
    assert "'t; DROP TABLE victim'" in str(templated.value)
    assert db.rows("SELECT v FROM victim") == [(42,)]
    assert db.scalar("SELECT count(*) FROM t") == 0 and db.ledger_keys() == []
    record(
        "input.sql-injection",
        f"{refused} literal attempts refused at DAG parse; the templated one refused at run "
        f"time before any SQL: `{templated.value}`; `victim` intact, nothing loaded",
    )


# -- credentials ---------------------------------------------------------------------------------
WRONG_KEY = "Wrong-Secret-Key-4f1b9a77c2"


def test_wrong_credentials_surface_auth_failure_with_request_id(
    emulator, monkeypatch, snova_server, output
):
    from conftest import tencentcloud_conn_json

    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.hooks.scf import SCFHook

    base = json.loads(tencentcloud_conn_json(emulator))
    monkeypatch.setenv("AIRFLOW_CONN_WRONG_KEY", json.dumps({**base, "password": WRONG_KEY}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_WRONG_ID",
        json.dumps({**base, "login": "AKIDunknown0000000000000000000000", "password": WRONG_KEY}),
    )
    with pytest.raises(TencentCloudAuthError) as scf_err:
        SCFHook(tencentcloud_conn_id="wrong_key").list_functions()
    with pytest.raises(TencentCloudAuthError) as scf_id:
        SCFHook(tencentcloud_conn_id="wrong_id").get_function("anything")
    with pytest.raises(TencentCloudAuthError) as cos_err:
        COSHook(tencentcloud_conn_id="wrong_key").put_object("any-1250000000", "k", "x")
    # a HEAD answer has no body: the status and the request id header must still come through
    with pytest.raises(TencentCloudApiError) as cos_head:
        COSHook(tencentcloud_conn_id="wrong_key").head_object("any-1250000000", "k")
    assert (cos_head.value.status, cos_head.value.code) == (403, "AccessDenied")
    assert scf_err.value.code == "AuthFailure.SignatureFailure"
    assert scf_id.value.code == "AuthFailure.SecretIdNotFound"
    assert cos_err.value.code == "SignatureDoesNotMatch" and cos_err.value.status == 403
    for err in (scf_err.value, scf_id.value, cos_err.value, cos_head.value):
        assert err.request_id and err.request_id in str(err)
        assert WRONG_KEY not in str(err) + repr(err) + repr(err.__reduce__())

    from urllib.parse import urlsplit, urlunsplit

    import psycopg2

    wrong_pw = "Wrong-Db-Password-9d3e0b"
    parts = urlsplit(snova_server)
    dsn = urlunsplit(parts._replace(netloc=f"postgres:{wrong_pw}@{parts.hostname}:{parts.port}"))
    monkeypatch.setenv("AIRFLOW_CONN_WRONG_DB", dsn.replace("postgresql://", "snova://", 1))
    from airflow_scf_snova.hooks.snova import SnovaHook

    with pytest.raises(psycopg2.OperationalError) as db_err:
        SnovaHook(snova_conn_id="wrong_db").get_psycopg2_conn()
    assert "password authentication failed" in str(db_err.value)
    assert wrong_pw not in str(db_err.value)
    assert WRONG_KEY not in output.text() and wrong_pw not in output.text()
    record(
        "input.wrong-credentials",
        f"SCF: `{scf_err.value}`; unknown SecretId: `{scf_id.value.code}`; COS: 403 "
        f"`{cos_err.value.code}` with its RequestId (a HEAD: `{cos_head.value}`); Snova: "
        "`password authentication failed`; "
        "the wrong key/password appear in no message and no log line",
    )
