"""The seed DAGs run from the UI: ``cos_to_snova_import``'s load log, ``snova_timer_query``'s
console links.

``cos_to_snova_import`` runs first (triggered as soon as the stack is up, see
``conftest.import_triggered``): it creates ``t1`` and the least-privilege role that
``snova_timer_query``'s function logs in as.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

if os.environ.get("AIRFLOW_UI_TEST") != "1":
    pytest.skip("browser tests: run them with `make test-ui`", allow_module_level=True)

from playwright.sync_api import expect
from ui.ui_browser import traced_page
from ui.ui_pages import (
    TriggeredRun,
    download_log,
    finish_run,
    log_viewer,
    open_tab,
    open_task_instance,
    start_run,
)

#: The first test also waits for the session's stack (a few minutes on a busy machine).
pytestmark = pytest.mark.timeout(600)

#: Seconds a triggered run may take on a busy 2-core machine (typically 40-90 s).
RUN_TIMEOUT_S = 240
#: The Tencent Cloud console's numeric region ids (``rid``), as its own links use them.
CONSOLE_REGION_IDS = {"ap-guangzhou": "1", "ap-shanghai": "4", "ap-beijing": "8"}


def assert_no_secret(text: str, secrets_: list[str], where: str) -> None:
    leaked = [index for index, secret in enumerate(secrets_) if secret in text]
    assert not leaked, f"secret(s) #{leaked} of the demo appear in {where}"


def finish(page, run: TriggeredRun, screenshot: Path) -> TriggeredRun:
    """Wait for ``run`` on its page, screenshot it, and require every task to have succeeded."""
    state, states = finish_run(page, run, RUN_TIMEOUT_S)
    page.screenshot(path=str(screenshot))
    assert state == "Success", f"{run.dag_id} run {run.run_id} ended {state}: {states}"
    assert states and set(states.values()) == {"Success"}, states
    return run


@pytest.fixture(scope="module")
def import_run(import_triggered, browser, signed_in, artifacts) -> TriggeredRun:
    """``cos_to_snova_import``, triggered from its DAG page at the start of the session (see
    ``conftest.import_triggered``), finished successfully."""
    if isinstance(import_triggered, Exception):
        pytest.fail(f"triggering cos_to_snova_import from the UI failed: {import_triggered}")
    with traced_page(browser, signed_in, artifacts, "cos_to_snova_import_run") as page:
        return finish(page, import_triggered, artifacts / "ui_cos_to_snova_import_run.png")


def test_import_load_log_shows_each_object_and_no_secret(page, import_run, demo, shot, artifacts):
    assert import_run.params["bucket"] == demo.bucket  # the DAG's default, from the demo's env
    page.goto(import_run.url)
    open_task_instance(page, "load_into_t1")
    viewer = log_viewer(page)
    total = sum(demo.seed_rows.values())
    expect(viewer).to_contain_text(f"{len(demo.seed_rows)} object(s) loaded ({total} rows")
    for key, rows in demo.seed_rows.items():
        # The object's own line (the batch's summary line names every object too).
        line = viewer.get_by_text(
            f"Loaded {rows} row(s) (0 rejected) from cos://{demo.bucket}/{key}"
        )
        expect(line).to_be_visible()
    shot("ui_load_task_log", down_to=viewer)

    full_log = download_log(page)
    (artifacts / "load_into_t1.log").write_text(full_log)
    for key in demo.seed_rows:
        assert f"cos://{demo.bucket}/{key}" in full_log
    for decoy in demo.decoys:
        assert decoy not in full_log
    assert_no_secret(full_log, demo.secrets, "the load task's log")
    assert_no_secret(page.content(), demo.secrets, "the load task's log page")


def test_timer_query_invoke_task_links_to_the_scf_console(
    page, import_run, airflow, demo, shot, artifacts
):
    run = start_run(page, airflow.base_url, "snova_timer_query")
    finish(page, run, artifacts / "ui_snova_timer_query_run.png")
    function_name = run.params["function_name"]

    # The deploy task renders the function's DB_PASSWORD from a connection: masked on screen.
    open_task_instance(page, "deploy_query_function")
    open_tab(page, "Rendered Templates")
    expect(page.get_by_text('"DB_PASSWORD"')).to_be_visible()
    expect(page.get_by_text('"DB_USER"')).to_be_visible()
    assert_no_secret(page.content(), demo.secrets, "the deploy task's rendered templates")

    page.get_by_role("link", name=run.run_id, exact=True).click()  # the breadcrumb
    open_task_instance(page, "invoke_query_function")
    expect(log_viewer(page)).to_contain_text(f"Invoking SCF function {function_name}")
    assert_no_secret(download_log(page), demo.secrets, "the invoke task's log")
    open_tab(page, "Details")
    expect(page.get_by_text("Extra Links", exact=True)).to_be_visible()

    expected_query = {
        "rid": [CONSOLE_REGION_IDS[demo.region]],
        "ns": ["default"],
        "id": [function_name],
        "tab": ["codeTab"],
    }
    links = {
        "SCF Function": expected_query,
        "SCF Invocation Logs": {**expected_query, "menu": ["log"]},
    }
    for name, query in links.items():
        link = page.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        url = urlsplit(link.get_attribute("href"))
        assert (url.scheme, url.netloc, url.path) == (
            "https",
            "console.cloud.tencent.com",
            "/scf/list-detail",
        )
        assert parse_qs(url.query) == query, url.query
    shot("ui_scf_console_links")

    # Clicking opens the console in a new tab (answered by the local stub: no network).
    link = page.get_by_role("link", name="SCF Function", exact=True)
    with page.context.expect_page() as new_tab:
        link.click()
    console = new_tab.value
    console.wait_for_load_state()
    assert console.url == link.get_attribute("href")
    assert console.url in page.context.blocked
