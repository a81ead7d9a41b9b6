"""Chromium (Debian's, driven by Playwright) against one real daphne process on the test database.

Without DATABASE_URL/REDIS_URL that is the embedded set-up (a SQLite file and the in-memory channel layer);
with them, Postgres and Redis. A failed test leaves screenshots of its pages in /tmp/pipeline-browser.
Every page a test opens is audited with axe-core (tests/browser/axe.py): a serious or critical violation
fails the test, and so does any Content-Security-Policy violation the browser reports.
"""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.browser.axe import Audit
from tests.browser.screens import PHONE, TABLET, VIEWPORT  # noqa: F401 (the sizes tests open pages at)
from tests.live import Proxy, let_flush_win_deadlocks, release_database, servers

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("/tmp/pipeline-browser")
# Where `shoot` keeps the pictures of every page at every size: var/screenshots by default (generated, not
# committed); `make screenshots` points it at docs/screenshots, the set the README shows.
GALLERY = Path(os.environ.get("SCREENSHOTS_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))
TIMEOUT_MS = 20_000  # generous: the machine may be busy; nothing waits this long when things work
failed_key = pytest.StashKey[bool]()  # set on a test that failed, for its screenshots


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item.stash[failed_key] = True
    return report


@pytest.fixture(scope="module")
def browser(django_db_setup):  # the database is made first, outside Playwright's context (see below)
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests drive {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    # Playwright's sync API keeps an event loop marked as running in this thread, which Django takes for
    # async code and refuses the ORM. The tests here are plain sync code, so lift the guard while it runs.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Django's connections are per context and code under Playwright runs in one of its own, which
        # pytest-django's teardown does not see: close them here, or the test database cannot be dropped.
        connections.close_all()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    with servers(1, tmp_path_factory.mktemp("browser")) as (server,):
        yield server
    with django_db_blocker.unblock():
        release_database()


@pytest.fixture(autouse=True)
def _flush_wins_deadlocks(transactional_db):
    let_flush_win_deadlocks()


@pytest.fixture
def proxy(server):
    """A way to bob's server that the test can cut, as a dropped network connection would."""
    proxy = Proxy(server)
    yield proxy
    proxy.close()


@pytest.fixture
def audit():
    """What axe-core finds on the pages of this test; `audit.check(page)` audits a page as it is now."""
    return Audit()


def audit_everything(audit: Audit, context, visited: list[str]) -> None:
    """Audit each open page as the test left it (htmx swaps included), then every URL it went through that
    was not audited on the way, in a page of its own: a test cannot open a page that escapes axe."""
    for page in context.pages:
        audit.check(page)
    for url in dict.fromkeys(visited):
        if url not in audit.audited:
            page = context.new_page()
            page.goto(url)
            audit.check(page)
            page.close()


@pytest.fixture
def shoot():
    """`shoot(page, "board")` saves the page as it is now to GALLERY as board-<width>x<height>.png, so a
    reviewer can look at every page at every size the tests open without running a server."""

    def shoot(page, name: str) -> Path:
        size = page.viewport_size
        GALLERY.mkdir(parents=True, exist_ok=True)
        path = GALLERY / f"{name}-{size['width']}x{size['height']}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return shoot


@pytest.fixture
def open_board(request, browser, server, audit):
    """Log a user in through the login form, in a browser context of their own, and open the board."""
    opened = []
    visited: list[str] = []
    errors: list[str] = []

    def follow(page):  # every page of the context, including ones the page opens itself
        def navigated(frame):  # loads, redirects' ends and htmx's pushed URLs alike
            if frame is page.main_frame and frame.url.startswith("http"):
                visited.append(frame.url)

        def console(message):  # Chromium reports each Content-Security-Policy violation here
            if "Content Security Policy" in message.text:
                errors.append(f"CSP violation on {page.url}: {message.text}")

        page.on("framenavigated", navigated)
        page.on("console", console)

    def open_board(user, base_url: str | None = None, viewport: dict = VIEWPORT, has_touch: bool = False):
        context = browser.new_context(viewport=viewport, base_url=base_url or server.url, has_touch=has_touch)
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", follow)
        page = context.new_page()
        opened.append((user.username, page))
        page.on("pageerror", lambda error: errors.append(f"{user.username}: {error}"))
        page.goto("/accounts/login/")
        audit.check(page)
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "demo")
        page.click("button[type=submit]")
        page.wait_for_selector("#socket-status.live")
        audit.check(page)
        page.evaluate("window.openedOnce = true")  # gone if the page reloads
        return page

    yield open_board
    failed = request.node.stash.get(failed_key, False)
    if not failed:  # a failed test may have left its pages anywhere: its own failure is what matters
        for _, page in opened:
            audit_everything(audit, page.context, visited)
    if failed or audit.found:
        SCREENSHOTS.mkdir(exist_ok=True)
        for username, page in opened:
            page.screenshot(path=SCREENSHOTS / f"{request.node.name}-{username}.png", full_page=True)
    for _, page in opened:
        page.context.close()
    assert not errors, f"script errors or CSP violations in the pages: {errors}"
    if not failed:
        audit.assert_clean()
