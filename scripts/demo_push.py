"""``make demo-ui``'s push part: the COS-to-asset bridge (docs/push.md).

Before ``airflow standalone`` starts, :func:`prepare` adds the bridge's Airflow user
``scf_bridge`` (simple auth manager role ``op``) with a password of its own in the generated
passwords file, and the ``airflow_api`` connection that carries it. Once the UI answers,
:func:`deploy` waits for the DAG processor to store ``cos_push_bridge_deploy`` and
``cos_push_import``, unpauses both, triggers the deploy through the REST API and waits for it:
from then on, each ``.log`` uploaded under ``snova-push/`` starts a ``cos_push_import`` run
about a second later, without listing the bucket.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any

from demo_env import REPO, DemoEnvironment, DemoError, wait_until

BRIDGE_USER = "scf_bridge"
PUSH_PREFIX = "snova-push/"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
DAGS = ("cos_push_bridge_deploy", "cos_push_import")


def prepare(env: DemoEnvironment, url: str) -> None:
    """The push DAG file in the demo's DAG folder, the bridge's user and its connection (before
    standalone)."""
    link = env.dags_folder / "cos_push_import.py"
    if not link.is_symlink():
        link.symlink_to(REPO / "dags" / "cos_push_import.py")
    path = env.airflow_home / PASSWORDS_FILE
    text = path.read_text() if path.exists() else ""
    passwords = json.loads(text) if text.strip() else {}
    # The simple auth manager keeps the passwords it finds here and generates the missing ones.
    passwords.setdefault(BRIDGE_USER, secrets.token_urlsafe(12))
    path.write_text(json.dumps(passwords))
    env.env.update(
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"admin:admin,{BRIDGE_USER}:op",
            "SNOVA_PUSH_PREFIX": PUSH_PREFIX,
            "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": url,
                    "login": BRIDGE_USER,
                    "password": passwords[BRIDGE_USER],
                }
            ),
        }
    )


def _api(
    url: str, path: str, token: str | None = None, body: Any = None, method: str | None = None
) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}{path}", data=data, headers=headers, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def deploy(env: DemoEnvironment, url: str, logins: dict[str, str]) -> None:
    """Run ``cos_push_bridge_deploy`` in the standalone and wait for it.

    :raises DemoError: the deploy failed.
    """
    login = {"username": "admin", "password": logins["admin"]}
    token = _api(url, "/auth/token", body=login)["access_token"]

    def parsed(dag_id: str) -> bool:
        try:
            return bool(_api(url, f"/api/v2/dags/{dag_id}", token))
        except urllib.error.HTTPError as err:
            if err.code == 404:  # the DAG processor has not stored it yet
                return False
            raise

    for dag_id in DAGS:  # new DAGs are paused: unpause them once the DAG processor has them
        wait_until(
            lambda dag_id=dag_id: parsed(dag_id), f"{dag_id} to be parsed", timeout=300, interval=1
        )
        _api(url, f"/api/v2/dags/{dag_id}", token, {"is_paused": False}, method="PATCH")
    env.log("  deploying the COS-to-asset bridge (cos_push_bridge_deploy)...")
    run = _api(url, "/api/v2/dags/cos_push_bridge_deploy/dagRuns", token, {"logical_date": None})[
        "dag_run_id"
    ]

    def finished():
        state = _api(url, f"/api/v2/dags/cos_push_bridge_deploy/dagRuns/{run}", token)["state"]
        return state if state in ("success", "failed") else None

    if wait_until(finished, "the bridge's deploy", timeout=600, interval=1) != "success":
        raise DemoError("cos_push_bridge_deploy failed: see its log in the UI")


def hints(env: DemoEnvironment) -> None:
    env.log("  cos_push_import is unpaused and the bridge deployed: an upload under snova-push/")
    env.log("  starts a run about a second later (pushed by SCF, no listing):")
    env.log(f"    .venv/bin/python scripts/demo.py --put {PUSH_PREFIX}2024-06-04/app-01.log")
