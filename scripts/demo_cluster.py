"""``make demo-cluster``: the seed DAGs on a real CeleryExecutor cluster on this machine (Redis,
scheduler, dag-processor, triggerer, api-server and two Celery workers; see
:mod:`cluster_env`), through the scenarios of docs/scaling.md (:mod:`cluster_scenarios`).

Prints a table of the scenarios and writes ``<root>/report.json``; ``--record-docs`` writes the
figures into docs/scaling.md between ``<!-- cluster:begin -->`` and ``<!-- cluster:end -->``.
Exits 1 when a scenario is not ok.

``--scale full`` runs the issue's sizes (20 runs over 200 objects and 4 tables, 200 sensors);
``--scale ci`` smaller ones (``make test-cluster``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import cluster_scenarios as scenarios
from cluster_env import REPO, SETTINGS, ClusterEnvironment

SCALES = {
    "full": {
        "runs": 20,
        "objects": 200,
        "tables": 4,
        "sensors": 200,
        "restart_sensors": 40,
        "triggerer_signals": (signal.SIGTERM, signal.SIGKILL),
    },
    "ci": {
        "runs": 8,
        "objects": 40,
        "tables": 4,
        "sensors": 50,
        "restart_sensors": 20,
        "triggerer_signals": (signal.SIGKILL,),
    },
}
SCENARIOS = ("1", "2", "3", "4")
BEGIN, END = "<!-- cluster:begin -->", "<!-- cluster:end -->"


def probe(env: ClusterEnvironment, fan: int = 20) -> dict:
    """One task on each worker (each records its own name), then ``fan`` trivial mapped tasks:
    the wall time and the workers' CPU seconds per task start."""
    env.wait_for_dag("cluster_probe")
    before = sum(env.process_tree_usage(w)[0] for w in env.workers)
    started = time.monotonic()
    run_id = env.trigger("cluster_probe", {"fan": fan})
    state = env.wait_for_runs("cluster_probe", [run_id], 900)[run_id]
    seconds = time.monotonic() - started
    cpu = sum(env.process_tree_usage(w)[0] for w in env.workers) - before
    hosts = dict(
        env.metadata_sql(
            "SELECT task_id, hostname FROM task_instance WHERE dag_id = 'cluster_probe' "
            "AND run_id = %s AND task_id IN ('on_a', 'on_b')",
            (run_id,),
        )
    )
    tasks = fan + 3
    ok = state == "success" and hosts == {"on_a": env.workers[0], "on_b": env.workers[1]}
    return {
        "ok": ok,
        "problems": [] if ok else [f"run {state}, hosts {hosts}"],
        "tasks": tasks,
        "hosts": hosts,
        "seconds": round(seconds, 1),
        "worker_cpu_seconds_per_task": round(cpu / tasks, 2),
    }


def run(env: ClusterEnvironment, scale: dict, which: tuple[str, ...]) -> dict:
    report: dict = {"start_seconds": {k: round(v, 1) for k, v in env.timings.items()}}
    report["process_groups"] = {name: child.pid for name, child in env.procs.items()}
    report["worker_env_leaks"] = {name: leaks(env.worker_env(name)) for name in env.workers}
    report["probe"] = probe(env)
    steps = {
        "1": (
            "overlapping_imports",
            lambda: scenarios.overlapping_imports(
                env, scale["runs"], scale["objects"], scale["tables"]
            ),
        ),
        "2": ("deferred_sensors", lambda: scenarios.deferred_sensors(env, scale["sensors"])),
        "3": ("killed_worker", lambda: scenarios.killed_worker(env)),
    }
    for sig in scale["triggerer_signals"]:
        name = "restarted_triggerer" if sig == signal.SIGTERM else "killed_triggerer"
        steps[f"4-{sig.name}"] = (
            name,
            lambda sig=sig: scenarios.restarted_triggerer(env, scale["restart_sensors"], sig),
        )
    for key in [k for k in steps if k[0] in which]:
        name, step = steps[key]
        env.log(f"scenario {key[0]}: {name}")
        try:
            report[name] = step()
        except Exception as err:  # the report says which scenario failed and how; others run
            report[name] = {"ok": False, "problems": [f"{type(err).__name__}: {err}"]}
        env.log(f"  {json.dumps(report[name])}")
    for name, child in env.procs.items():  # restarted workers and triggerers are new groups
        report["process_groups"].setdefault(f"{name} (last)", child.pid)
    return report


def leaks(environ: dict[str, str]) -> list[str]:
    """The variables of a worker's environment that a worker on another machine would not
    have: the metadata database's DSN, connections, the JWT signing secret."""
    return sorted(
        key
        for key in environ
        if key.startswith("AIRFLOW_CONN_")
        or key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__API_AUTH__JWT_SECRET")
    )


