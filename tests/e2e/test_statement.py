"""Money a person can follow, in a real browser at desktop and phone widths: the balance page's
totals and statement rows, a release receipt reached from a row, and Withdraw asking once (a
dialog with JavaScript, a page without) before the payout shows in the statement. Each page is
screenshotted into test-artifacts/ and checked by axe-core: no critical or serious violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from escrows import services
from tests.e2e.browser import DESKTOP, PHONE
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


def assert_no_serious_violations(page: Page, what: str) -> None:
    """axe-core (WCAG 2.x A and AA rules): no critical and no serious violation on the page."""
    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    bad = [v for v in results.response["violations"] if v.get("impact") in ("critical", "serious")]
    assert bad == [], f"{what}:\n{results.generate_report()}"


def signed_in(browser: Browser, site: str, user, width: str, *, javascript: bool = True) -> Page:
    """A browser signed in as `user` (the session a login makes), at `width`."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=javascript)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": site}])
    return context.new_page()


@pytest.fixture
def sold():
    seller = UserFactory(email="sam.seller@example.test", first_name="Sam", last_name="Seller")
    buyer = UserFactory(email="bea.buyer@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow(seller, buyer=buyer, title="Shop website")
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    return seller, buyer, escrow


@pytest.mark.parametrize("width", WIDTHS)
def test_the_statement_a_receipt_and_withdraw_with_a_dialog(browser, site, shots, sold, width):
    seller, _, escrow = sold
    page = signed_in(browser, site, seller, width)
    page.goto(site + "/balance/")
    totals = page.locator("[data-totals=USD]")
    expect(totals.locator("[data-total=available] .big-amount")).to_have_text("300.00 USD")
    expect(totals.locator("[data-total=held-for-you] .big-amount")).to_have_text("700.00 USD")
    expect(totals.locator("[data-total=being-paid-out] .big-amount")).to_have_text("0.00 USD")
    rows = page.locator("[data-statement-row]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Released to you: “Stage 0” of “Shop website”")
    expect(rows.first.locator("[data-amount]")).to_have_text("+300.00 USD")
    expect(rows.first.locator("[data-balance-after]")).to_have_text("300.00 USD")
    shots(page, f"statement-01-balance-{width}")
    assert_no_serious_violations(page, f"balance page at {width} width")

    rows.first.locator("[data-receipt-link]").click()
    expect(page.get_by_role("heading", name="Release receipt")).to_be_visible()
    expect(page.locator("[data-receipt-total]")).to_have_text("300.00 USD")
    expect(page.locator("[data-receipt-lines]")).to_contain_text("Released to Sam Seller")
    shots(page, f"statement-02-receipt-{width}")
    assert_no_serious_violations(page, f"receipt at {width} width")

    page.goto(site + "/balance/")
    form = page.locator("[data-withdraw-form]")
    form.get_by_label("Amount").fill("100.00")
    form.get_by_label("Destination").fill("bank-123")
    form.get_by_role("button", name="Withdraw…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading", name="Pay out 100.00 USD to bank-123?")).to_be_visible()
    expect(dialog).to_contain_text("Your available balance goes from 300.00 USD to 200.00 USD.")
    shots(page, f"statement-03-withdraw-dialog-{width}")
    assert_no_serious_violations(page, f"withdraw dialog at {width} width")
    # "Not now" closes it and moves nothing; the form asks again.
    dialog.get_by_role("button", name="Not now").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator("[data-statement-row]")).to_have_count(1)
    form.get_by_role("button", name="Withdraw…").click()
    dialog.get_by_role("button", name="Withdraw 100.00 USD").click()
    expect(page.get_by_text("Payout of 100.00 USD scheduled to bank-123.")).to_be_visible()
    rows = page.locator("[data-statement-row]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Payout to bank-123")
    expect(rows.first.locator("[data-amount]")).to_have_text("-100.00 USD")
    expect(rows.first.locator("[data-balance-after]")).to_have_text("200.00 USD")
    expect(page.locator("[data-totals=USD] [data-total=available] .big-amount")).to_have_text("200.00 USD")
    shots(page, f"statement-04-after-withdraw-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_withdraw_without_javascript_asks_on_its_own_page(browser, site, shots, sold, width):
    seller, _, _ = sold
    page = signed_in(browser, site, seller, width, javascript=False)
    page.goto(site + "/balance/")
    form = page.locator("[data-withdraw-form]")
    form.get_by_label("Amount").fill("50.00")
    form.get_by_label("Destination").fill("bank-123")
    form.get_by_role("button", name="Withdraw…").click()
    expect(page.get_by_role("heading", name="Pay out 50.00 USD to bank-123?")).to_be_visible()
    shots(page, f"statement-05-withdraw-page-{width}")
    confirmation = page.url
    page.get_by_role("button", name="Withdraw 50.00 USD").click()
    expect(page.get_by_text("Payout of 50.00 USD scheduled to bank-123.")).to_be_visible()
    expect(page.locator("[data-statement-row]")).to_have_count(2)
    # axe needs scripts: the same confirmation page, checked in a browser that runs them.
    checker = signed_in(browser, site, seller, width)
    checker.goto(confirmation)
    expect(checker.get_by_role("heading", name="Pay out 50.00 USD to bank-123?")).to_be_visible()
    assert_no_serious_violations(checker, f"withdraw confirmation page at {width} width")
