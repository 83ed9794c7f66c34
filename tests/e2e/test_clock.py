"""Review clock and fee quote in a real browser: the create form quotes the fee, the buyer's
total and each stage's net as milestones are typed (htmx) or on "Preview fees" (no JS); the
seller delivers a stage; the buyer sees when it releases by itself and extends the review once,
after which the button is gone."""

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from escrows.models import Escrow, Event, MilestoneStatus
from tests.e2e.browser import log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, milestones

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_fee_quote_while_typing_then_deliver_and_extend_the_review(
    browser: Browser, site: str, shots
) -> None:
    UserFactory(email="clock-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="clock-buyer@example.test", first_name="Bo", last_name="Buyer")
    seller = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    buyer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    # -- seller: the quote follows the typing ------------------------------------------------
    log_in(seller, site, "clock-seller@example.test")
    seller.goto(site + "/escrows/new/")
    seller.get_by_label("Title", exact=True).fill("Mobile app")
    seller.get_by_label("Buyer email").fill("clock-buyer@example.test")
    seller.get_by_label("Total amount").fill("1000.00")
    expect(seller.locator("[data-total]")).to_have_text("1,015.00 USD")
    expect(seller.locator("[data-quote-error]")).to_contain_text("at least 2 milestones")
    rows = seller.locator("[data-rows] [data-row]")
    rows.nth(0).get_by_label("Stage title").fill("Design")
    rows.nth(0).get_by_label("Stage amount").fill("300.00")
    rows.nth(1).get_by_label("Stage title").fill("Build")
    rows.nth(1).get_by_label("Stage amount").fill("600.00")
    expect(seller.locator("[data-quote-error]")).to_contain_text("must sum to the escrow amount")
    rows.nth(1).get_by_label("Stage amount").fill("700.00")
    quote_rows = seller.locator("[data-quote-row]")
    expect(quote_rows).to_have_count(2)
    expect(quote_rows.nth(0)).to_contain_text("Design")
    expect(quote_rows.nth(1).locator("[data-net]")).to_have_text("700.00 USD")
    expect(quote_rows.nth(1)).to_contain_text("Sam Seller")
    expect(seller.locator("[data-fee-version]")).to_have_text("2026-11-v1")
    shots(seller, "40-clock-fee-quote")
    seller.get_by_role("button", name="Create escrow").click()
    expect(seller.get_by_role("heading", name="Mobile app")).to_be_visible()
    expect(seller.locator("[data-fee-schedule]")).to_have_text("2026-11-v1")

    escrow = Escrow.objects.get()
    fund(escrow, buyer_user)

    # -- seller delivers the first stage -------------------------------------------------------
    seller.reload()
    seller.get_by_text("Mark delivered").click()
    seller.get_by_label("What did you deliver?").fill("Figma file with every screen")
    seller.get_by_role("button", name="Send to buyer").click()
    expect(seller.locator(".flash").first).to_contain_text("Marked")
    expect(seller.locator("[data-review-deadline]")).to_contain_text(
        "unless the buyer confirms or disputes it"
    )
    expect(seller.locator('[data-action="extend-review"]')).to_have_count(0)

    # -- buyer sees the deadline and extends once ---------------------------------------------
    first = milestones(escrow)[0]
    deadline = first.review_deadline
    log_in(buyer, site, "clock-buyer@example.test")
    buyer.goto(f"{site}/escrows/{escrow.public_id}/")
    clock = buyer.locator("[data-review-deadline]")
    expect(clock).to_contain_text("Releases automatically on")
    expect(clock).to_contain_text("unless you confirm or dispute it")
    expect(clock).to_contain_text(deadline.strftime("%-d %b %Y"))
    expect(clock.locator("[data-countdown]")).to_contain_text("left to review")
    shots(buyer, "41-clock-buyer-deadline")
    buyer.get_by_text("Extend review by 7 days").click()
    later = deadline + timedelta(days=7)
    confirm = buyer.locator("[data-confirm-extend]")
    expect(confirm).to_have_text(f"Extend to {later.strftime('%-d %b')}")
    shots(buyer, "42-clock-extend-confirm")
    confirm.click()
    expect(buyer.locator(".flash").first).to_contain_text("extended by 7 days")
    expect(buyer.locator('[data-action="extend-review"]')).to_have_count(0)
    expect(clock).to_contain_text(later.strftime("%-d %b %Y"))
    expect(clock).to_contain_text("Extended once.")
    shots(buyer, "43-clock-extended")

    first = milestones(escrow)[0]
    assert first.status == MilestoneStatus.COMPLETED
    assert first.review_deadline == later
    assert Event.objects.filter(kind="milestone.review_extended").count() == 1
    assert_ledger_invariants()


def test_preview_fees_without_javascript(browser: Browser, site: str, shots) -> None:
    UserFactory(email="clock-nojs@example.test")
    page = browser.new_context(java_script_enabled=False).new_page()
    log_in(page, site, "clock-nojs@example.test")
    page.goto(site + "/escrows/new/")
    page.get_by_label("Title", exact=True).fill("No script")
    page.get_by_label("Total amount").fill("90.00")
    rows = page.locator("[data-rows] [data-row]")
    rows.nth(0).get_by_label("Stage amount").fill("30.00")
    rows.nth(1).get_by_label("Stage amount").fill("60.00")
    page.get_by_role("button", name="Preview fees").click()
    expect(page.locator("[data-quote-row]")).to_have_count(2)
    expect(page.locator("[data-total]")).to_have_text("91.35 USD")
    expect(page.get_by_label("Title", exact=True)).to_have_value("No script")
    shots(page, "44-clock-preview-fees-nojs")
    assert Escrow.objects.count() == 0