def table(report: dict) -> str:
    """The scenarios as a Markdown table."""
    lines = ["| Scenario | Result | Figures | Seconds |", "|---|---|---|---|"]

    def row(name: str, figures: str) -> None:
        part = report.get(name)
        if part is not None:
            result = "ok" if part.get("ok") else "FAILED: " + "; ".join(part.get("problems", []))
            lines.append(
                f"| {name} | {result} | {figures if part.get('ok') else ''} | "
                f"{part.get('seconds', '')} |"
            )

    start = report["start_seconds"]
    lines.insert(
        2,
        f"| start | ok | Redis, PostgreSQL, emulator {start.get('base')} s; metadata "
        f"schema {start.get('migrate')} s; 4 services healthy {start.get('services')}"
        f" s; 2 workers ready {start.get('workers')} s | {start.get('total')} |",
    )
    p = report.get("probe", {})
    row(
        "probe",
        f"one task on each worker, recorded as {_pairs(p.get('hosts'))}; {p.get('tasks')} "
        f"tasks, {p.get('worker_cpu_seconds_per_task')} worker CPU-s per task start",
    )
    s1 = report.get("overlapping_imports", {})
    row(
        "overlapping_imports",
        f"{s1.get('runs')} runs over {s1.get('objects')} objects into "
        f"{s1.get('tables')} tables; tasks per worker {_pairs(s1.get('tasks_per_worker'))} "
        f"(loads {_pairs(s1.get('loads_per_worker'))}); each table: every object once in the "
        "ledger, "
        "its rows once in the table",
    )
    s2 = report.get("deferred_sensors", {})
    t = s2.get("triggerer", {})
    row(
        "deferred_sensors",
        f"{s2.get('sensors')} sensors parked in {s2.get('parked_seconds')} s,"
        f" each fired once; upload to done p50 {s2.get('latency_p50_s')} s, p95 "
        f"{s2.get('latency_p95_s')} s; triggerer {t.get('cpu_seconds')} CPU-s over "
        f"{t.get('window_seconds')} s ({t.get('mean_cores')} cores), peak RSS "
        f"{t.get('peak_rss_mib')} MiB",
    )
    s3 = report.get("killed_worker", {})
    tries = ", ".join(f"try {t['try']} on {t['host']}: {t['state']}" for t in s3.get("tries", []))
    row(
        "killed_worker",
        f"{s3.get('killed')} SIGKILLed mid-COPY of {s3.get('rows')} rows; "
        f"{tries}; recovered in {s3.get('recovery_seconds')} s; rows once, one ledger entry",
    )
    for name in ("restarted_triggerer", "killed_triggerer"):
        s4 = report.get(name, {})
        row(
            name,
            f"{s4.get('sensors')} waiting sensors, triggerer stopped ({s4.get('signal')}) and "
            "a new one started; every sensor fired once",
        )
    return "\n".join(lines)


def _pairs(mapping: dict | None) -> str:
    """``a: 1, b: 2`` (sorted by key) for a table cell."""
    return ", ".join(f"{key}: {value}" for key, value in sorted((mapping or {}).items()))


def settings_text() -> str:
    lines = ["Settings of every Airflow process of this cluster:", ""]
    for key, (value, why) in SETTINGS.items():
        lines.append(f"- `{key}={value}`: {why}.")
    lines += [
        "- Workers: `--concurrency 4`, `--skip-serve-logs` (two log servers on one machine "
        "would share a port; each worker's logs stay in its own home), queues `default` and "
        "their own name; `[core] hostname_callable` returns the worker's name.",
        "- Workers get neither the metadata DSN nor `AIRFLOW_CONN_*`: the Celery result "
        "backend is Redis (database 1), and tasks read connections through the Execution API.",
    ]
    return "\n".join(lines)


def record_docs(report: dict, scale: str) -> None:
    """The table and the settings into docs/scaling.md, between the cluster's markers."""
    from common import replace_block, source_commit

    path = REPO / "docs" / "scaling.md"
    body = (
        f"*Written by `scripts/demo_cluster.py --scale {scale} --record-docs` from commit "
        f"{source_commit()}.*\n\n{table(report)}\n\n{settings_text()}"
    )
    text = replace_block(path.read_text(encoding="utf-8"), "", body, markers=(BEGIN, END))
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO / ".demo-cluster")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="e.g. 1,3")
    parser.add_argument("--record-docs", action="store_true")
    args = parser.parse_args(argv)
    which = tuple(s for s in args.scenarios.split(",") if s)

    def stop_on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop_on_term)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    started = time.monotonic()
    print(f"airflow-scf-snova on a CeleryExecutor cluster (scale {args.scale})", flush=True)
    env = ClusterEnvironment(args.root, log=lambda line: print(line, flush=True))
    with env:
        report = run(env, SCALES[args.scale], which)
        stopping = time.monotonic()
    report["stop_seconds"] = round(time.monotonic() - stopping, 1)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["scale"] = args.scale
    (env.root / "report.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    print(
        f"wall {report['wall_seconds']} s (stop {report['stop_seconds']} s); "
        f"report: {env.root / 'report.json'}"
    )
    parts = [v for v in report.values() if isinstance(v, dict) and "ok" in v]
    ok = all(part["ok"] for part in parts)
    if args.record_docs and ok:
        record_docs(report, args.scale)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
