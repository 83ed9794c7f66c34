"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser) against
pytest-django's live server. Screenshots go to test-artifacts/ (gitignored). Every page a test
opens is watched for Content-Security-Policy violations, and any fails the test."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

from tests.helpers import clear_ledger_before_flush

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body
# (and the live server's shared test database) are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


# Runs in every page before the page's own scripts (CSP does not apply to init scripts) and
# reports each violation on the console, where the context listener below collects it. Chromium
# logs its own "Refused to ..." line too; either one is enough.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`Content Security Policy violation: ${e.effectiveDirective} blocked `
    + `${e.blockedURI || "inline"} at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""


def watch_csp(context: BrowserContext, seen: list[str]) -> BrowserContext:
    context.add_init_script(script=CSP_LISTENER)

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", on_console)
    return context


@pytest.fixture(autouse=True)
def csp_violations(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The Content-Security-Policy violations seen in every context the test opens (through
    browser.new_context / new_page or pytest-playwright's page fixture); any fails the test."""
    seen: list[str] = []
    new_context = browser.new_context

    def watched_context(**kwargs) -> BrowserContext:
        return watch_csp(new_context(**kwargs), seen)

    def watched_page(**kwargs) -> Page:
        return watched_context(**kwargs).new_page()

    monkeypatch.setattr(browser, "new_context", watched_context)
    monkeypatch.setattr(browser, "new_page", watched_page)
    yield seen
    if seen:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(seen), pytrace=False)


@pytest.fixture
def site(live_server, settings):
    # The live server speaks plain HTTP: cookies must not demand HTTPS.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    yield live_server.url
    clear_ledger_before_flush()


@pytest.fixture
def shots():
    """shots(page, name): a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take
