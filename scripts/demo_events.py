"""Run an asset-watched DAG (``cos_event_import``) offline, without a triggerer or a scheduler.

``dag.test()`` cannot hand asset events to a run, and starting the triggerer, the scheduler
and the API server takes longer than the whole demo. So this module plays their parts, with
Airflow's own code wherever there is one:

1. :class:`WatcherHarness` runs the DAG's real ``AssetWatcher`` trigger (its
   ``COSObjectEventTrigger``, rebuilt from its serialized arguments with a short
   ``poll_interval``) on an event loop in a thread, exactly as the triggerer would: the first
   listing records what exists (the baseline), later listings yield one event per new object;
2. :func:`test_with_asset_events` runs the DAG with ``dag.test()``, registering each event as an
   asset event with ``AssetManager.register_asset_change`` (the call the triggerer's
   ``Trigger.submit_event`` makes) and attaching them to the run as its consumed events (what
   the scheduler does when it creates an asset-triggered run), so the tasks see them in
   ``triggering_asset_events``.

The real event-driven path, with a real triggerer and scheduler, is what ``make demo-ui`` shows.

``scripts/demo_runner.py`` (the demo's one Airflow interpreter) calls :func:`watch_and_run`; the
command line does the same in a process of its own and prints one JSON line::

    python scripts/demo_events.py --dag-file dags/cos_event_import.py \
        --upload snova/a.log=/path/a.log [--upload ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


class _StateStore:
    """A stand-in for the asset state store that the Airflow 3.3 triggerer injects as
    ``trigger.asset_state_store``: the trigger saves its watermark here after each listing, which
    also tells us when the first listing (the baseline) is done."""

    def __init__(self) -> None:
        self.value: Any = None
        self.saved = threading.Event()

    async def aget(self, key: str) -> Any:
        return self.value

    async def aset(self, key: str, value: Any) -> None:
        self.value = value
        self.saved.set()


class WatcherHarness(AbstractContextManager):
    """Run an ``AssetWatcher``'s trigger in a background event loop and collect its events.

    :param trigger: the watcher's trigger (``asset.watchers[0].trigger``).
    :param poll_interval: seconds between listings (overrides the DAG's).
    :param settle_seconds: the trigger's ``settle_seconds`` (the emulator lists an object the
        moment it is written, so no settling time is needed).
    :param start_timeout: seconds to wait for the baseline listing.
    """

    def __init__(
        self,
        trigger: Any,
        poll_interval: float = 0.5,
        settle_seconds: float = 0.0,
        start_timeout: float = 60.0,
    ) -> None:
        _, kwargs = trigger.serialize()
        kwargs.update(poll_interval=poll_interval, settle_seconds=settle_seconds)
        self.trigger = type(trigger)(**kwargs)
        self.store = _StateStore()
        self.trigger.asset_state_store = self.store
        self.start_timeout = start_timeout
        self.payloads: list[dict] = []
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cos-watcher", daemon=True)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._task = self._loop.create_task(self._consume())
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as err:  # surfaced by wait_for
            self._error = err
        finally:
            self._loop.close()
            with self._changed:
                self._changed.notify_all()

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            with self._changed:
                self.payloads.append(event.payload)
                self._changed.notify_all()

    def __enter__(self) -> WatcherHarness:
        self._thread.start()
        if not self.store.saved.wait(self.start_timeout):
            self.__exit__(None, None, None)
            raise TimeoutError("the COS watcher did not finish its first listing")
        return self

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict]:
        """Block until ``count`` events arrived (or ``timeout``); returns the payloads so far."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.payloads) < count and self._error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    break
                self._changed.wait(remaining)
            if self._error is not None:
                raise RuntimeError(f"the COS watcher failed: {self._error}") from self._error
            return list(self.payloads)

    def __exit__(self, *exc: Any) -> None:
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._task.cancel)
            except RuntimeError:  # the loop closed in the meantime
                pass
        self._thread.join(30)


