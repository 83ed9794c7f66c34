"""A milestone dispute in a real browser: the buyer disputes the second stage with a written
note, confirms what opening it does, then adds a file on the dispute page; the seller contests;
the other stages stay releasable; staff split the frozen amount from the staff page (a wrong sum
is refused first, then a confirmation); both parties see the outcome, and the evidence record
shows the file's SHA-256."""

import hashlib

import pytest
from playwright.sync_api import Browser, expect

from escrows.models import Dispute, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.e2e.browser import DESKTOP, log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_buyer_disputes_a_stage_seller_contests_staff_splits(
    browser: Browser, site: str, shots, settings, tmp_path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    seller_user = UserFactory(email="dsp-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="dsp-buyer@example.test", first_name="Bea", last_name="Buyer")
    UserFactory(email="dsp-staff@example.test", first_name="Ada", last_name="Arbiter", is_staff=True)
    escrow = make_escrow(seller_user, parts=(30_000, 50_000, 20_000), title="Shop redesign")
    fund(escrow, buyer_user)
    evidence_file = tmp_path / "broken-checkout.txt"
    evidence_file.write_bytes(b"Checkout returns HTTP 500 on submit\n")
    digest = hashlib.sha256(evidence_file.read_bytes()).hexdigest()

    buyer = browser.new_context(viewport=DESKTOP).new_page()
    seller = browser.new_context(viewport=DESKTOP).new_page()
    staff = browser.new_context(viewport=DESKTOP).new_page()
    escrow_url = f"{site}/escrows/{escrow.public_id}/"

    # -- buyer opens a dispute on stage 2 with a note, confirms, then adds a file --------------
    log_in(buyer, site, "dsp-buyer@example.test")
    buyer.goto(escrow_url)
    buyer.locator('[data-action="dispute-stage"]').click()
    expect(buyer.get_by_role("heading", name="Dispute a milestone")).to_be_visible()
    buyer.get_by_label("Stage 1 · 500.00 USD").check()
    buyer.get_by_label("What went wrong?").fill("The checkout page crashes on submit.")
    buyer.get_by_label("Evidence", exact=True).fill("Tried three times on staging.")
    buyer.get_by_label("Link (optional)").fill("https://staging.example.test/checkout")
    shots(buyer, "dsp-01-open-dispute")
    buyer.get_by_role("button", name="Review and open").click()
    expect(buyer.get_by_role("heading", level=1)).to_have_text(
        "Open a dispute about stage 2, “Stage 1” and freeze 500.00 USD?"
    )
    expect(buyer.locator("main")).to_contain_text(
        "You ask for: 250.00 USD to the seller and 250.00 USD back to the buyer."
    )
    shots(buyer, "dsp-01b-open-dispute-confirm")
    buyer.get_by_role("button", name="Open dispute and freeze 500.00 USD").click()
    expect(buyer.locator("[data-dispute-reason]")).to_have_text("The checkout page crashes on submit.")
    buyer.get_by_text("Add evidence", exact=True).first.click()
    buyer.get_by_label("File (optional)").set_input_files(str(evidence_file))
    buyer.locator("[data-submit-evidence]").click()
    expect(buyer.locator("[data-sha256]")).to_have_text(digest)
    expect(buyer.locator("[data-deadline]")).to_be_visible()
    expect(buyer.locator("[data-default-outcome]")).to_contain_text("seller 250.00 USD, buyer 250.00 USD")
    shots(buyer, "dsp-02-dispute-page-buyer")
    dispute = Dispute.objects.get()
    assert milestones(escrow)[1].status == MilestoneStatus.DISPUTED

    # -- the frozen stage does not hold up the others: the buyer releases stage 3 -------------
    buyer.goto(escrow_url)
    expect(buyer.locator("[data-milestone-dispute]")).to_be_visible()
    buyer.locator('[data-milestone="0"] [data-action="release"]').click()
    buyer.locator("dialog[open] [data-confirm-release]").click()
    expect(buyer.locator(".flash").first).to_contain_text("Released 300.00 USD")
    buyer.locator('[data-milestone="2"] [data-action="release"]').click()
    buyer.locator("dialog[open] [data-confirm-release]").click()
    expect(buyer.locator(".flash").first).to_contain_text("Released 200.00 USD")

    # -- seller contests, and downloads the buyer's file --------------------------------------
    log_in(seller, site, "dsp-seller@example.test")
    seller.goto(escrow_url)
    seller.locator("[data-milestone-dispute]").click()
    with seller.expect_download() as download:
        seller.locator("[data-evidence-file]").click()
    assert hashlib.sha256(download.value.path().read_bytes()).hexdigest() == digest
    seller.get_by_label("Contest the claim").check()
    seller.get_by_label("Your answer").fill("It works on production; staging was down for maintenance.")
    seller.get_by_role("button", name="Send answer").click()
    expect(seller.locator(".flash").first).to_contain_text("Answer sent")
    expect(seller.locator("[data-dispute-answer]")).to_contain_text("Contest the claim")
    shots(seller, "dsp-03-seller-contested")

    # -- staff: the queue, a wrong split, then the confirmed one ------------------------------
    log_in(staff, site, "dsp-staff@example.test")
    staff.get_by_role("link", name="Disputes (staff)").click()
    staff.get_by_role("link", name="Resolve").click()
    staff.get_by_label("Split between them").check()
    staff.get_by_label("Seller gets (split)").fill("300.00")
    staff.get_by_label("Buyer gets (split)").fill("100.00")
    staff.get_by_role("button", name="Continue").click()
    expect(staff.locator("[data-resolve-error]")).to_contain_text("must add up")
    staff.get_by_label("Split between them").check()
    staff.get_by_label("Seller gets (split)").fill("300.00")
    staff.get_by_label("Buyer gets (split)").fill("200.00")
    staff.get_by_label("Note to both parties").fill("Partly delivered: the checkout needed fixing.")
    staff.get_by_role("button", name="Continue").click()
    expect(
        staff.get_by_role("heading", name="300.00 USD to the seller, 200.00 USD to the buyer?")
    ).to_be_visible()
    shots(staff, "dsp-04-staff-confirm")
    staff.get_by_role("button", name="Resolve").click()
    expect(staff.locator("[data-dispute-resolution]")).to_contain_text("Split between them")

    # -- both parties see the result ----------------------------------------------------------
    for page, name in ((buyer, "buyer"), (seller, "seller")):
        page.goto(f"{escrow_url}disputes/{dispute.public_id}/")
        expect(page.locator("[data-dispute-resolution]")).to_contain_text(
            "Split between them: seller 300.00 USD, buyer 200.00 USD"
        )
        expect(page.get_by_text("Partly delivered: the checkout needed fixing.")).to_be_visible()
        shots(page, f"dsp-05-resolved-{name}")
        page.goto(escrow_url)
        expect(
            page.locator('[data-milestone="1"] .badge, [data-milestone="1"] [data-status]').first
        ).to_contain_text("Split")
    # The escrow closed with the last settled stage.
    expect(buyer.locator(".escrow-head")).to_contain_text("Completed")
    buyer.locator("[data-evidence-export]").click()
    expect(buyer.locator("[data-evidence-record]")).to_contain_text(digest)
    expect(buyer.locator("[data-evidence-record]")).to_contain_text("Dispute resolved")
    shots(buyer, "dsp-06-evidence-record")
    assert wallet_balance(seller_user, "USD") == 30_000 + 20_000 + 30_000
    assert wallet_balance(buyer_user, "USD") == 20_000
    assert_ledger_invariants()
