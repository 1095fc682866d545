"""Upload-to-run latency: the COS-to-asset bridge (push) against ``COSObjectEventTrigger`` polling
every 30 s, and the COS LIST requests each costs per event.

One ``airflow standalone`` (metadata on PostgreSQL, the simple auth manager) and the emulator:

1. **push**: ``SCFDeployCOSAssetBridgeOperator`` deploys the bridge (a DAG run in the
   standalone) on ``push/``; a DAG is scheduled on ``cos://<bucket>/push/`` (no watcher). Uploads
   spread evenly over ``window`` seconds; for each, upload -> the asset event's ``timestamp``
   and upload -> the ``queued_at`` of the run it created.
2. **poll**: then a DAG file with ``COSObjectEventTrigger(poll_interval=30)`` as the watcher of
   ``cos://<bucket>/poll/`` is added; once it has polled, the same uploads under ``poll/``. The
   window spans two poll periods, so the uploads sample the poll's phase.

LIST requests per event are the emulator's request counters over each side's window, divided
by its events (the push side's window has no watcher running).

    python bench/push_latency.py [--uploads 20] [--window 60] [--no-doc]
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, Section, Verdict, load_average, publish_as_asked, script_parser

POLL_INTERVAL = 30

PUSH_DAGS = """
import os

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_scf_snova.operators.scf_bridge import SCFDeployCOSAssetBridgeOperator

BUCKET = os.environ["BENCH_PUSH_BUCKET"]
pushed = Asset(f"cos://{BUCKET}/push/")
START = pendulum.datetime(2024, 1, 1, tz="UTC")

with DAG(dag_id="bench_push_deploy", schedule=None, start_date=START, catchup=False):
    SCFDeployCOSAssetBridgeOperator(
        task_id="deploy_bridge", bucket=BUCKET, prefix="push/", asset_uri=pushed.uri
    )

with DAG(dag_id="bench_push", schedule=[pushed], start_date=START, catchup=False):

    @task
    def consume():
        pass

    consume()
"""

POLL_DAG = f"""
import os

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_scf_snova.triggers.cos import COSObjectEventTrigger

BUCKET = os.environ["BENCH_PUSH_BUCKET"]
trigger = COSObjectEventTrigger(bucket=BUCKET, prefix="poll/", poll_interval={POLL_INTERVAL})
watcher = AssetWatcher(name="bench_poll", trigger=trigger)
polled = Asset(f"cos://{{BUCKET}}/poll/", watchers=[watcher])

