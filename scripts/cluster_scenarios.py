"""The scenarios ``make demo-cluster`` runs on its cluster (:mod:`cluster_env`), each a function
of the started :class:`cluster_env.ClusterEnvironment` returning a dict of figures with ``ok``
and, when not ok, ``problems``.

Exactly-once is checked in SQL on the warehouse (rows vs the load ledger), never on logs.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

from cluster_env import ClusterEnvironment, wait_until
from demo_data import SampleFile

LEDGER = "airflow_scf_snova_load_ledger"
IMPORT_DAG = "cos_to_snova_import"
SENSOR_DAG = "cluster_sensors"
KILL_DAG = "cluster_gated_load"


def _reset_table(env: ClusterEnvironment, table: str) -> None:
    """An empty ``table (a1 int)`` and no ledger entry for it (the root is kept between runs)."""
    env.warehouse_sql(f"CREATE TABLE IF NOT EXISTS {table} (a1 int)")
    env.warehouse_sql(f"TRUNCATE {table}")
    if env.warehouse_sql("SELECT to_regclass(%s)", (LEDGER,))[0][0]:
        env.warehouse_sql(f"DELETE FROM {LEDGER} WHERE target_table = %s", (f"public.{table}",))


def _task_rows(env: ClusterEnvironment, dag_id: str, run_ids: list[str]) -> list[tuple]:
    """``(run_id, task_id, map_index, try_number, hostname, state, end_date)`` of the runs."""
    return env.metadata_sql(
        "SELECT run_id, task_id, map_index, try_number, hostname, state, "
        "extract(epoch FROM end_date)::float8 FROM task_instance "
        "WHERE dag_id = %s AND run_id = ANY(%s)",
        (dag_id, list(run_ids)),
    )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def overlapping_imports(env: ClusterEnvironment, runs: int, objects: int, tables: int) -> dict:
    """Scenario 1: ``runs`` overlapping ``cos_to_snova_import`` runs (the seed's scheduled run
    too) over ``objects`` objects into ``tables`` tables; every row lands exactly once."""
    started = time.monotonic()
    names = [f"t{n}" for n in range(1, tables + 1)]
    for table in names:
        _reset_table(env, table)
    prefix = "snova/cluster/"
    files = [SampleFile(f"{prefix}part-{n:04d}.log", 1 + n * 100, rows=100) for n in range(objects)]
    client = env.cos_client()
    for f in files:
        client.put_object(Bucket=env.bucket, Key=f.key, Body=f.data)
    expected_rows, expected_sum = sum(f.rows for f in files), sum(f.total for f in files)
    env.wait_for_dag(IMPORT_DAG)  # unpaused: the seed's schedule adds its own run
    run_ids = [
        env.trigger(
            IMPORT_DAG,
            {"prefix": prefix, "wait_for": "any", "table": names[i % tables]},
        )
        for i in range(runs)
    ]
    states = env.wait_for_runs(IMPORT_DAG, run_ids, 600 + 60 * runs)
    tasks = _task_rows(env, IMPORT_DAG, run_ids)
    per_worker: dict[str, int] = {}
    loads_per_worker: dict[str, int] = {}
    for _run, task_id, _mi, _try, host, _state, _end in tasks:
        per_worker[host] = per_worker.get(host, 0) + 1
        if task_id.startswith("load_into"):
            loads_per_worker[host] = loads_per_worker.get(host, 0) + 1
    problems = []
    failed = sorted(r for r, s in states.items() if s != "success")
    if failed:
        problems.append(f"runs not successful: {failed}")
    if not set(env.workers) <= set(per_worker):
        problems.append(f"tasks did not run on every worker: {per_worker}")
    per_table = {}
    for table in names:
        count, total = env.warehouse_sql(f"SELECT count(*), coalesce(sum(a1), 0) FROM {table}")[0]
        ledger, dupes = env.warehouse_sql(
            f"SELECT count(*), count(*) - count(DISTINCT key) FROM {LEDGER} "
            "WHERE target_table = %s AND key LIKE %s",
            (f"public.{table}", prefix + "%"),
        )[0]
        per_table[table] = {"rows": count, "ledger": ledger}
        if (count, int(total), ledger, dupes) != (expected_rows, expected_sum, objects, 0):
            problems.append(
                f"{table}: {count} rows (sum {total}), {ledger} ledger entries, {dupes} "
                f"duplicates; expected {expected_rows} rows (sum {expected_sum}), {objects}"
            )
    return {
        "ok": not problems,
        "problems": problems,
        "runs": runs,
        "objects": objects,
        "tables": tables,
        "task_instances": len(tasks),
        "tasks_per_worker": per_worker,
        "loads_per_worker": loads_per_worker,
        "rows_per_table": per_table,
        "seconds": round(time.monotonic() - started, 1),
    }


class _Sampler(threading.Thread):
    """Sample a process tree's CPU seconds and RSS every ``interval`` seconds."""

    def __init__(self, env: ClusterEnvironment, name: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.env, self.name_, self.interval = env, name, interval
        self.samples: list[tuple[float, float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            cpu, rss = self.env.process_tree_usage(self.name_)
            self.samples.append((time.monotonic(), cpu, rss))
            self._stop_event.wait(self.interval)

    def stop(self) -> dict:
        self._stop_event.set()
        self.join()
        (t0, cpu0, _), (t1, cpu1, _) = self.samples[0], self.samples[-1]
        return {
            "cpu_seconds": round(cpu1 - cpu0, 2),
            "mean_cores": round((cpu1 - cpu0) / max(t1 - t0, 1e-9), 3),
            "peak_rss_mib": round(max(s[2] for s in self.samples) / 2**20, 1),
            "window_seconds": round(t1 - t0, 1),
        }


def _park_sensors(env: ClusterEnvironment, prefix: str, count: int) -> tuple[str, list[str]]:
    """Trigger ``cluster_sensors`` for ``count`` keys under ``prefix`` and wait until every
    sensor is deferred with its trigger registered."""
    client = env.cos_client()
    keys = [f"{prefix}{n:04d}.log" for n in range(count)]
    for key in keys:  # a rerun on a kept root: nothing there yet
        client.delete_object(Bucket=env.bucket, Key=key)
    env.wait_for_dag(SENSOR_DAG)
    run_id = env.trigger(SENSOR_DAG, {"prefix": prefix, "count": count})

    def parked() -> bool:
        (deferred,) = env.metadata_sql(
            "SELECT count(*) FROM task_instance WHERE dag_id = %s AND run_id = %s "
            "AND task_id = 'wait' AND state = 'deferred' AND trigger_id IS NOT NULL",
            (SENSOR_DAG, run_id),
        )[0]
        return deferred == count

    wait_until(parked, f"{count} deferred sensors", 300 + 3 * count, 1)
    return run_id, keys


def _check_sensors(env: ClusterEnvironment, run_id: str, keys: list[str]) -> tuple[list, dict]:
    """Wait for the run; the problems (not success, more than one try, a sensor whose XCom
    does not name its own key) and ``{map_index: end epoch}``."""
    state = env.wait_for_runs(SENSOR_DAG, [run_id], 600 + 3 * len(keys))[run_id]
    rows = [r for r in _task_rows(env, SENSOR_DAG, [run_id]) if r[1] == "wait"]
    problems = [] if state == "success" else [f"the sensor run ended {state}"]
    not_ok = [(r[2], r[5]) for r in rows if r[5] != "success"]
    retried = [(r[2], r[3]) for r in rows if r[3] != 1]
    if not_ok:
        problems.append(f"sensors not successful: {not_ok[:10]}")
    if retried:
        problems.append(f"sensors with more than one try: {retried[:10]}")
    xcoms = env.metadata_sql(
        "SELECT map_index, value::text FROM xcom WHERE dag_id = %s AND run_id = %s "
        "AND task_id = 'wait' AND key = 'return_value'",
        (SENSOR_DAG, run_id),
    )
    wrong = [mi for mi, value in xcoms if keys[mi] not in value]
    if len(xcoms) != len(keys) or wrong:
        problems.append(f"{len(xcoms)} sensor results, {len(wrong)} name another key")
    return problems, {r[2]: r[6] for r in rows}


def deferred_sensors(env: ClusterEnvironment, count: int) -> dict:
    """Scenario 2: ``count`` deferred COS sensors parked in the triggerer, then their objects
    uploaded (about 20/s, in a fixed shuffled order): each fires once; the triggerer's CPU and
    RSS, and the upload-to-done latency."""
    started = time.monotonic()
    run_id, keys = _park_sensors(env, "cluster-sensors/", count)
    parked_seconds = time.monotonic() - started
    sampler = _Sampler(env, "triggerer")
    sampler.start()
    order = list(range(count))
    random.Random(17).shuffle(order)
    client, uploaded = env.cos_client(), {}
    for n, index in enumerate(order):
        due = started + parked_seconds + n / 20
        time.sleep(max(0.0, due - time.monotonic()))  # pacing the uploads, not synchronising
        client.put_object(Bucket=env.bucket, Key=keys[index], Body=b"1\n")
        uploaded[index] = time.time()
    problems, ends = _check_sensors(env, run_id, keys)
    usage = sampler.stop()
    latency = [ends[i] - uploaded[i] for i in uploaded if ends.get(i)]
    return {
        "ok": not problems,
        "problems": problems,
        "sensors": count,
        "parked_seconds": round(parked_seconds, 1),
        "latency_p50_s": round(_percentile(latency, 0.5), 2),
        "latency_p95_s": round(_percentile(latency, 0.95), 2),
        "triggerer": usage,
        "triggerer_capacity": int(env.central_env["AIRFLOW__TRIGGERER__CAPACITY"]),
        "seconds": round(time.monotonic() - started, 1),
    }


def killed_worker(env: ClusterEnvironment, rows: int = 200_000) -> dict:
    """Scenario 3: the worker running a load is SIGKILLed while its COPY streams (held there by
    a one-time gate); the retry runs on the other worker; nothing is lost or duplicated."""
    started = time.monotonic()
    _reset_table(env, "t_kill")
    data = SampleFile("cluster-kill/big.log", 1, rows=rows)
    env.cos_client().put_object(Bucket=env.bucket, Key=data.key, Body=data.data)
    gate, fifo = Path(env.central_env["SCF_SNOVA_CLUSTER_GATE"]), env.root / "gate.fifo"
    gate.with_suffix(".claimed").unlink(missing_ok=True)
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo)
    gate.write_text(f'{{"key": "{data.key}", "after": 65536, "fifo": "{fifo}"}}')
    env.wait_for_dag(KILL_DAG)
    run_id = env.trigger(KILL_DAG)

    def copying() -> bool:
        if gate.exists():
            return False
        return bool(
            env.warehouse_sql(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%%'"
            )
        )

    wait_until(copying, "the gated load to hold its COPY", 600, 0.5)
    (host,) = env.metadata_sql(
        "SELECT hostname FROM task_instance WHERE dag_id = %s AND run_id = %s",
        (KILL_DAG, run_id),
    )[0]
    killed_at = time.monotonic()
    env.kill_worker(host, signal.SIGKILL)
    state = env.wait_for_runs(KILL_DAG, [run_id], 600)[run_id]
    recovered = time.monotonic() - killed_at
    env.start_worker(host)  # two workers again for what follows
    tries = env.metadata_sql(
        "SELECT try_number, hostname, state FROM task_instance_history WHERE dag_id = %s "
        "AND run_id = %s UNION ALL SELECT try_number, hostname, state FROM task_instance "
        "WHERE dag_id = %s AND run_id = %s ORDER BY 1",
        (KILL_DAG, run_id, KILL_DAG, run_id),
    )
    count, total = env.warehouse_sql("SELECT count(*), coalesce(sum(a1), 0) FROM t_kill")[0]
    (ledger,) = env.warehouse_sql(
        f"SELECT count(*) FROM {LEDGER} WHERE target_table = 'public.t_kill'"
    )[0]
    problems = [] if state == "success" else [f"the run ended {state}"]
    if (count, int(total), ledger) != (data.rows, data.total, 1):
        problems.append(f"t_kill: {count} rows (sum {total}), {ledger} ledger entries")
    hosts = [t[1] for t in tries]
    if len(tries) < 2 or hosts[0] != host or hosts[-1] == host:
        problems.append(f"tries: {tries}")
    fifo.unlink(missing_ok=True)
    return {
        "ok": not problems,
        "problems": problems,
        "rows": data.rows,
        "killed": host,
        "tries": [{"try": t[0], "host": t[1], "state": t[2]} for t in tries],
        "recovery_seconds": round(recovered, 1),
        "seconds": round(time.monotonic() - started, 1),
    }


def restarted_triggerer(env: ClusterEnvironment, count: int, sig: int = signal.SIGTERM) -> dict:
    """Scenario 4: ``count`` sensors wait while the triggerer is stopped (``sig``) and a new
    one started; then their objects arrive and every sensor fires once."""
    started = time.monotonic()
    label = signal.Signals(sig).name
    run_id, keys = _park_sensors(env, f"cluster-restart-{label.lower()}/", count)
    env.restart_triggerer(sig)
    client = env.cos_client()
    for key in keys:
        client.put_object(Bucket=env.bucket, Key=key, Body=b"1\n")
    problems, _ = _check_sensors(env, run_id, keys)
    return {
        "ok": not problems,
        "problems": problems,
        "sensors": count,
        "signal": label,
        "seconds": round(time.monotonic() - started, 1),
    }
