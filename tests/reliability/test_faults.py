"""Faults: throttling and 503s during deploy, invoke, upload, listing and loads; latency spikes;
COS connections cut mid-download. Expected: retried where it is safe, a clear failure where it
is not, and every source row exactly once in the warehouse."""

from __future__ import annotations

import threading
import time

import pytest
from reliability.observations import record
from scf_snova_devel.scf import ECHO_DIR, delete_quietly, deploy_echo, fast_hook

from airflow_scf_snova.exceptions import (
    SnovaLoadError,
    TencentCloudThrottledError,
)


def _fast(op):
    """Millisecond backoff on the operator's hook (the emulator answers at once)."""
    op.hook.retry_delay, op.hook.max_retry_delay = 0.05, 0.2
    return op


@pytest.fixture
def hook(emulator):
    return fast_hook()


@pytest.fixture
def echo(hook, unique_name):
    name = unique_name("flt")
    deploy_echo(hook, name)
    yield name
    delete_quietly(hook, name)


# -- SCF throttling ------------------------------------------------------------------------------
def test_deploy_while_throttled(emulator, hook, unique_name, output):
    from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator

    name = unique_name("thr")
    op = _fast(
        SCFDeployFunctionOperator(
            task_id="deploy",
            function_name=name,
            code_dir=str(ECHO_DIR),
            handler="index.main_handler",
            runtime="Python3.9",
            poll_interval=0.02,
            do_xcom_push=False,
        )
    )
    emulator.faults.throttle(3, ["GetFunction", "CreateFunction"])
    try:
        started = time.monotonic()
        result = op.execute({})
        seconds = time.monotonic() - started
        assert (result["created"], result["status"]) == (True, "Active")
        assert emulator.faults.snapshot()["throttle"] == 0
        retries = output.text().count("failed with RequestLimitExceeded; retry")
        assert retries == 3
        assert [f["FunctionName"] for f in hook.list_functions(search_key=name)] == [name]
    finally:
        delete_quietly(hook, name)
    record(
        "faults.scf-throttle-deploy",
        f"{retries} throttled calls retried (backoff 0.05 s doubling, as configured for the "
        f"test); created once, Active, in {seconds:.2f} s",
    )


def test_sync_invoke_is_never_resent_when_throttled(emulator, echo, output):
    from airflow_scf_snova.operators.scf import SCFInvokeFunctionOperator

    def attempt():
        return _fast(
            SCFInvokeFunctionOperator(
                task_id="invoke", function_name=echo, payload={"n": 1}, do_xcom_push=False
            )
        ).execute({})

    emulator.faults.throttle(1, ["Invoke"])
    with pytest.raises(TencentCloudThrottledError) as caught:
        attempt()
    assert caught.value.request_id
    assert emulator.control.invocations(echo) == []  # refused, not run, not re-sent
    assert "SCF Invoke failed" not in output.text()  # the hook logs every retry it makes
    result = attempt()  # Airflow's task retry: the operator runs again
    assert result["event"] == {"n": 1}
    runs = emulator.control.invocations(echo)
    assert len(runs) == 1
    record(
        "faults.scf-throttle-invoke-sync",
        f"first try: `{caught.value.code}` raised with its RequestId, not re-sent, 0 runs; "
        f"the task retry succeeded; {len(runs)} run in total",
    )


def test_async_invoke_is_retried_when_throttled(emulator, echo):
    from airflow_scf_snova.operators.scf import SCFInvokeFunctionOperator

    emulator.faults.throttle(2, ["Invoke"])
    op = _fast(
        SCFInvokeFunctionOperator(
            task_id="invoke",
            function_name=echo,
            payload={"n": 2},
            invocation_type="Event",
            wait_for_completion=True,
            poll_interval=0.05,
            do_xcom_push=False,
        )
    )
    result = op.execute({})
    assert result["event"] == {"n": 2}
    assert emulator.faults.snapshot()["throttle"] == 0
    runs = emulator.control.invocations(echo)
    assert [r["status"] for r in runs] == ["success"]
    record(
        "faults.scf-throttle-invoke-async",
        "2 throttled `Invoke` (Event) calls retried; the function ran exactly once "
        f"({len(runs)} run recorded) and its result came back",
    )


def test_listings_are_retried_when_throttled(emulator, hook, echo):
    from airflow_scf_snova.operators.scf_triggers import SCFCreateTimerTriggerOperator

    emulator.faults.throttle(4, ["ListFunctions", "ListTriggers"])
    names = [f["FunctionName"] for f in hook.list_functions(search_key=echo)]
    op = _fast(
        SCFCreateTimerTriggerOperator(
            task_id="timer",
            function_name=echo,
            trigger_name="nightly",
            cron="30 1 * * *",
            do_xcom_push=False,
        )
    )
    op.execute({})
    triggers = hook.list_triggers(echo)
    assert names == [echo]
    assert [(t["TriggerName"], t["Type"]) for t in triggers] == [("nightly", "timer")]
    assert emulator.faults.snapshot()["throttle"] == 0
    record(
        "faults.scf-throttle-listing",
        "4 throttled listings retried; `ListFunctions` found the function; one timer trigger bound",
    )


