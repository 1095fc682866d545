"""``airflow standalone`` set up for the COS-to-asset bridge, shared by
``tests/system/test_cos_push_bridge.py`` and ``bench/push_latency.py``.

:func:`push_stack` starts ``ui_stack.AirflowStandalone`` with only the given DAG files, the
simple auth manager's users ``admin`` and ``scf_bridge`` (role ``op``: the least the simple auth
manager allows for creating asset events, see ``docs/push.md``) with passwords chosen up front,
and the ``airflow_api`` connection for the bridge. The other helpers read and drive it through
the public REST API.
"""

from __future__ import annotations

import json
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ui.ui_stack import AirflowStandalone, wait_for

BRIDGE_USER = "scf_bridge"


@contextmanager
def push_stack(
    work: Path,
    metadata_uri: str,
    dag_files: Iterable[Path],
    env: dict[str, str],
    dag_ids: Iterable[str] = (),
):
    """Yield ``(stack, passwords)``: a started standalone, stopped on exit.

    :param work: an empty directory for the home, the DAGs folder and the log.
    :param metadata_uri: a SQLAlchemy URI of an empty PostgreSQL database.
    :param dag_files: the only DAG files it parses.
    :param env: more environment (connections, the DAGs' settings).
    :param dag_ids: DAGs that must be parsed before it is yielded.
    """
    dags = work / "dags"
    dags.mkdir(parents=True)
    for path in dag_files:
        shutil.copy(path, dags)
    home = work / "airflow"
    home.mkdir()
    passwords = {"admin": secrets.token_urlsafe(12), BRIDGE_USER: secrets.token_urlsafe(12)}
    # The simple auth manager keeps passwords found in this file and generates the others.
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps(passwords))
    stack = AirflowStandalone(
        home=home, metadata_uri=metadata_uri, extra_env={}, log_path=work / "standalone.log"
    )
    stack.env.update(env)
    stack.env.update(
        {
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{BRIDGE_USER}:op",
            # Asset-triggered runs are created in the scheduler's DAG-run creation step.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
            "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": stack.base_url,
                    "login": BRIDGE_USER,
                    "password": passwords[BRIDGE_USER],
                }
            ),
        }
    )
    try:
        stack.start(dag_ids=dag_ids)
        yield stack, passwords
    finally:
        stack.stop()


def wait(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2):
    """:func:`ui.ui_stack.wait_for`, polling every 0.2 s by default (latencies are measured)."""
    return wait_for(predicate, timeout, what, interval)


def polled(read: Callable[[], object]) -> Callable[[], object]:
    """``read`` as a wait predicate: a request that timed out (a busy api-server on a loaded
    machine) counts as "not yet" rather than failing the wait."""

    def predicate():
        try:
            return read()
        except urllib.error.HTTPError:
            raise
        except OSError:
            return None

    return predicate


def unpause(stack: AirflowStandalone, token: str, dag_id: str) -> None:
    request = urllib.request.Request(
        f"{stack.base_url}/api/v2/dags/{dag_id}",
        data=json.dumps({"is_paused": False}).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30):
        pass


def runs(stack: AirflowStandalone, token: str, dag_id: str) -> list[dict]:
    return stack.api_get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100", token)["dag_runs"]


def run_to_completion(stack: AirflowStandalone, token: str, dag_id: str, timeout: float = 300):
    """Unpause ``dag_id``, trigger it and return its finished run."""
    unpause(stack, token, dag_id)
    run_id = stack.api_post(f"/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": None})[
        "dag_run_id"
    ]

    def finished():
        run = stack.api_get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", token)
        return run if run["state"] in ("success", "failed") else None

    return wait(polled(finished), timeout, f"the run of {dag_id}", interval=1)


def asset_id(stack: AirflowStandalone, token: str, uri: str, timeout: float = 120) -> int:
    """The id of the asset ``uri``, once the DAG processor has written it."""

    def found():
        query = urllib.parse.urlencode({"only_active": "false", "limit": 100})
        assets = stack.api_get(f"/api/v2/assets?{query}", token)["assets"]
        return [a["id"] for a in assets if a["uri"] == uri]

    try:
        return wait(polled(found), timeout, f"the asset {uri}", interval=1)[0]
    except TimeoutError as err:
        query = urllib.parse.urlencode({"only_active": "false", "limit": 100})
        assets = stack.api_get(f"/api/v2/assets?{query}", token)["assets"]
        raise LookupError(f"{err}: {[a['uri'] for a in assets]}") from err


def asset_events(stack: AirflowStandalone, token: str, asset: int) -> list[dict]:
    query = urllib.parse.urlencode({"asset_id": asset, "limit": 100, "order_by": "timestamp"})
    return stack.api_get(f"/api/v2/assets/events?{query}", token)["asset_events"]


def epoch(value: str) -> float:
    """Epoch seconds of an API timestamp."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
