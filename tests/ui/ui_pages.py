"""How the browser tests find things in the Airflow 3 UI (React + Chakra), in one place.

Locators follow what a user sees (roles, labels, visible text); a ``data-testid`` is used only
where the UI offers nothing else (state badges, the log viewer). Every wait is Playwright's own
auto-wait on a page condition.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page, expect

#: Run and task states as the UI's badges spell them.
FINISHED_RUN_STATES = re.compile(r"^\s*(Success|Failed)\s*$")


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Sign in through the login form and land on the home page."""
    page.goto(f"{base_url}/")
    expect(page.get_by_text("Sign into Airflow")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")
    expect(page.get_by_role("button", name="Admin")).to_be_visible()


# -- connections -----------------------------------------------------------------------------
def form_row(scope: Locator, label: str) -> Locator:
    """The form row (field group) labelled exactly ``label`` (``*`` of required rows ignored).

    Rows are matched as label + input in one field group because the UI's labels of extra
    fields point (``for=``) at ids that are not their inputs' ids.
    """
    pattern = re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$")
    label_element = scope.page.locator("label").filter(has_text=pattern)
    return scope.get_by_role("group").filter(has=label_element)


def form_field(scope: Locator, label: str) -> Locator:
    """The input of the form row labelled exactly ``label``."""
    return form_row(scope, label).locator("input, textarea")


def form_labels(scope: Locator) -> list[str]:
    """The labels of the visible form rows, in order."""
    return [
        text.strip().rstrip("*").strip()
        for text in scope.locator("label:visible").all_inner_texts()
    ]


def open_add_connection(page: Page, base_url: str, conn_id: str, type_name: str) -> Locator:
    """Open "Add Connection", enter ``conn_id`` and pick ``type_name``; returns the dialog."""
    page.goto(f"{base_url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add Connection")).to_be_visible()
    dialog.get_by_label("Connection ID").fill(conn_id)
    type_input = dialog.get_by_label("Connection Type")
    type_input.click()
    type_input.fill(type_name)
    page.get_by_role("option", name=type_name, exact=True).click()
    expect(dialog.get_by_role("button", name="Standard Fields")).to_be_visible()
    return dialog


def open_section(dialog: Locator, name: str) -> None:
    """Expand an accordion section of the connection form ("Standard Fields", "Extra Fields")."""
    trigger = dialog.get_by_role("button", name=name, exact=True)
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()
    expect(trigger).to_have_attribute("aria-expanded", "true")


def save_dialog(dialog: Locator) -> None:
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()


def connection_row(page: Page, conn_id: str) -> Locator:
    cell = page.get_by_role("cell", name=conn_id, exact=True)
    return page.get_by_role("row").filter(has=cell)


def open_edit_connection(page: Page, base_url: str, conn_id: str) -> Locator:
    page.goto(f"{base_url}/connections")
    connection_row(page, conn_id).get_by_role("button", name="Edit Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Edit Connection")).to_be_visible()
    expect(dialog.get_by_label("Connection ID")).to_have_value(conn_id)
    return dialog


def click_test_connection(page: Page, conn_id: str) -> str:
    """Click the row's "Test Connection" button; returns the text of the toast it raises."""
    toast = page.get_by_role("status").filter(
        has_text=re.compile(r"Test Connection (Successful|Failed)")
    )
    expect(toast).to_have_count(0)  # not the toast of an earlier test
    connection_row(page, conn_id).get_by_role("button", name="Test Connection").click()
    expect(toast).to_be_visible()
    return toast.inner_text()


# -- DAG runs --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TriggeredRun:
    """A DAG run triggered from the UI."""

    dag_id: str
    run_id: str
    #: The run parameters the trigger form showed (the DAG's defaults).
    params: dict[str, str]
    #: The run's page.
    url: str


def start_run(page: Page, base_url: str, dag_id: str) -> TriggeredRun:
    """Trigger ``dag_id`` from its page under a fresh run id (see :func:`trigger_dag`)."""
    run_id = f"ui_{dag_id}_{secrets.token_hex(3)}"
    params = trigger_dag(page, base_url, dag_id, run_id)
    return TriggeredRun(dag_id, run_id, params, page.url)