# -- COS 503 -------------------------------------------------------------------------------------
def test_deploy_from_cos_while_cos_answers_503(emulator, hook, bucket, unique_name):
    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.operators.scf import SCFDeployFunctionOperator
    from airflow_scf_snova.scf.packaging import package_directory

    COSHook().put_object(bucket, "code/echo.zip", package_directory(ECHO_DIR).data)
    name = unique_name("cosdep")
    op = _fast(
        SCFDeployFunctionOperator(
            task_id="deploy",
            function_name=name,
            cos_bucket=bucket,
            cos_key="code/echo.zip",
            handler="index.main_handler",
            runtime="Python3.9",
            poll_interval=0.02,
            do_xcom_push=False,
        )
    )
    emulator.faults.cos_errors(2, status=503, operations=["HEAD"])
    try:
        started = time.monotonic()
        result = op.execute({})
        seconds = time.monotonic() - started
        assert (result["created"], result["status"]) == (True, "Active")
        assert emulator.faults.snapshot()["cos_errors"] == 0
    finally:
        delete_quietly(hook, name)
    record(
        "faults.cos-503-deploy",
        f"2 503s on HEAD retried by the COS SDK (sleeps 1 s, 2 s); created and Active in "
        f"{seconds:.1f} s",
    )


def test_upload_and_listing_while_cos_answers_503(emulator, bucket):
    from airflow_scf_snova.hooks.cos import COSHook
    from airflow_scf_snova.operators.cos import COSCreateObjectOperator, COSListObjectsOperator

    emulator.faults.cos_errors(1, status=503, operations=["PUT"])
    body = "id,amount\n1,9.50\n"
    COSCreateObjectOperator(
        task_id="put", bucket=bucket, key="u/a.csv", data=body, do_xcom_push=False
    ).execute({})
    assert emulator.faults.snapshot()["cos_errors"] == 0
    hook = COSHook()
    for n in range(3):
        hook.put_object(bucket, f"u/{n}.csv", "x")
    emulator.faults.cos_errors(1, status=503, operations=["LIST"])
    listed = COSListObjectsOperator(
        task_id="list", bucket=bucket, prefix="u/", do_xcom_push=False
    ).execute({})
    assert emulator.faults.snapshot()["cos_errors"] == 0
    assert listed == ["u/0.csv", "u/1.csv", "u/2.csv", "u/a.csv"]
    assert hook.read_object(bucket, "u/a.csv").decode() == body
    record(
        "faults.cos-503-upload-listing",
        "the PUT and the listing each got a 503 and were retried by the SDK; the object holds "
        "its content once; the listing returned all 4 keys",
    )


def test_load_while_cos_answers_503(emulator, db, bucket, put, run_load):
    db.execute("CREATE TABLE t (a int, b text)")
    for n in range(3):
        put(f"s/{n}.csv", "".join(f"{n * 100 + i},v\n" for i in range(100)))
    emulator.faults.cos_errors(3, status=503, operations=["LIST", "GET"])
    started = time.monotonic()
    result = run_load(table="t", bucket=bucket, prefix="s/")
    seconds = time.monotonic() - started
    assert [r["status"] for r in result] == ["loaded"] * 3
    assert emulator.faults.snapshot()["cos_errors"] == 0
    assert db.rows("SELECT count(*), count(DISTINCT a) FROM t") == [(300, 300)]
    record(
        "faults.cos-503-load",
        f"3 503s (listing, then twice the first GET) retried by the SDK; 3 objects, 300 rows, "
        f"300 distinct, in {seconds:.1f} s",
    )


def test_load_when_cos_keeps_failing_then_retry(emulator, db, bucket, put, run_load):
    db.execute("CREATE TABLE t (a int, b text)")
    put("x/1.csv", "1,a\n2,b\n")
    put("x/2.csv", "3,c\n")
    emulator.faults.cos_errors(10, status=503, operations=["GET"])
    started = time.monotonic()
    with pytest.raises(SnovaLoadError) as caught:
        # one object per transaction: a failed batch is loaded again object by object, which
        # would read x/1 a second time (more retries than this test counts)
        run_load(table="t", bucket=bucket, prefix="x/", batch_size=1)
    seconds = time.monotonic() - started
    err = caught.value
    assert err.key == "x/1.csv" and "ServiceUnavailable" in str(err) and "RequestId" in str(err)
    assert emulator.faults.snapshot()["cos_errors"] == 6  # 1 try + 3 SDK retries
    assert db.scalar("SELECT count(*) FROM t") == 0 and db.ledger_keys() == []
    emulator.faults.reset()
    retry = run_load(table="t", bucket=bucket, prefix="x/")
    assert [r["status"] for r in retry] == ["loaded", "loaded"]
    assert db.rows("SELECT a FROM t ORDER BY a") == [(1,), (2,), (3,)]
    record(
        "faults.cos-503-exhausted",
        f"after 4 attempts ({seconds:.1f} s of SDK backoff): `{str(err)[:160]}...`; 0 rows; "
        "the retry loaded 3 rows once",
        {"seconds until a persistent 503 fails the object": seconds},
    )


