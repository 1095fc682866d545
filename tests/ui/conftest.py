"""Fixtures of the browser tests (``make test-ui``): the demo stack under ``airflow standalone``,
started once per session and always stopped, and Debian's Chromium driven by Playwright.

The tests run only with ``AIRFLOW_UI_TEST=1`` (set by ``tests/ui/run.sh``); ``make test`` skips
them. Screenshots, the downloaded logs, Airflow's output and, for a failed test, a Playwright
trace go to ``test-artifacts/ui/`` (git-ignored).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from ui.ui_stack import ROOT, AirflowStandalone

ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SEED_DAGS = ("cos_to_snova_import", "snova_timer_query")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def _sigterm_runs_teardown():
    """A SIGTERM (CI cancelling the job) interrupts like Ctrl-C, so that the session fixtures'
    teardown still stops Airflow, PostgreSQL and the emulator."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def demo():
    """The demo's PostgreSQL, emulator and sample files (see ``ui_demo.py``)."""
    from ui.ui_demo import DemoBackends

    with DemoBackends() as setup:
        yield setup


@pytest.fixture(scope="session")
def airflow(demo, artifacts):
    """``airflow standalone`` on the demo setup, healthy and with the seed DAGs parsed."""
    stack = AirflowStandalone(
        home=demo.airflow_home,
        metadata_uri=demo.metadata_uri,
        extra_env=demo.airflow_env,
        log_path=artifacts / "airflow-standalone.log",
    )
    try:
        stack.start(dag_ids=SEED_DAGS)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright
    from ui.ui_browser import CHROMIUM_ARGS, TIMEOUT_MS

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def signed_in(browser, airflow, artifacts):
    """Cookies of an ``admin`` session, signed in once through the login form."""
    from ui.ui_browser import traced_page
    from ui.ui_pages import log_in

    with traced_page(browser, None, artifacts, "login") as page:
        log_in(page, airflow.base_url, "admin", airflow.admin_password)
        state = page.context.storage_state()
    return state


@pytest.fixture(scope="session", autouse=True)
def import_triggered(request, browser, signed_in, airflow, artifacts):
    """``cos_to_snova_import`` triggered from the UI as soon as the stack is up, when the DAG-run
    tests are selected: it runs while the connection-form tests do (a minute saved on two busy
    cores); ``test_dag_runs.py`` waits for it to finish. A failure to trigger it is returned,
    not raised, so that only the tests needing the run fail on it."""
    if not any("import_run" in item.fixturenames for item in request.session.items):
        return None
    from ui.ui_browser import traced_page
    from ui.ui_pages import start_run

    try:
        with traced_page(browser, signed_in, artifacts, "cos_to_snova_import_trigger") as page:
            return start_run(page, airflow.base_url, "cos_to_snova_import")
    except Exception as err:  # reported by the tests that need the run
        return err


@pytest.fixture
def page(request, browser, signed_in, artifacts):
    """A signed-in page in a fresh browser context; if the test fails, its screenshot and trace
    are saved as ``<test>-failed.png`` / ``<test>-trace.zip``."""
    from ui.ui_browser import close_context, new_context

    context = new_context(browser, storage_state=signed_in)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    close_context(context, artifacts, request.node.name, report is None or report.failed)


@pytest.fixture
def shot(page, artifacts):
    """``shot("ui_name")`` saves the page as ``test-artifacts/ui/ui_name.png``; ``element=``
    saves one element instead, ``down_to=`` only the page down to that element's bottom."""

    def save(name: str, element=None, down_to=None) -> Path:
        path = artifacts / f"{name}.png"
        if element is not None:
            element.screenshot(path=str(path))
        elif down_to is not None:
            box = down_to.bounding_box()
            width = page.viewport_size["width"]
            page.screenshot(
                path=str(path),
                clip={"x": 0, "y": 0, "width": width, "height": box["y"] + box["height"] + 16},
            )
        else:
            page.screenshot(path=str(path))
        return path

    return save
