"""Browser contexts for the tests: signed-in, loopback-only, traced, with failure artifacts."""

from __future__ import annotations

import contextlib
from pathlib import Path

from ui.ui_pages import is_loopback

#: What a headless Chromium needs on these machines (root, no GPU, a closed network).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Playwright's waits (the machine is small and shared: generous, never a sleep).
TIMEOUT_MS = 60_000


def new_context(browser, storage_state=None):
    """A browser context whose requests never leave loopback: anything else (the links to the
    Tencent Cloud console) is answered by a local stub and recorded in ``context.blocked``."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000},
        accept_downloads=True,
        storage_state=storage_state,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(2 * TIMEOUT_MS)
    blocked: list[str] = []

    def only_loopback(route):
        if is_loopback(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<p>off-loopback stub</p>")

    context.route("**/*", only_loopback)
    context.blocked = blocked
    context.tracing.start(screenshots=True, snapshots=False)
    return context


def close_context(context, artifacts: Path, name: str, failed: bool) -> None:
    """Close ``context``; when ``failed``, first save ``<name>-failed.png`` of its last page
    and ``<name>-trace.zip`` (open it with ``playwright show-trace``)."""
    try:
        if failed:
            if context.pages:
                with contextlib.suppress(Exception):  # a broken page must not hide the error
                    context.pages[-1].screenshot(
                        path=str(artifacts / f"{name}-failed.png"), full_page=True
                    )
            context.tracing.stop(path=str(artifacts / f"{name}-trace.zip"))
        else:
            context.tracing.stop()
    finally:
        context.close()


@contextlib.contextmanager
def traced_page(browser, storage_state, artifacts: Path, name: str):
    """A page in a fresh context; artifacts are saved if the ``with`` body raises."""
    context = new_context(browser, storage_state)
    failed = True
    try:
        yield context.new_page()
        failed = False
    finally:
        close_context(context, artifacts, name, failed)