# -- latency ---------------------------------------------------------------------------------------
def test_latency_spike_during_a_load(emulator, db, bucket, put, run_load):
    db.execute("CREATE TABLE t (a int, b text)")
    for n in range(3):
        put(f"lat/{n}.csv", f"{n},v\n")
    started = time.monotonic()
    run_load(table="t", bucket=bucket, keys=["lat/0.csv"])
    baseline = time.monotonic() - started
    emulator.faults.latency(0.3, "cos")
    started = time.monotonic()
    result = run_load(table="t", bucket=bucket, prefix="lat/")
    slow = time.monotonic() - started
    assert [r["status"] for r in result] == ["skipped", "loaded", "loaded"]
    # 1 listing, then the batch's 2 GETs read ahead side by side (no HEAD: If-Match pins the
    # version): at least 2 slowed round trips in a row
    assert slow >= 2 * 0.3
    assert db.rows("SELECT a, count(*) FROM t GROUP BY a ORDER BY a") == [(0, 1), (1, 1), (2, 1)]
    record(
        "faults.latency-cos-load",
        f"one object took {baseline:.2f} s without the spike; 3 objects with it {slow:.2f} s; "
        "each row once",
        {"load under +0.3 s COS latency, seconds": slow},
    )


def test_latency_beyond_the_read_timeout_is_retried(emulator, echo, output):
    from airflow_scf_snova.hooks.scf import SCFHook

    hook = SCFHook(retry_delay=0.05, max_retry_delay=0.2)
    hook.__dict__["conn"] = hook.build_scf_client(request_timeout=1)  # a short client timeout
    emulator.faults.latency(3, "scf")

    def end_spike_after_first_retry():
        output.wait_for("SCF GetFunction failed with ClientNetworkError; retry 1", 30)
        emulator.faults.latency(0, "scf")

    ender = threading.Thread(target=end_spike_after_first_retry)
    ender.start()
    started = time.monotonic()
    function = hook.get_function(echo)
    seconds = time.monotonic() - started
    ender.join(30)
    assert function["Status"] == "Active"
    retries = output.text().count("SCF GetFunction failed with ClientNetworkError")
    assert retries >= 1
    record(
        "faults.latency-scf-read-timeout",
        f"`GetFunction` timed out {retries} time(s) (client timeout 1 s), was retried and "
        f"answered once the spike ended ({seconds:.1f} s in all)",
    )


@pytest.mark.soak
def test_latency_beyond_the_invoke_timeout_is_not_resent(emulator, hook, echo, output):
    from airflow_scf_snova.exceptions import TencentCloudNetworkError

    emulator.faults.latency(65, "scf")
    started = time.monotonic()
    with pytest.raises(TencentCloudNetworkError) as caught:
        hook.invoke(echo, {"n": 3}, request_timeout=1)  # the hook's floor is 60 s
    seconds = time.monotonic() - started
    emulator.faults.latency(0, "scf")
    runs = emulator.control.wait_for_invocations(1, echo, timeout=60)
    assert len(runs) == 1 and seconds >= 60
    assert "SCF Invoke failed" not in output.text()
    record(
        "faults.latency-scf-invoke-timeout",
        f"`{caught.value.code}` after {seconds:.0f} s, not re-sent; the emulator ran the "
        f"function {len(runs)} time (after the client gave up)",
    )


# -- a connection cut mid-download -----------------------------------------------------------------
def test_connection_dropped_mid_download(emulator, db, bucket, put, run_load):
    db.execute("CREATE TABLE t (a int, b text)")
    put("d/1.csv", "1,small\n")
    rows = 20_000
    put("d/2.csv", "".join(f"{i},row {i:08d}\n" for i in range(10, 10 + rows)))
    put("d/3.csv", "3,small\n")
    # the 1st GET (d/1, 8 bytes) ends within the budget; the 2nd (d/2) is cut after 64 KiB
    emulator.faults.drop_connections(2, after_bytes=64 * 1024)
    with pytest.raises(SnovaLoadError) as caught:
        # one object per transaction, each GET in key order (a batch reads d/1 and d/3 ahead)
        run_load(table="t", bucket=bucket, prefix="d/", batch_size=1)
    err = caught.value
    assert err.key == "d/2.csv" and "reading the object failed" in str(err)
    assert db.rows("SELECT a FROM t") == [(1,)] and db.ledger_keys() == ["d/1.csv"]
    retry = run_load(table="t", bucket=bucket, prefix="d/")
    assert [r["status"] for r in retry] == ["skipped", "loaded", "loaded"]
    total = rows + 2
    assert db.rows("SELECT count(*), count(DISTINCT a) FROM t") == [(total, total)]
    record(
        "faults.cos-drop-mid-download",
        f"`{str(err).splitlines()[0][:150]}`; d/1 stayed committed, nothing of d/2; the retry "
        f"skipped d/1 and loaded d/2, d/3: {total} rows, {total} distinct",
    )
