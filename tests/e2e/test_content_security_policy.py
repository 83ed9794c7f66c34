"""The Content-Security-Policy holds in a real browser: every main page, as the visitor, the
seller, the buyer and staff, is served with the policy and runs without one violation while its
scripts still work (the htmx search and fee quote, the release dialog, the pay form, the admin).
The csp_violations fixture (conftest.py) collects what Chromium blocks."""

import re

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from escrows import services
from tests.e2e.browser import DESKTOP, PHONE, log_in
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visit(page: Page, url: str, visited: list[str]) -> Response:
    response = page.goto(url)
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy, (url, policy)
    assert "frame-ancestors 'none'" in policy, (url, policy)
    visited.append(url)
    return response


def test_every_main_page_runs_under_the_policy_without_a_violation(
    browser: Browser, site: str, settings, csp_violations: list[str]
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the endpoint below is never called
    seller_user = UserFactory(email="csp-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="csp-buyer@example.test", first_name="Bea", last_name="Buyer")
    UserFactory(email="csp-admin@example.test", is_staff=True, is_superuser=True)
    unpaid = make_escrow(seller_user, title="Logo design")
    funded = make_escrow(seller_user, title="Shop redesign", buyer=buyer_user)
    fund(funded, buyer_user)
    services.milestone_complete(milestone=milestones(funded)[0], by=seller_user, proof="Wireframes")
    visited: list[str] = []

    # -- a visitor: the landing and login pages -------------------------------------------------
    seller = browser.new_context(viewport=DESKTOP).new_page()
    visit(seller, site + "/", visited)
    visit(seller, site + "/accounts/login/", visited)
    visit(seller, site + "/accounts/signup/", visited)

    # -- the seller: dashboard search (htmx), the fee quote (htmx), the escrow pages ---------------
    log_in(seller, site, "csp-seller@example.test")
    visit(seller, site + "/dashboard/", visited)
    expect(seller.locator(".escrow-row")).to_have_count(2)
    seller.get_by_placeholder("Search title, id or email").fill("Logo")
    expect(seller).to_have_url(re.compile(r"q=Logo"))  # htmx pushed the filtered list's URL
    expect(seller.locator(".escrow-row")).to_have_count(1)
    visit(seller, site + "/escrows/new/", visited)
    seller.get_by_label("Total amount").fill("1000.00")
    expect(seller.locator("[data-total]")).to_have_text("1,015.00 USD")
    seller.get_by_role("button", name="+ Add milestone").click()
    expect(seller.locator("[data-rows] [data-row]")).to_have_count(3)
    visit(seller, f"{site}/escrows/{unpaid.public_id}/", visited)
    visit(seller, f"{site}/escrows/{unpaid.public_id}/edit/", visited)
    expect(seller.locator("[data-total]")).to_have_text("1,015.00 USD")
    visit(seller, f"{site}/escrows/{funded.public_id}/", visited)
    visit(seller, site + "/balance/", visited)
    visit(seller, site + "/settings/api-keys/", visited)
    seller.get_by_label("Name").fill("Backend")
    seller.get_by_role("button", name="Create key").click()
    key = seller.get_by_label("New API key")
    key.focus()  # selects itself, ready to copy (app.js; it was an inline onfocus handler)
    assert key.evaluate("el => el.value.slice(el.selectionStart, el.selectionEnd)") == key.input_value()
    visit(seller, site + "/settings/webhooks/", visited)
    seller.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/escrow-hooks")
    seller.get_by_role("button", name="Add endpoint").click()
    expect(seller.locator(".flash").first).to_contain_text("Endpoint added.")
    visited.append(seller.url)  # the endpoint's own page
    visit(seller, site + "/v1/docs", visited)
    expect(seller.locator(".swagger-ui .info .title")).to_contain_text("Milestone Escrow API")
    visit(seller, site + "/v1/redoc", visited)
    expect(seller.locator("h1").first).to_contain_text("Milestone Escrow API")

    # -- the buyer: the pay page's card fields, the release dialog, a cancellation ------------------
    buyer = browser.new_context(viewport=PHONE).new_page()
    log_in(buyer, site, "csp-buyer@example.test")
    visit(buyer, f"{site}/pay/{unpaid.payment_token}", visited)
    buyer.get_by_label("Card (test gateway)").check()
    expect(buyer.get_by_label("Test card token")).to_be_visible()
    visit(buyer, f"{site}/escrows/{funded.public_id}/", visited)
    buyer.get_by_role("button", name="Confirm & release 300.00 USD").click()
    dialog = buyer.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Not yet").click()
    expect(dialog).to_be_hidden()
    visit(buyer, f"{site}/escrows/{funded.public_id}/cancellation/new/", visited)
    expect(buyer.locator("[data-split-form]")).to_have_attribute("data-enhanced", "true")

    # -- staff: the admin -------------------------------------------------------------------------
    admin = browser.new_context(viewport=DESKTOP).new_page()
    visit(admin, site + "/admin/login/", visited)
    admin.get_by_label("Email").fill("csp-admin@example.test")
    admin.get_by_label("Password").fill("pass-word-123")
    admin.get_by_role("button", name="Log in").click()
    expect(admin.locator("#site-name")).to_be_visible()
    visit(admin, site + "/admin/escrows/escrow/", visited)
    admin.locator("#action-toggle").check()  # the admin's own script selects every row
    expect(admin.locator(".action-counter")).to_contain_text("2 of 2 selected")
    visit(admin, f"{site}/admin/escrows/escrow/{funded.pk}/change/", visited)
    visit(admin, site + "/staff/disputes/", visited)

    assert len(visited) >= 20, visited
    assert csp_violations == []