def test_with_asset_events(dag: Any, asset: Any, payloads: list[dict], **test_kwargs: Any):
    """``dag.test()`` for a run that consumes one asset event per payload.

    Each payload is registered like the triggerer registers a watcher's event
    (``AssetManager.register_asset_change`` with ``{"from_trigger": True, "payload": ...}``), then
    attached to the run as the scheduler attaches queued events to an asset-triggered run, and
    the run is marked asset-triggered with ``run_after`` after its events (so that a real
    scheduler later does not hand these events to another run); the DAG's asset queue is
    emptied, as the scheduler does once it created the run.

    :param dag: the DAG (scheduled on ``asset``).
    :param asset: the watched asset.
    :param payloads: the trigger events' payloads.
    :param test_kwargs: passed on to ``dag.test()``.
    :returns: the finished DagRun.
    """
    from unittest import mock

    import airflow.models.dagrun as dagrun_module
    from airflow.assets.manager import AssetManager
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import delete, select

    original = dagrun_module.get_or_create_dagrun

    def create_run_with_events(**kwargs: Any):
        run = original(**kwargs)
        session = kwargs["session"]
        model = session.scalar(
            select(AssetModel).where(AssetModel.name == asset.name, AssetModel.uri == asset.uri)
        )
        if model is None:
            raise RuntimeError(f"asset {asset.uri} is not in the metadata database")
        events = [
            AssetManager.register_asset_change(
                asset=model, extra={"from_trigger": True, "payload": payload}, session=session
            )
            for payload in payloads
        ]
        run.consumed_asset_events.extend(e for e in events if e is not None)
        # Mark it as the scheduler would mark it; a real asset-triggered run that follows only
        # consumes events newer than this run's run_after (not these ones again).
        run.run_type = DagRunType.ASSET_TRIGGERED
        run.triggered_by = DagRunTriggeredByType.ASSET
        run.run_after = datetime.now(timezone.utc)
        queued = AssetDagRunQueue.target_dag_id == dag.dag_id
        session.execute(delete(AssetDagRunQueue).where(queued))
        session.commit()
        return run

    # dag.test() has no way to give a run asset events (Airflow 3.3): wrap the one function it
    # uses to create the run, so the run it then executes is the one holding the events.
    with mock.patch.object(dagrun_module, "get_or_create_dagrun", create_run_with_events):
        return dag.test(**test_kwargs)


def xcoms(run_id: str, dag_id: str) -> dict[tuple[str, str], Any]:
    """The XComs of a run, ``(task_id, key) -> value``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        return {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}


def load_dag(dag_file: Path, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file))
    if dag_id not in bag.dags:
        raise SystemExit(f"{dag_id} not found in {dag_file}: {bag.import_errors}")
    return bag.dags[dag_id]


def watched_asset(dag: Any):
    """The single watched asset a DAG is scheduled on."""
    assets = [a for a in dag.timetable.asset_condition.objects if getattr(a, "watchers", None)]
    if len(assets) != 1:
        raise SystemExit(f"{dag.dag_id} is not scheduled on exactly one watched asset")
    return assets[0]


def prepare_dag_test() -> None:
    """Build what ``dag.test()`` builds before its first task (the in-process execution API,
    cached by Airflow for the process), so that the first run does not wait for it."""
    import httpx
    from airflow.sdk.execution_time.supervisor import in_process_api_server

    api = in_process_api_server()
    # The first request starts the app (several seconds); the client is left open on purpose:
    # closing it would close the transport that dag.test() reuses.
    httpx.Client(transport=api.transport, base_url="http://in-process.invalid").get("/health")


def watch_and_run(
    dag: Any,
    uploads: list[tuple[str, str]],
    timeout: float = 30.0,
    task_id: str = "load_new_objects",
) -> dict[str, Any]:
    """Watch the DAG's asset, upload files once the baseline listing is done, then run the DAG on
    the events the watcher emitted.

    :param dag: an asset-watched DAG (``cos_event_import``).
    :param uploads: ``(key, local path)`` of the files to upload into the watched bucket.
    :param timeout: seconds to wait for one event per upload.
    :param task_id: the task whose return value is reported.
    :returns: ``dag_id``, ``run_id``, ``state``, ``events`` (the keys) and ``results`` (the
        task's return value).
    """
    from airflow_scf_snova.hooks.cos import COSHook

    asset = watched_asset(dag)
    trigger = asset.watchers[0].trigger
    with WatcherHarness(trigger) as watcher:
        hook = COSHook()
        for key, path in uploads:
            hook.upload_file(trigger.bucket, key, path)
        payloads = watcher.wait_for(len(uploads), timeout=timeout)
    run = test_with_asset_events(dag, asset, payloads)
    values = xcoms(run.run_id, dag.dag_id)
    return {
        "dag_id": dag.dag_id,
        "run_id": run.run_id,
        "state": str(run.state),
        "events": [p["key"] for p in payloads],
        "results": values.get((task_id, "return_value")) or [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-file", type=Path, required=True)
    parser.add_argument("--dag-id", default="cos_event_import")
    parser.add_argument("--task-id", default="load_new_objects", help="whose XCom to report")
    parser.add_argument(
        "--upload", action="append", default=[], metavar="KEY=FILE", help="upload after baseline"
    )
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    dag = load_dag(args.dag_file, args.dag_id)
    uploads = [tuple(item.split("=", 1)) for item in args.upload]
    result = watch_and_run(dag, uploads, timeout=args.timeout, task_id=args.task_id)
    print(json.dumps(result, default=str))
    return 0 if result["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
