"""Every page works without JavaScript: the same flow with scripting turned off in Chromium
(rows added by a round trip, the release confirmed on its own page)."""

import pytest
from playwright.sync_api import Browser, expect

from escrows.models import Escrow, EscrowStatus, MilestoneStatus
from tests.e2e.browser import log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, milestones

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_pay_and_release_with_scripting_off(browser: Browser, site: str, shots) -> None:
    UserFactory(email="nojs-seller@example.test", first_name="Nora", last_name="Seller")
    UserFactory(email="nojs-buyer@example.test")
    seller = browser.new_context(java_script_enabled=False).new_page()
    buyer = browser.new_context(java_script_enabled=False).new_page()

    log_in(seller, site, "nojs-seller@example.test")
    seller.get_by_role("link", name="New escrow").first.click()
    seller.get_by_label("Title", exact=True).fill("Plain HTML job")
    seller.get_by_label("Total amount").fill("90.00")
    seller.get_by_role("button", name="+ Add milestone").click()  # a round trip adds a row
    rows = seller.locator("[data-rows] [data-row]")
    expect(rows).to_have_count(3)
    expect(seller.get_by_label("Title", exact=True)).to_have_value("Plain HTML job")
    for i in range(3):
        rows.nth(i).get_by_label("Stage amount").fill("30.00")
    seller.get_by_role("button", name="Create escrow").click()
    expect(seller.get_by_role("heading", name="Plain HTML job")).to_be_visible()
    expect(seller.locator(".quote [data-total]")).to_have_count(0)  # not on the detail page
    pay_url = seller.locator("[data-pay-url]").input_value()

    log_in(buyer, site, "nojs-buyer@example.test")
    buyer.goto(pay_url)
    buyer.get_by_label("Card (test gateway)").check()
    buyer.get_by_label("Test card token").fill("tok_visa")
    buyer.get_by_role("button", name="Pay 91.35 USD").click()
    expect(buyer.get_by_text("You are buying")).to_be_visible()

    # Not marked delivered yet: releasing is a secondary link to a page that says so.
    expect(buyer.get_by_role("button", name="Confirm & release 30.00 USD")).to_have_count(0)
    buyer.get_by_role("link", name="Release 30.00 USD without delivery").click()
    expect(
        buyer.get_by_role("heading", name="Release 30.00 USD to Nora Seller before delivery?")
    ).to_be_visible()
    expect(buyer.locator("[data-confirm-warning]")).to_contain_text("Nora Seller has not marked")
    shots(buyer, "20-nojs-release-confirm")
    buyer.get_by_role("button", name="Release 30.00 USD").click()
    expect(buyer.locator(".flash")).to_contain_text("Released 30.00 USD to Nora Seller")

    escrow = Escrow.objects.get()
    assert escrow.status == EscrowStatus.OPENED
    assert [m.status for m in milestones(escrow)] == [
        MilestoneStatus.RELEASED,
        MilestoneStatus.PENDING,
        MilestoneStatus.PENDING,
    ]
    assert_ledger_invariants()
