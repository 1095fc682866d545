"""SCF helpers shared by the tests: a hook with fast retries, the example function deployed and
deleted.

Everything runs against an emulator (or SCF) through the real SDK: these helpers only deploy
the example function and clean up.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from airflow_scf_snova.exceptions import ResourceNotFoundError
from airflow_scf_snova.hooks.scf import SCFHook
from airflow_scf_snova.scf.packaging import package_directory

#: The repository root (this package is installed in development mode from ``devel/``).
ROOT = Path(__file__).resolve().parents[2]
ECHO_DIR = ROOT / "functions" / "examples" / "echo"


def fast_hook(**kwargs) -> SCFHook:
    """An SCFHook with millisecond retry backoff (the emulator answers at once)."""
    kwargs.setdefault("retry_delay", 0.01)
    kwargs.setdefault("max_retry_delay", 0.05)
    return SCFHook(**kwargs)


def deploy_echo(
    hook: SCFHook, name: str, timeout: int = 3, environment: dict | None = None
) -> dict:
    """Create the echo function and wait until it is Active; returns GetFunction."""
    package = package_directory(ECHO_DIR)
    hook.create_function(
        name,
        hook.zip_code(package.data),
        handler="index.main_handler",
        runtime="Python3.9",
        timeout=timeout,
        environment=environment,
    )
    return hook.wait_for_function_status(name, poll_interval=0.02)


def delete_quietly(hook: SCFHook, name: str) -> None:
    """Delete a test's function (waiting out a pending change first); missing is fine."""
    settled = ("Active", "CreateFailed", "UpdateFailed", "PublishFailed")
    with contextlib.suppress(ResourceNotFoundError):
        hook.wait_for_function_status(name, settled, poll_interval=0.02, timeout=30)
        hook.delete_function(name)
        hook.wait_for_function_deleted(name, poll_interval=0.02, timeout=30)
