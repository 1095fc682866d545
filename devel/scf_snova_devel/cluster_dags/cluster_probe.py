"""The cluster's probe DAG: one task pinned to each worker's own queue, then ``fan`` trivial tasks
on the shared queue (the cost of a task start on a Celery worker)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

with DAG(
    dag_id="cluster_probe",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=64,
    params={"fan": 1},
) as dag:

    @task(queue="worker-a")
    def on_a() -> str:
        return "a"

    @task(queue="worker-b")
    def on_b() -> str:
        return "b"

    @task
    def fan_out(params=None) -> list[int]:
        return list(range(int(params["fan"])))

    @task
    def noop(n: int) -> int:
        return n

    on_a()
    on_b()
    noop.expand(n=fan_out())
