"""More paths in a real browser, each set up quickly through the services:

- the seller accepts the buyer's dispute of one stage (a confirmation step before money moves:
  the stage is refunded); the buyer withdraws a dispute of a delivered stage, which is delivered
  again and releasable; the seller accepts the buyer's refund request through its confirmation
  page, which closes the escrow;
- the buyer disputes a whole STANDARD escrow from its page and staff release it from the staff
  resolution page (opening it asks first); a dispute nobody answered gets the buyer's request at
  its deadline from `process_due`;
- screenshots of the pages not captured elsewhere: login (and a failed login), signup with
  errors, the edit form of an unpaid escrow, API keys after creating one, webhooks, the balance
  page after a test top-up, and the admin's escrow page."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from escrows import services
from escrows.models import (
    Dispute,
    DisputeStatus,
    Escrow,
    EscrowStatus,
    MilestoneStatus,
    RefundRequest,
    RefundRequestStatus,
)
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms
from tests.e2e.browser import DESKTOP, PHONE, balance_total, log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def badge(page: Page, index: int):
    return page.locator(f'[data-milestone="{index}"] .milestone-head [data-status]')


def test_seller_accepts_a_dispute_buyer_withdraws_one_seller_accepts_a_refund_request(
    browser: Browser, site: str, shots
) -> None:
    seller_user = UserFactory(email="mp-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="mp-buyer@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow(seller_user, title="Shop redesign")  # Stage 0..2: 300.00, 500.00, 200.00
    fund(escrow, buyer_user)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller_user, proof="Wireframes for every page")
    withdrawn = services.dispute_open(
        escrow=escrow, milestone=first, by=buyer_user, reason="The wireframes miss the checkout"
    )
    accepted = services.dispute_open(
        escrow=escrow,
        milestone=second,
        by=buyer_user,
        reason="The visual design never arrived",
        default_outcome="refund",
    )
    assert [m.status for m in milestones(escrow)] == ["DISPUTED", "DISPUTED", "PENDING"]
    detail = f"{site}/escrows/{escrow.public_id}/"
    seller = browser.new_context(viewport=DESKTOP).new_page()
    buyer = browser.new_context(viewport=DESKTOP).new_page()
    log_in(seller, site, "mp-seller@example.test")
    log_in(buyer, site, "mp-buyer@example.test")

    # -- the seller accepts the dispute of stage 2, after a confirmation step ----------------------
    seller.goto(detail)
    seller.locator('[data-milestone="1"] [data-milestone-dispute]').click()
    expect(seller.get_by_role("heading", name="Dispute of “Stage 1”")).to_be_visible()
    expect(seller.locator("[data-answer-box]")).to_contain_text(
        "Accepting settles it now with what the buyer asked for: 500.00 USD back to the buyer."
    )
    seller.get_by_label("Accept the claim").check()
    seller.get_by_label("Your answer").fill("Fair: the designer left, we cannot deliver it.")
    seller.get_by_role("button", name="Send answer").click()
    expect(
        seller.get_by_role("heading", name="Accept the claim: 500.00 USD back to the buyer?")
    ).to_be_visible()
    expect(seller.get_by_text("This settles the dispute at once and cannot be undone.")).to_be_visible()
    shots(seller, "50-dispute-accept-confirm")
    # Nothing moved before the confirmation.
    assert refresh(accepted).status == DisputeStatus.OPEN
    assert milestones(escrow)[1].status == MilestoneStatus.DISPUTED
    assert wallet_balance(buyer_user, "USD") == 0
    seller.get_by_role("button", name="Accept and settle").click()
    expect(seller.locator(".flash").first).to_contain_text(
        "Claim accepted; the dispute is settled: 500.00 USD back to the buyer."
    )
    outcome = "Refund to the buyer: seller 0.00 USD, buyer 500.00 USD · accepted by Sam Seller"
    expect(seller.locator("[data-dispute-resolution]")).to_contain_text(outcome)
    expect(seller.locator(".head-side [data-status]")).to_have_text("Resolved")
    expect(seller.locator("[data-answer-box]")).to_have_count(0)
    shots(seller, "51-dispute-accepted-seller")

    # -- the buyer sees the outcome on the dispute page and on the escrow page --------------------
    buyer.goto(f"{detail}disputes/{accepted.public_id}/")
    expect(buyer.locator("[data-dispute-resolution]")).to_contain_text(outcome)
    expect(buyer.locator("[data-dispute-answer]")).to_contain_text(
        "Accept the claim: Fair: the designer left, we cannot deliver it."
    )
    buyer.goto(detail)
    expect(badge(buyer, 1)).to_have_text("Refunded")
    expect(buyer.locator('[data-ledger="refunded"]')).to_have_text("500.00 USD")
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("500.00 USD")
    # Stage 1 is still under dispute: the escrow shows as Disputed, as on the dashboard.
    expect(buyer.locator(".escrow-head [data-status]").first).to_have_text("Disputed")
    assert wallet_balance(buyer_user, "USD") == 50_000

    # -- the buyer withdraws the dispute of the delivered stage 1: it is releasable again --------
    expect(buyer.locator('[data-milestone="0"] [data-action="release"]')).to_have_count(0)
    buyer.locator('[data-milestone="0"] [data-milestone-dispute]').click()
    expect(buyer.get_by_role("heading", name="Dispute of “Stage 0”")).to_be_visible()
    # Withdrawing asks in a dialog on the page (the same words as its page without JavaScript).
    buyer.get_by_role("button", name="Withdraw dispute").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Withdraw this dispute?")
    expect(dialog).to_contain_text("300.00 USD is no longer frozen")
    dialog.get_by_role("button", name="Withdraw dispute").click()
    expect(buyer.locator(".flash").first).to_contain_text("Dispute withdrawn.")
    expect(buyer.locator(".head-side [data-status]")).to_have_text("Withdrawn")
    expect(buyer.get_by_role("button", name="Withdraw dispute")).to_have_count(0)
    shots(buyer, "52-dispute-withdrawn")
    assert refresh(withdrawn).status == DisputeStatus.WITHDRAWN
    buyer.goto(detail)
    expect(buyer.locator(".escrow-head [data-status]").first).to_have_text("Opened")
    expect(badge(buyer, 0)).to_have_text("Delivered")
    expect(buyer.locator('[data-milestone="0"] [data-review-deadline]')).to_contain_text(
        "unless you confirm or dispute it"
    )
    expect(buyer.locator("[data-milestone-dispute]")).to_have_count(0)
    buyer.get_by_role("button", name="Confirm & release 300.00 USD").click()
    buyer.locator("dialog[open] [data-confirm-release]").click()
    expect(buyer.locator(".flash").first).to_contain_text("Released 300.00 USD to Sam Seller")
    expect(badge(buyer, 0)).to_have_text("Released")

    # -- the buyer asks for the last stage back; the seller accepts through the confirmation page
    buyer.get_by_role("button", name="Request a refund").click()
    buyer.get_by_label("Stage 3 · Stage 2 · 200.00 USD").check()
    buyer.get_by_label("Why are you asking for a refund?").fill("We found another shop for the last part")
    buyer.get_by_role("button", name="Send request").click()
    expect(buyer.locator(".flash")).to_contain_text("Asked the seller to refund 200.00 USD")

    seller.goto(detail)
    expect(seller.get_by_text("The buyer asks for a refund of 200.00 USD")).to_be_visible()
    seller.get_by_role("button", name="Accept & refund 200.00 USD").click()
    dialog = seller.locator("dialog[open]")  # the confirmation, asked in a dialog on the page
    expect(dialog.get_by_role("heading", name="Refund 200.00 USD to the buyer's balance?")).to_be_visible()
    expect(dialog.get_by_text("The buyer asks: We found another shop for the last part")).to_be_visible()
    expect(dialog.get_by_text("Stage 3 · Stage 2 · 200.00 USD")).to_be_visible()
    shots(seller, "53-refund-request-accept-confirm")
    assert RefundRequest.objects.get().status == RefundRequestStatus.REQUESTED  # nothing moved yet
    assert wallet_balance(buyer_user, "USD") == 50_000
    dialog.get_by_role("button", name="Accept & refund 200.00 USD").click()
    expect(seller.locator(".flash")).to_contain_text(
        "Refund request accepted: 200.00 USD refunded to the buyer's balance."
    )
    # The last stage settled closes the escrow; something was released, so it is Completed.
    expect(seller.locator(".escrow-head [data-status]").first).to_have_text("Completed")
    expect(badge(seller, 2)).to_have_text("Refunded")
    expect(seller.locator('[data-ledger="released"]')).to_have_text("300.00 USD")
    expect(seller.locator('[data-ledger="refunded"]')).to_have_text("700.00 USD")
    expect(seller.locator('[data-ledger="held"]')).to_have_text("0.00 USD")
    shots(seller, "54-refund-request-accepted")
    buyer.goto(detail)
    expect(buyer.locator(".escrow-head [data-status]").first).to_have_text("Completed")
    expect(buyer.locator("[data-disputes]")).to_contain_text("Resolved")
    expect(buyer.locator("[data-disputes]")).to_contain_text("Withdrawn")

    assert RefundRequest.objects.get().status == RefundRequestStatus.ACCEPTED
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert [m.status for m in milestones(escrow)] == ["RELEASED", "REFUNDED", "REFUNDED"]
    assert wallet_balance(seller_user, "USD") == 30_000
    assert wallet_balance(buyer_user, "USD") == 70_000
    assert_ledger_invariants()


def test_staff_release_a_disputed_standard_escrow_and_an_unanswered_dispute_gets_the_request(
    browser: Browser, site: str, shots
) -> None:
    seller_user = UserFactory(email="std-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="std-buyer@example.test", first_name="Bea", last_name="Buyer")
    UserFactory(email="std-staff@example.test", first_name="Ada", last_name="Arbiter", is_staff=True)
    laptop = services.escrow_create(
        seller=seller_user,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(laptop, buyer_user)
    detail = f"{site}/escrows/{laptop.public_id}/"
    buyer = browser.new_context(viewport=DESKTOP).new_page()
    staff = browser.new_context(viewport=DESKTOP).new_page()

    # -- the buyer disputes the whole standard escrow from its page -------------------------------
    log_in(buyer, site, "std-buyer@example.test")
    buyer.goto(detail)
    expect(buyer.get_by_text("No milestones: the whole amount is released at once.")).to_be_visible()
    buyer.get_by_role("button", name="Open a dispute").click()
    expect(buyer.get_by_role("heading", name="Dispute this escrow (800.00 USD)")).to_be_visible()
    buyer.get_by_label("What went wrong?").fill("The screen arrived cracked.")
    buyer.get_by_label("Evidence", exact=True).fill("Photos taken when unpacking.")
    shots(buyer, "60-standard-open-dispute")
    buyer.get_by_role("button", name="Review and open").click()
    expect(
        buyer.get_by_role("heading", name="Open a dispute about this escrow and freeze 800.00 USD?")
    ).to_be_visible()
    buyer.get_by_role("button", name="Open dispute and freeze 800.00 USD").click()
    expect(buyer.locator(".flash").first).to_contain_text(
        "Dispute opened. 800.00 USD is frozen until it is resolved."
    )
    expect(buyer.get_by_role("heading", name="Dispute of the whole escrow")).to_be_visible()
    expect(buyer.locator("[data-dispute-amount]")).to_have_text("800.00 USD")
    expect(buyer.locator("[data-default-outcome]")).to_contain_text("seller 400.00 USD, buyer 400.00 USD")
    assert refresh(laptop).status == EscrowStatus.DISPUTED
    buyer.goto(detail)
    expect(buyer.locator(".escrow-head [data-status]").first).to_have_text("Disputed")
    expect(buyer.get_by_role("button", name="Open a dispute")).to_have_count(0)
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("800.00 USD")

    # -- staff release it to the seller from the resolution page, after confirming ----------------
    log_in(staff, site, "std-staff@example.test")
    staff.get_by_role("link", name="Disputes (staff)").click()
    staff.get_by_role("link", name="Resolve").click()
    expect(staff.get_by_role("heading", name="Resolve: 800.00 USD")).to_be_visible()
    expect(staff.get_by_text("The screen arrived cracked.")).to_be_visible()
    staff.get_by_label("Release to the seller").check()
    staff.get_by_label("Note to both parties").fill("The courier's photos show it arrived intact.")
    staff.get_by_role("button", name="Continue").click()
    confirm = staff.get_by_role("heading", name="800.00 USD to the seller, 0.00 USD to the buyer?")
    expect(confirm).to_be_visible()
    shots(staff, "61-standard-staff-confirm")
    assert refresh(laptop).status == EscrowStatus.DISPUTED  # nothing moved before the confirmation
    staff.get_by_role("button", name="Resolve").click()
    expect(staff.locator(".flash").first).to_contain_text("Dispute resolved.")
    expect(staff.locator("[data-dispute-resolution]")).to_contain_text(
        "Release to the seller: seller 800.00 USD, buyer 0.00 USD · by an administrator"
    )

    buyer.goto(detail)
    expect(buyer.locator(".escrow-head [data-status]").first).to_have_text("Completed")
    expect(buyer.locator('[data-ledger="released"]')).to_have_text("800.00 USD")
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("0.00 USD")
    expect(buyer.locator("[data-disputes]")).to_contain_text("Resolved")
    buyer.locator("[data-disputes] a").click()
    expect(buyer.get_by_text("The courier's photos show it arrived intact.")).to_be_visible()
    shots(buyer, "62-standard-resolved-buyer")
    assert refresh(laptop).status == EscrowStatus.COMPLETED
    assert wallet_balance(seller_user, "USD") == 80_000
    assert_ledger_invariants()

    # -- a dispute nobody answers: past its deadline, process_due applies the buyer's request ----
    logo = make_escrow(seller_user, parts=(30_000, 70_000), title="Logo pack", buyer=buyer_user)
    fund(logo, buyer_user)
    lapsed = services.dispute_open(
        escrow=logo, milestone=milestones(logo)[0], by=buyer_user, reason="The logo files never came"
    )
    assert (lapsed.default_outcome, lapsed.default_seller_amount, lapsed.default_buyer_amount) == (
        "split",
        15_000,
        15_000,
    )
    Dispute.objects.filter(pk=lapsed.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("process_due", stdout=out)
    assert "disputes_defaulted: 1" in out.getvalue()

    buyer.goto(f"{site}/escrows/{logo.public_id}/")
    expect(badge(buyer, 0)).to_have_text("Split")
    expect(badge(buyer, 1)).to_have_text("Pending")
    expect(buyer.locator(".escrow-head [data-status]").first).to_have_text("Opened")
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("700.00 USD")
    expect(buyer.locator("[data-disputes]")).to_contain_text("Resolved")
    shots(buyer, "63-default-outcome-escrow")
    buyer.locator("[data-disputes] a").click()
    expect(buyer.locator("[data-dispute-resolution]")).to_contain_text(
        "Split between them: seller 150.00 USD, buyer 150.00 USD · "
        "the buyer's request, unanswered by the deadline"
    )
    expect(
        buyer.get_by_text("The seller did not answer by the deadline: the buyer's request applied")
    ).to_be_visible()
    shots(buyer, "64-default-outcome-dispute")
    assert refresh(lapsed).status == DisputeStatus.RESOLVED
    assert wallet_balance(seller_user, "USD") == 80_000 + 15_000
    assert wallet_balance(buyer_user, "USD") == 15_000
    assert_ledger_invariants()


def test_screenshots_of_account_settings_and_admin_pages(
    browser: Browser, site: str, shots, settings
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the endpoint below is never called
    seller_user = UserFactory(email="pg-seller@example.test", first_name="Sam", last_name="Seller")
    UserFactory(
        email="pg-admin@example.test", first_name="Ada", last_name="Admin", is_staff=True, is_superuser=True
    )
    escrow = make_escrow(seller_user, title="Website build", buyer_email="pg-buyer@example.test")
    page = browser.new_context(viewport=DESKTOP).new_page()

    # -- login (and a failed one), signup with errors --------------------------------------------
    page.goto(site + "/accounts/login/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shots(page, "70-login")
    page.set_viewport_size(PHONE)
    shots(page, "70-login-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Email").fill("pg-seller@example.test")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct email and password")
    shots(page, "71-login-failed")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    # A taken email is not told apart from a new one (its owner gets an email instead).
    page.get_by_label("Email").fill("pg-new@example.test")
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase-9")
    page.get_by_label("Password confirmation").fill("another-pass-phrase-9")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("You must type the same password each time.")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("pg-new@example.test")
    shots(page, "72-signup-errors")

    # -- the edit form of an unpaid escrow -----------------------------------------------------------
    log_in(page, site, "pg-seller@example.test")
    page.goto(f"{site}/escrows/{escrow.public_id}/")
    page.get_by_role("button", name="Edit terms").click()
    expect(page.get_by_role("heading", name="Edit “Website build”")).to_be_visible()
    expect(page.get_by_label("Title", exact=True)).to_have_value("Website build")
    expect(page.get_by_label("Buyer email")).to_have_value("pg-buyer@example.test")
    expect(page.get_by_label("Total amount")).to_have_value("1000.00")
    rows = page.locator("[data-rows] [data-row]")
    expect(rows).to_have_count(3)
    expect(rows.nth(1).get_by_label("Stage amount")).to_have_value("500.00")
    expect(page.locator("[data-total]")).to_have_text("1,015.00 USD")
    shots(page, "73-edit-escrow")
    page.set_viewport_size(PHONE)
    shots(page, "73-edit-escrow-phone")
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Title", exact=True).fill("Website build and hosting")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash").first).to_contain_text("Escrow updated. The fee was recalculated.")
    expect(page.get_by_role("heading", name="Website build and hosting")).to_be_visible()

    # -- API keys after creating one -----------------------------------------------------------------
    page.goto(site + "/settings/api-keys/")
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    page.get_by_label("Name").fill("Production backend")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Your new key")).to_be_visible()
    expect(page.get_by_label("New API key")).to_have_value(re.compile(r"^sk_test_\S{20,}$"))
    key_row = page.locator("tbody tr")
    expect(key_row).to_have_count(1)
    expect(key_row).to_contain_text("Production backend")
    expect(key_row).to_contain_text("never")
    expect(key_row).to_contain_text("active")
    shots(page, "74-api-keys-created")

    # -- webhooks: a bad URL is refused, a good one is listed ------------------------------------------
    page.goto(site + "/settings/webhooks/")
    expect(page.get_by_text("No endpoints yet.")).to_be_visible()
    page.get_by_label("Endpoint URL").fill("ftp://files.example.test/hooks")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("#url-error")).to_have_text(
        "Enter an address that starts with https:// (or http://)."
    )
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/escrow-hooks")
    page.get_by_label("Description").fill("Order service")
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.locator(".flash").first).to_contain_text("Endpoint added.")
    page.get_by_text("Show secret").click()
    expect(page.locator("code.secret")).to_have_text(re.compile(r"^whsec_\S{20,}$"))
    page.goto(site + "/settings/webhooks/")
    endpoint_row = page.locator("tbody tr").first
    expect(endpoint_row).to_contain_text("http://127.0.0.1:9/escrow-hooks")
    expect(endpoint_row).to_contain_text("Order service")
    expect(endpoint_row).to_contain_text("Enabled")
    shots(page, "75-webhooks")

    # -- the balance page: empty, then a test top-up ------------------------------------------------
    page.get_by_role("link", name="Balance").click()
    expect(page.get_by_role("heading", name="No money yet")).to_be_visible()
    page.locator("#topup_amount").fill("250.00")
    page.get_by_role("button", name="Top up").click()
    expect(balance_total(page, "Available")).to_have_text("250.00 USD")
    shots(page, "76-balance-topped-up")
    page.set_viewport_size(PHONE)
    shots(page, "76-balance-topped-up-phone")
    assert wallet_balance(seller_user, "USD") == 25_000

    # -- the admin's escrow page, as a staff user ----------------------------------------------------
    admin = browser.new_context(viewport=DESKTOP).new_page()
    log_in(admin, site, "pg-admin@example.test")
    admin.goto(f"{site}/admin/escrows/escrow/{Escrow.objects.get().pk}/change/")
    expect(admin.get_by_role("heading", name="View escrow")).to_be_visible()
    expect(admin.locator("#content")).to_contain_text("Website build and hosting")
    expect(admin.get_by_role("link", name="Printable record")).to_be_visible()
    milestones_inline = admin.locator("#milestones-group")
    expect(milestones_inline).to_contain_text("Stage 1")
    expect(milestones_inline).to_contain_text("Pending")
    shots(admin, "77-admin-escrow")
    assert_ledger_invariants()
