"""Every page a seller, a buyer and staff can reach (`tests/page_sweep.pages()` over the demo data,
forms after bad input too), opened in Chromium at a desktop's width (1366 px) and a phone's
(375 px): axe-core finds no critical or serious violation, no table is cut off on the desktop,
nothing scrolls sideways on the phone, and "Log out" is in view there for whoever is logged in.
A screenshot of each goes to test-artifacts/sweep/."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import ARTIFACTS
from tests.page_sweep import Page as SweptPage
from tests.page_sweep import build_world, pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 375, "height": 812}}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Submits the form a sweep entry describes from the page already open (its CSRF token with it),
# as a person's browser would; run by the test, so the page's Content-Security-Policy allows it.
SUBMIT = """([action, fields]) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  const token = document.querySelector("input[name=csrfmiddlewaretoken]");
  const all = {...fields, ...(token ? {csrfmiddlewaretoken: token.value} : {})};
  for (const [name, value] of Object.entries(all)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
}"""

CLIPPED_TABLES = """[...document.querySelectorAll(".table-wrap")]
  .filter((frame) => frame.scrollWidth > frame.clientWidth + 1).length"""


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page, options={"runOnly": WCAG})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("critical", "serious")
    ]


def open_page(page: Page, site: str, entry: SweptPage) -> None:
    page.goto(site + entry.path)
    if entry.post is not None:
        with page.expect_navigation():
            page.evaluate(SUBMIT, [entry.post_to or entry.path, entry.post])
    page.wait_for_load_state("networkidle")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_is_accessible_and_fits(browser: Browser, site: str, settings, width: str) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    world = build_world()
    contexts = {}
    for who in ("anonymous", *world.users):
        context = browser.new_context(viewport=WIDTHS[width])
        if who != "anonymous":
            client = Client()
            client.force_login(world.users[who])
            cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
            context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": site}])
        contexts[who] = context.new_page()
    shots = ARTIFACTS / "sweep"
    shots.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for entry in pages(world):
        if not entry.in_browser:
            continue
        page = contexts[entry.who]
        open_page(page, site, entry)
        page.screenshot(path=str(shots / f"{width}-{slug(entry.name)}.png"), full_page=True)
        where = f"{entry.name} at {width} ({page.url})"
        if page.get_by_role("heading", name="Something went wrong on our side").count():
            failures.append(f"{where}: a server error")
            continue
        failures += [f"{where}: {v}" for v in serious_violations(page)]
        # Nothing is cut off: a table that scrolls inside its frame hides columns (Resend).
        clipped = page.evaluate(CLIPPED_TABLES)
        if width == "desktop" and clipped:
            failures.append(f"{where}: {clipped} table(s) wider than the page, cut off")
        if width == "phone":
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > WIDTHS["phone"]["width"]:
                failures.append(f"{where}: scrolls sideways, {wide} px wide")
            if entry.who != "anonymous":
                log_out = page.locator("header").get_by_role("button", name="Log out")
                box = log_out.bounding_box() if log_out.count() == 1 and log_out.is_visible() else None
                if box is None or box["x"] < 0 or box["x"] + box["width"] > WIDTHS["phone"]["width"]:
                    failures.append(f"{where}: Log out is not in view ({box})")
    assert not failures, "\n".join(failures)