with DAG(
    dag_id="bench_poll",
    schedule=[polled],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def consume():
        pass

    consume()
"""


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method; the value itself for one sample)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _side(stack, token, emulator, cos, bucket, prefix, dag_id, uploads, window) -> dict[str, Any]:
    """Upload ``uploads`` objects under ``prefix`` over ``window`` seconds; the latencies."""
    sys.path.insert(0, str(ROOT / "tests"))
    from system.push_stack import asset_events, asset_id, epoch, polled, runs, unpause, wait

    unpause(stack, token, dag_id)
    asset = asset_id(stack, token, f"cos://{bucket}/{prefix.rstrip('/')}")  # as Airflow stores it
    emulator.control.reset_stats()
    uploaded: dict[str, float] = {}
    started = time.monotonic()
    for n in range(uploads):
        # Pacing the uploads, not synchronisation: the results are read from the API below.
        time.sleep(max(0.0, started + n * window / uploads - time.monotonic()))
        key = f"{prefix}{n:04d}.log"
        uploaded[key] = time.time()
        cos.put_object(Bucket=bucket, Key=key, Body=f"{n}\n".encode())
    deadline = window + 2 * POLL_INTERVAL + 120

    def read_events():
        try:
            return asset_events(stack, token, asset)
        except urllib.error.HTTPError as err:
            if err.code == 500:  # a created run still queued (apache/airflow#71360)
                return None
            raise

    def all_in():
        events = read_events()
        if events is None or len(events) < uploads:
            return None
        return events if all(e["created_dagruns"] for e in events) else None

    try:
        events = wait(polled(all_in), deadline, f"{uploads} events on {prefix}", interval=0.5)
    except TimeoutError:  # report what arrived: the table shows the event count
        events = wait(polled(read_events), 60, f"the events on {prefix}", interval=1)
    lists = emulator.control.stats().get("cos", {}).get("LIST", 0)
    queued = {r["dag_run_id"]: epoch(r["queued_at"]) for r in runs(stack, token, dag_id)}
    to_event, to_queued = [], []
    for event in events:
        start = uploaded[event["extra"]["payload"]["key"]]
        to_event.append(epoch(event["timestamp"]) - start)
        created = [queued[r["run_id"]] for r in event["created_dagruns"] if r["run_id"] in queued]
        if created:
            to_queued.append(min(created) - start)
    return {"events": len(events), "lists": lists, "to_event": to_event, "to_queued": to_queued}


def run(env, uploads: int = 20, window: float = 60.0) -> Section:
    """Both sides on one standalone (see the module docstring)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from system.push_stack import push_stack, run_to_completion, unpause, wait

    from bench.env import tencentcloud_conn

    load_before = load_average()
    emulator = env.emulator
    bucket = env.new_bucket("push")
    from airflow_scf_snova.hooks.cos import COSHook

    cos = COSHook().conn  # the same CosS3Client an operator builds
    work = env.workdir("push_latency")
    (work / "src").mkdir()
    push_file = work / "src" / "bench_push.py"
    push_file.write_text(PUSH_DAGS)
    metadata_uri = env.new_database().replace("postgresql://", "postgresql+psycopg2://", 1)
    extra = {
        "AIRFLOW_CONN_TENCENTCLOUD_DEFAULT": tencentcloud_conn(emulator),
        "BENCH_PUSH_BUCKET": bucket,
        # A new DAG file is found within seconds (the poll side adds one).
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # Active when first parsed: a watcher's trigger is registered when its DAG file is
        # parsed, and only for a DAG that is not paused (the stack parses each file once).
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    }
    with push_stack(work / "stack", metadata_uri, [push_file], extra, ["bench_push"]) as (
        stack,
        _,
    ):
        token = stack.api_token()
        deploy = run_to_completion(stack, token, "bench_push_deploy")
        if deploy["state"] != "success":
            raise RuntimeError(f"the bridge's deploy failed:\n{stack.log_tail()}")
        push = _side(stack, token, emulator, cos, bucket, "push/", "bench_push", uploads, window)
        (work / "stack" / "dags" / "bench_poll.py").write_text(POLL_DAG)
        wait(lambda: stack._dag_parsed("bench_poll", token), 120, "the poll DAG", interval=1)
        unpause(stack, token, "bench_poll")  # the triggerer runs watchers of unpaused DAGs only
        emulator.control.reset_stats()
        try:
            wait(
                lambda: emulator.control.stats().get("cos", {}).get("LIST", 0),
                POLL_INTERVAL + 120,
                "the watcher's first poll",
                interval=0.5,
            )
        except TimeoutError as err:
            raise RuntimeError(f"{err}:\n{stack.log_tail(20000)}") from err
        token = stack.api_token()
        poll = _side(stack, token, emulator, cos, bucket, "poll/", "bench_poll", uploads, window)
    return _section(push, poll, uploads, window, load_before)


def _section(push, poll, uploads, window, load_before) -> Section:
    rows = []
    for name, side in (("push (SCF bridge)", push), (f"poll ({POLL_INTERVAL} s watcher)", poll)):
        rows.append(
            [
                name,
                side["events"],
                percentile(side["to_event"], 50),
                percentile(side["to_event"], 95),
                percentile(side["to_queued"], 50),
                percentile(side["to_queued"], 95),
                side["lists"] / max(side["events"], 1),
            ]
        )
    p50 = percentile(push["to_queued"], 50)
    verdicts = [
        Verdict(
            goal="push: upload -> DAG run queued in about a second (p50)",
            result=f"p50 {p50:.2f} s, p95 {percentile(push['to_queued'], 95):.2f} s",
            ratio=f"{percentile(poll['to_queued'], 50) / p50:.1f}x faster than polling"
            if p50 > 0
            else "-",
            met=None,
        ),
        Verdict(
            goal="push: zero LIST requests",
            result=f"{push['lists']} LIST for {push['events']} events",
            ratio=f"{push['lists'] / max(push['events'], 1):.2f} per event",
            met=push["lists"] == 0,
        ),
    ]
    method = (
        f"`bench/push_latency.py`: `airflow standalone` (metadata on PostgreSQL) and the "
        f"emulator on this machine. {uploads} uploads spread evenly over {window:.0f} s per "
        "side. *push*: the bridge deployed by `SCFDeployCOSAssetBridgeOperator`, a DAG scheduled "
        f"on its asset (no watcher). *poll*: `COSObjectEventTrigger(poll_interval="
        f"{POLL_INTERVAL})` as the asset's watcher. Latencies run from just before the PUT to "
        "the asset event's `timestamp` and to the created run's `queued_at` (one clock). LIST "
        "per event: the emulator's request counters over the side's window / its events."
    )
    return Section(
        name="push_latency",
        title="9. Push vs poll: upload-to-run latency",
        method=method,
        headers=[
            "Side",
            "Events",
            "-> event p50 (s)",
            "-> event p95 (s)",
            "-> queued p50 (s)",
            "-> queued p95 (s)",
            "LIST per event",
        ],
        rows=rows,
        verdicts=verdicts,
        notes=(
            "The push side's latency is an SCF cold start (a new Python 3.9 process per "
            "invocation on the emulator), four requests to the api-server and the scheduler's "
            "next loop; the poll side's is half a poll interval on average plus the same "
            "scheduler step."
        ),
        load_before=load_before,
        load_after=load_average(),
    )


def main(argv: list[str] | None = None) -> None:
    parser = script_parser(__doc__, reps=1)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args(argv)
    from bench.env import BenchEnv

    with BenchEnv() as env:
        section = run(env, uploads=args.uploads, window=args.window)
    publish_as_asked(section, args)


if __name__ == "__main__":
    main()
