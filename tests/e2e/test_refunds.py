"""Refunds and mutual cancellation in a real browser: the seller refunds one milestone through
the confirmation step; the buyer asks for a refund the seller declines; the buyer proposes a
60/40 mutual cancellation (the page checks the sum as they type) that the seller accepts after
reviewing the split. Balances and the ledger come out right."""

import pytest
from playwright.sync_api import Browser, expect

from escrows.models import EscrowStatus, MilestoneStatus, RefundRequest, RefundRequestStatus
from escrows.selectors import wallet_balance
from tests.e2e.browser import DESKTOP, log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_refund_decline_and_mutual_cancellation(browser: Browser, site: str, shots) -> None:
    seller_user = UserFactory(email="rf-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="rf-buyer@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow(seller_user, title="Mobile app")  # 300.00, 500.00, 200.00
    fund(escrow, buyer_user)
    detail = f"{site}/escrows/{escrow.public_id}/"
    seller = browser.new_context(viewport=DESKTOP).new_page()
    buyer = browser.new_context(viewport=DESKTOP).new_page()
    log_in(seller, site, "rf-seller@example.test")
    log_in(buyer, site, "rf-buyer@example.test")

    # -- the seller refunds the last stage, after seeing the amount and where it goes -----------
    seller.goto(detail)
    expect(seller.locator("[data-held]")).to_have_text("1,000.00 USD")
    seller.get_by_role("button", name="Refund milestones").click()
    seller.get_by_label("Stage 3 · Stage 2 · 200.00 USD").check()
    seller.get_by_label("Note to the buyer").fill("We will not build the tablet layout")
    shots(seller, "30-refund-pick")
    seller.get_by_role("button", name="Review refund").click()
    expect(seller.get_by_role("heading", name="Refund 200.00 USD to the buyer's balance?")).to_be_visible()
    shots(seller, "31-refund-confirm")
    assert wallet_balance(buyer_user, "USD") == 0  # nothing moved before the confirmation
    seller.get_by_role("button", name="Refund 200.00 USD").click()
    expect(seller.locator(".flash")).to_contain_text("Refunded 200.00 USD to the buyer's balance")
    expect(seller.locator("[data-held]")).to_have_text("800.00 USD")
    assert milestones(escrow)[2].status == MilestoneStatus.REFUNDED
    assert wallet_balance(buyer_user, "USD") == 20_000

    # -- the buyer asks for a refund of stage 2; the seller declines with a reason ---------------
    buyer.goto(detail)
    buyer.get_by_role("button", name="Request a refund").click()
    buyer.get_by_label("Stage 2 · Stage 1 · 500.00 USD").check()
    buyer.get_by_label("Why are you asking for a refund?").fill("The designs are late")
    shots(buyer, "32-refund-request")
    buyer.get_by_role("button", name="Send request").click()
    expect(buyer.locator(".flash")).to_contain_text("Asked the seller to refund 500.00 USD")
    seller.goto(detail)
    expect(seller.get_by_text("The buyer asks for a refund of 500.00 USD")).to_be_visible()
    seller.locator("[data-action=decline-refund] summary").click()
    seller.locator("[data-refund-request]").get_by_label("Reason").fill("They arrive on Friday")
    shots(seller, "33-refund-decline")
    seller.get_by_role("button", name="Decline request").click()
    expect(seller.locator(".flash")).to_contain_text("Refund request declined")
    assert RefundRequest.objects.get().status == RefundRequestStatus.DECLINED
    buyer.goto(detail)
    buyer.get_by_text("Earlier requests and proposals").click()
    expect(buyer.get_by_text("Seller: They arrive on Friday")).to_be_visible()

    # -- the buyer proposes 60/40 of what is held; the page checks the sum live ------------------
    buyer.get_by_role("button", name="Propose mutual cancellation").click()
    # The script is deferred: typing before it runs would fire no input handler.
    expect(buyer.locator("[data-split-form][data-enhanced=true]")).to_have_count(1)
    check = buyer.locator("[data-split-check]")
    buyer.get_by_label("Back to the buyer").fill("480.00")
    expect(buyer.get_by_label("To the seller")).to_have_value("320.00")  # filled in for them
    expect(check).to_contain_text("Adds up to 800.00 USD")
    buyer.get_by_label("To the seller").fill("300.00")
    expect(check).to_contain_text("20.00 short of 800.00")
    expect(buyer.get_by_role("button", name="Send proposal")).to_be_disabled()
    buyer.get_by_label("To the seller").fill("320.00")
    buyer.get_by_label("Note").fill("Let us part ways")
    shots(buyer, "34-cancellation-propose")
    buyer.get_by_role("button", name="Send proposal").click()
    expect(buyer.locator(".flash")).to_contain_text("Proposed a mutual cancellation")

    # -- the seller reviews the split and accepts ------------------------------------------------
    seller.goto(detail)
    seller.get_by_role("button", name="Review & accept").click()
    expect(seller.get_by_role("heading", name="Cancel this escrow by agreement?")).to_be_visible()
    # The split as the confirmation (a dialog) lists it, in money and where each part goes.
    expect(seller.get_by_role("dialog").get_by_role("listitem")).to_have_text(
        [
            "Back to the buyer (the buyer's balance): 480.00 USD",
            "To the seller's balance: 320.00 USD",
            "Held in escrow: 800.00 USD",
        ]
    )
    shots(seller, "35-cancellation-confirm")
    assert refresh(escrow).status == EscrowStatus.OPENED
    seller.get_by_role("button", name="Accept & cancel escrow").click()
    expect(seller.locator(".flash")).to_contain_text("Escrow cancelled by agreement")
    expect(seller.get_by_text("Mutual cancellation accepted")).to_be_visible()
    shots(seller, "36-cancelled")

    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.CANCELLED
    assert [m.status for m in milestones(escrow)] == ["SPLIT", "SPLIT", "REFUNDED"]
    assert wallet_balance(buyer_user, "USD") == 20_000 + 48_000
    assert wallet_balance(seller_user, "USD") == 32_000
    buyer.goto(site + "/balance/")
    expect(buyer.get_by_text("680.00").first).to_be_visible()
    assert_ledger_invariants()