def finish_run(page: Page, run: TriggeredRun, timeout_s: float) -> tuple[str, dict[str, str]]:
    """Wait on the run's page until it finishes; its state and its tasks' states."""
    if page.url != run.url:
        page.goto(run.url)
    state = wait_for_run(page, run.run_id, timeout_s)
    return state, task_states(page)


def trigger_dag(page: Page, base_url: str, dag_id: str, run_id: str) -> dict[str, str]:
    """Trigger ``dag_id`` from its page as run ``run_id`` (unpausing it: the dialog's default);
    returns the run parameters the form showed; leaves the browser on the run's page."""
    page.goto(f"{base_url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=f"Trigger Dag - {dag_id}")).to_be_visible()
    expect(dialog.get_by_role("button", name="Advanced Options")).to_be_visible()
    unpause = dialog.get_by_label(f"Unpause {dag_id} on trigger")
    if unpause.count():  # offered while the DAG is paused (new DAGs are)
        expect(unpause).to_be_checked()
    params = {}
    for field in dialog.locator("input[name^='element_']").all():
        params[field.get_attribute("name").removeprefix("element_")] = field.input_value()
    dialog.get_by_role("button", name="Advanced Options").click()
    dialog.get_by_label("Run ID").fill(run_id)
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    expect(dialog).to_be_hidden()
    page.wait_for_url(re.compile(rf"/dags/{re.escape(dag_id)}/runs/{re.escape(run_id)}$"))
    return params


def run_state_badge(page: Page, run_id: str) -> Locator:
    """The state badge next to the run id in the run page's header."""
    return page.locator(
        f"xpath=//h2[normalize-space()='{run_id}']"
        "/following-sibling::span[@data-testid='state-badge'][1]"
    )


def wait_for_run(page: Page, run_id: str, timeout_s: float) -> str:
    """Wait, on the run's page (which refreshes itself), for the run to finish; its state."""
    badge = run_state_badge(page, run_id)
    expect(badge).to_have_text(FINISHED_RUN_STATES, timeout=timeout_s * 1000)
    return badge.inner_text().strip()


def task_states(page: Page) -> dict[str, str]:
    """Task id -> state, from the run page's task-instance table, once the table (which
    refreshes on its own schedule) shows no unfinished task."""
    unfinished = page.get_by_test_id("table-cell-state").filter(
        has_text=re.compile(r"Running|Queued|Scheduled|Deferred|Up For Retry|Restarting")
    )
    expect(unfinished).to_have_count(0)
    states = {}
    for row in page.get_by_role("row").filter(has=page.get_by_test_id("table-cell-state")).all():
        task = row.locator("a[href*='/tasks/']").first.inner_text().strip()
        states[task] = row.get_by_test_id("table-cell-state").inner_text().strip()
    return states


def open_task_instance(page: Page, task_id: str) -> None:
    """From the run page, open one task instance (its Logs tab)."""
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=task_id, exact=True))
    row.get_by_role("link", name=task_id, exact=True).click()
    page.wait_for_url(re.compile(rf"/tasks/{re.escape(task_id)}$"))
    expect(page.get_by_role("heading", name=task_id)).to_be_visible()


def open_tab(page: Page, name: str) -> None:
    """Open a tab of a task-instance page ("Rendered Templates", "Details", ...): the tabs are
    links to sub-paths such as ``.../tasks/<task_id>/rendered_templates``."""
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_url(re.compile(rf"/{name.lower().replace(' ', '_')}$"))


def log_viewer(page: Page) -> Locator:
    return page.get_by_test_id("virtualized-list")


def download_log(page: Page) -> str:
    """The task's full log as the UI's download button delivers it."""
    with page.expect_download() as info:
        page.get_by_test_id("download-logs-button").click()
    return info.value.path().read_text(errors="replace")


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
