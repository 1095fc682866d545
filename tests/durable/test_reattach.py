"""Reattach after the worker died: a real ``airflow tasks test`` process waits for an ``Event``
invoke, is killed with SIGKILL, and a second one (the retry) reattaches to the recorded
invocation through Airflow's task state store. The emulator counts the invocations."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from scf_snova_devel.scf import delete_quietly, fast_hook

from airflow_scf_snova.operators.scf_durable import INVOCATION_KEY

pytestmark = [pytest.mark.slow, pytest.mark.emulator_only("counts the emulator's invocations")]

DAGS = Path(__file__).resolve().parent / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
#: Runs until the file ``event["path"]`` exists (the test releases it).
GATED = """
import os, time

def main_handler(event, context):
    print("waiting for the release", flush=True)
    while not os.path.exists(event["path"]):
        time.sleep(0.01)
    return {"released": True}
"""


class TaskProcess:
    """``airflow tasks test DAG TASK RUN_ID``, its output collected as it comes."""

    def __init__(
        self, env: dict[str, str], run_id: str, dag_id="durable_invoke", task_id="invoke"
    ) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [AIRFLOW, "tasks", "test", dag_id, task_id, run_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def finish(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(30)
        return code


def metadata_value(
    model_name: str, run_id: str, key: str, dag_id="durable_invoke", task_id="invoke"
):
    """The value of a task's ``key`` in the metadata database's ``model_name`` table
    (``TaskStateStoreModel`` or ``XComModel``), decoded; ``None`` when there is none."""
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    model = {"TaskStateStoreModel": TaskStateStoreModel, "XComModel": XComModel}[model_name]
    with create_session() as session:
        value = session.scalar(
            select(model.value).where(
                model.dag_id == dag_id,
                model.run_id == run_id,
                model.task_id == task_id,
                model.key == key,
            )
        )
    return json.loads(value) if isinstance(value, str) else value


def stored_invocation(run_id: str):
    """The invocation the task recorded in the task state store (``None``: none)."""
    return metadata_value("TaskStateStoreModel", run_id, INVOCATION_KEY)


@pytest.fixture
def gated_function(request, emulator, unique_name, tmp_path):
    """A function that runs until released; async-execution when parametrized with ``True``."""
    from airflow_scf_snova.scf.packaging import package_directory

    hook = fast_hook()
    name = unique_name("durable")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "index.py").write_text(GATED)
    code = hook.zip_code(package_directory(tmp_path / "code").data)
    async_run = getattr(request, "param", False)
    hook.create_function(
        name, code, "index.main_handler", "Python3.9", timeout=300, async_run=async_run
    )
    hook.wait_for_function_status(name, poll_interval=0.02)
    yield name
    delete_quietly(hook, name)


@pytest.fixture
def dag_run(airflow_db, emulator, gated_function, shared_dir, unique_name):
    """``(env, run_id, release)``: a DAG run of ``durable_invoke`` for the gated function."""
    release = shared_dir / "release"  # the function runs as another user
    env = task_env(
        DURABLE_FUNCTION=gated_function,
        DURABLE_EVENT=json.dumps({"path": str(release)}),
    )
    return env, trigger(env, "durable_invoke", unique_name("run")), release


def task_env(**variables: str) -> dict[str, str]:
    """The environment of the Airflow CLI processes: this directory's DAGs, and the metadata
    database this process reads (the one its Airflow settings point at)."""
    from airflow import settings

    return dict(
        os.environ,
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=str(settings.SQL_ALCHEMY_CONN),
        **variables,
    )


def trigger(env: dict[str, str], dag_id: str, run_id: str) -> str:
    """Create the DAG run ``run_id`` of ``dag_id`` (not started: the tests run its task), in
    the session's metadata database, brought to the CLI's migration head first."""
    commands = (
        ["db", "migrate"],
        ["dags", "reserialize"],
        ["dags", "trigger", dag_id, "-r", run_id],
    )
    for command in commands:
        done = subprocess.run([AIRFLOW, *command], env=env, capture_output=True, text=True)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return run_id


def killed_mid_wait(emulator, wait_for, env, run_id, function_name) -> dict:
    """Start the task, kill it with SIGKILL once it recorded its invocation and waits for it;
    returns the record."""
    first = TaskProcess(env, run_id)
    try:
        wait_for(
            lambda: stored_invocation(run_id) or first.proc.poll() is not None,
            120,
            what="the recorded invocation",
        )
        record = stored_invocation(run_id)
        assert record, first.text[-6000:]
    finally:
        first.proc.send_signal(signal.SIGKILL)
    assert first.finish() == -signal.SIGKILL
    [attempt] = emulator.control.invocations(function_name)  # still running
    assert attempt["request_id"] == record["request_id"], attempt
    return record


@pytest.mark.parametrize("run_ended", [False, True], ids=["still-running", "already-ended"])
def test_a_retry_after_sigkill_reattaches_to_the_invocation(
    emulator, wait_for, dag_run, gated_function, run_ended
):
    env, run_id, release = dag_run
    record = killed_mid_wait(emulator, wait_for, env, run_id, gated_function)
    assert record["function_name"] == gated_function and record["invoked_at"] > 0
    if run_ended:
        release.write_text("go")
        emulator.control.wait_for_invocations(1, gated_function, timeout=60)
    retry = TaskProcess(env, run_id)
    if not run_ended:
        wait_for(lambda: "Reconnecting to existing job" in retry.text, 120, what="the reattach")
        release.write_text("go")
    assert retry.finish() == 0, retry.text[-4000:]
    [attempt] = emulator.control.wait_for_invocations(1, gated_function, timeout=60)
    assert attempt["request_id"] == record["request_id"]
    assert len(emulator.control.invocations(gated_function)) == 1  # exactly one invocation
    expected = "skipping resubmission" if run_ended else "Reconnecting to existing job"
    assert expected in retry.text
    assert metadata_value("XComModel", run_id, "return_value") == {
        "released": True
    }  # the function's return value
    assert stored_invocation(run_id) is None  # forgotten once the task had its outcome


@pytest.mark.parametrize("gated_function", [True], indirect=True, ids=["async-run"])
def test_sigterm_of_a_reattached_try_terminates_the_async_event(
    emulator, wait_for, dag_run, gated_function
):
    """The retry reattaches to the running event of an async-execution function; Airflow's
    SIGTERM handler of the task process calls ``on_kill``, which terminates that event."""
    env, run_id, _ = dag_run
    record = killed_mid_wait(emulator, wait_for, env, run_id, gated_function)
    retry = TaskProcess(env, run_id)
    following = f"following event {record['request_id']}"
    wait_for(lambda: following in retry.text, 120, what="the reattached wait")
    retry.proc.send_signal(signal.SIGTERM)
    retry.finish()  # ``airflow tasks test`` exits 0 after a failed task too
    [attempt] = emulator.control.wait_for_invocations(1, gated_function, timeout=60)
    assert attempt["request_id"] == record["request_id"] and attempt["terminated"] is True
    assert "Reconnecting to existing job" in retry.text
    assert f"Terminated SCF async event {record['request_id']}" in retry.text
    assert "the async event was terminated (ABORTED)" in retry.text  # the task failed


def test_a_deploy_retried_after_sigkill_mid_wait_publishes_and_reports_the_creation(
    airflow_db, emulator, wait_for, unique_name, tmp_path
):
    """The first try created the function and was killed while waiting for it to become
    ``Active`` (before publishing); the retry sees an unchanged function, yet reports the
    creation and publishes the version, from what the first try recorded."""
    from scf_snova_devel.scf_api import ECHO

    from airflow_scf_snova.operators.scf_durable import DEPLOY_KEY

    hook = fast_hook()
    name = unique_name("durable-deploy")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "index.py").write_text(ECHO)
    env = task_env(
        DURABLE_FUNCTION=name,
        DURABLE_CODE_DIR=str(tmp_path / "code"),
    )
    run_id = trigger(env, "durable_deploy", unique_name("run"))
    delay = emulator.control.settings()["status_delay"]
    emulator.control.set_status_delay(10)  # the function stays Creating for 10 s
    try:
        first = TaskProcess(env, run_id, "durable_deploy", "deploy")
        try:
            record = wait_for(
                lambda: metadata_value(
                    "TaskStateStoreModel", run_id, DEPLOY_KEY, "durable_deploy", "deploy"
                ),
                120,
                what="the recorded deploy",
            )
        finally:
            first.proc.send_signal(signal.SIGKILL)
        assert first.finish() == -signal.SIGKILL
        assert (record["created"], record["version"]) == (True, None)
        assert hook.get_function_status(name) == "Creating"  # killed mid-wait
        retry = TaskProcess(env, run_id, "durable_deploy", "deploy")
        assert retry.finish() == 0, retry.text[-4000:]
    finally:
        emulator.control.set_status_delay(delay)
    result = metadata_value("XComModel", run_id, "return_value", "durable_deploy", "deploy")
    assert (result["created"], result["version"], result["status"]) == (True, "1", "Active")
    assert "an earlier try started" in retry.text
    assert hook.get_function(name, qualifier="1")["Status"] == "Active"  # the published version
    assert (
        metadata_value("TaskStateStoreModel", run_id, DEPLOY_KEY, "durable_deploy", "deploy")
        is None
    )
    delete_quietly(hook, name)
