"""Trust and safety of actions in a real browser, at a desktop's width and a phone's: every
irreversible action asks once in a <dialog> with JavaScript (never window.confirm) and on its own
page without it, saying what happens to how much money; a stage not marked delivered is released
only through a secondary link whose confirmation says so; the payment page says when the seller
is paid; a wrong dispute split keeps everything typed and speaks in the currency; a disputed
escrow shows as Disputed on the dashboard and under its filter; a new API key is shown once after
a redirect, with a copy button, and revoking it asks first. Screenshots go to test-artifacts/;
axe-core finds no critical or serious violation on any of these pages."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from accounts.models import APIKey
from escrows import services
from escrows.models import Dispute, DisputeStatus, EscrowStatus, MilestoneStatus
from tests.e2e.browser import DESKTOP, PHONE, log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Page, what: str) -> None:
    """axe-core: no critical and no serious violation on the page as it is now (a dialog open too)."""
    results = Axe().run(page, options={"runOnly": WCAG})
    bad = [v for v in results.response["violations"] if v.get("impact") in ("critical", "serious")]
    assert bad == [], f"{what}:\n{results.generate_report()}"


def watch_native_dialogs(page: Page, seen: list[str]) -> None:
    """window.confirm / alert would land in `seen`; none may."""
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))


@pytest.fixture(params=list(WIDTHS))
def width(request) -> str:
    return request.param


def test_release_cancel_and_refund_ask_in_a_dialog_with_the_money(
    browser: Browser, site: str, shots, width: str
) -> None:
    seller_user = UserFactory(email=f"cf-seller-{width}@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email=f"cf-buyer-{width}@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow(seller_user, parts=(30_000, 50_000, 20_000), title="Shop redesign")
    fund(escrow, buyer_user)
    unpaid = make_escrow(seller_user, parts=(10_000, 10_000), title="Logo pack")
    buyer = browser.new_context(viewport=WIDTHS[width]).new_page()
    seller = browser.new_context(viewport=WIDTHS[width]).new_page()
    native: list[str] = []
    watch_native_dialogs(buyer, native)
    watch_native_dialogs(seller, native)
    escrow_url = f"{site}/escrows/{escrow.public_id}/"

    # -- right after funding: no primary "Confirm & release", a quiet secondary link -------------------
    log_in(buyer, site, buyer_user.email)
    buyer.goto(escrow_url)
    expect(buyer.get_by_role("button", name=re.compile("Confirm & release"))).to_have_count(0)
    expect(buyer.locator("[data-release-undelivered]")).to_contain_text("Not delivered yet")
    assert_accessible(buyer, f"escrow page of a buyer at {width}")
    buyer.get_by_role("link", name="Release 300.00 USD without delivery").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Release 300.00 USD to Sam Seller before delivery?")
    expect(dialog.locator("[data-confirm-warning]")).to_contain_text(
        "Sam Seller has not marked “Stage 0” delivered."
    )
    shots(buyer, f"cf-01-release-undelivered-dialog-{width}")
    assert_accessible(buyer, f"release dialog at {width}")
    dialog.get_by_role("button", name="Not yet").click()
    expect(buyer.locator("dialog[open]")).to_have_count(0)
    assert refresh(milestones(escrow)[0]).status == MilestoneStatus.PENDING

    # -- the payment page tells when the seller is paid, before paying --------------------------------
    buyer.goto(f"{site}/pay/{unpaid.payment_token}")
    terms = buyer.locator("[data-review-terms]")
    expect(terms).to_contain_text("automatically 14 days after the seller marks it delivered")
    expect(terms).to_contain_text("ask for more time (once, 7 days more), or open a dispute")
    expect(buyer.get_by_text("nothing reaches the seller before you confirm")).to_have_count(0)
    shots(buyer, f"cf-02-pay-page-terms-{width}")
    assert_accessible(buyer, f"payment page at {width}")

    # -- the seller: cancel an unpaid escrow, refund the rest of a funded one --------------------------
    log_in(seller, site, seller_user.email)
    seller.goto(f"{site}/escrows/{unpaid.public_id}/")
    seller.get_by_role("button", name="Cancel escrow").click()
    dialog = seller.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Cancel this escrow?")
    expect(dialog).to_contain_text("Nobody has paid yet, so no money moves. The payment link for 203.00 USD")
    shots(seller, f"cf-03-cancel-dialog-{width}")
    assert_accessible(seller, f"cancel dialog at {width}")
    dialog.get_by_role("button", name="Cancel escrow").click()
    expect(seller.locator(".flash").first).to_contain_text("Escrow cancelled.")
    assert refresh(unpaid).status == EscrowStatus.CANCELLED

    seller.goto(escrow_url)
    expect(seller.locator("[data-actions]")).to_have_count(0)  # nothing shouts at the top
    seller.get_by_role("button", name="Refund the rest to the buyer").click()
    dialog = seller.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Refund 1,000.00 USD to the buyer's balance?")
    expect(dialog).to_contain_text("This closes the escrow.")
    shots(seller, f"cf-04-refund-rest-dialog-{width}")
    assert_accessible(seller, f"refund dialog at {width}")
    dialog.get_by_role("button", name="Refund 1,000.00 USD").click()
    expect(seller.locator(".flash").first).to_contain_text("Refunded 1,000.00 USD to the buyer's balance.")
    assert refresh(escrow).status == EscrowStatus.REFUNDED
    assert native == [], "window.confirm was used"
    assert_ledger_invariants()


def test_without_javascript_each_action_is_its_own_page(browser: Browser, site: str, shots) -> None:
    seller_user = UserFactory(email="cf-nojs-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="cf-nojs-buyer@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow(seller_user, parts=(30_000, 70_000), title="Shop redesign")
    fund(escrow, buyer_user)
    seller = browser.new_context(java_script_enabled=False, viewport=PHONE).new_page()
    log_in(seller, site, seller_user.email)
    seller.goto(f"{site}/escrows/{escrow.public_id}/")
    seller.get_by_role("button", name="Refund the rest to the buyer").click()  # a link to a page
    expect(seller.get_by_role("heading", name="Refund 1,000.00 USD to the buyer's balance?")).to_be_visible()
    shots(seller, "cf-10-nojs-refund-rest-page")
    assert refresh(escrow).status == EscrowStatus.OPENED, "the page asked; nothing moved"
    seller.get_by_role("button", name="Not now").click()
    expect(seller.get_by_role("heading", name="Shop redesign")).to_be_visible()
    assert refresh(escrow).status == EscrowStatus.OPENED
    seller.get_by_role("button", name="Refund the rest to the buyer").click()
    seller.get_by_role("button", name="Refund 1,000.00 USD").click()
    expect(seller.locator(".flash")).to_contain_text("Refunded 1,000.00 USD")
    assert refresh(escrow).status == EscrowStatus.REFUNDED
    # The same page, with JavaScript, for axe at both widths.
    page = browser.new_context(viewport=DESKTOP).new_page()
    log_in(page, site, buyer_user.email)
    other = make_escrow(seller_user, parts=(30_000, 70_000), title="Second job")
    fund(other, buyer_user)
    page.goto(f"{site}/escrows/{other.public_id}/milestones/{milestones(other)[0].public_id}/release/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Release 300.00 USD to Sam Seller before delivery?"
    )
    for label, size in WIDTHS.items():
        page.set_viewport_size(size)
        shots(page, f"cf-11-release-page-{label}")
        assert_accessible(page, f"release confirmation page at {label}")


def test_a_dispute_keeps_what_was_typed_asks_first_and_shows_as_disputed(
    browser: Browser, site: str, shots, width: str
) -> None:
    seller_user = UserFactory(
        email=f"cf-dsp-seller-{width}@example.test", first_name="Sam", last_name="Seller"
    )
    buyer_user = UserFactory(email=f"cf-dsp-buyer-{width}@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow(seller_user, parts=(30_000, 70_000), title="Kitchen refit")
    fund(escrow, buyer_user)
    make_escrow(seller_user, parts=(10_000, 10_000), title="Roof repair")
    buyer = browser.new_context(viewport=WIDTHS[width]).new_page()
    native: list[str] = []
    watch_native_dialogs(buyer, native)
    log_in(buyer, site, buyer_user.email)
    buyer.goto(f"{site}/escrows/{escrow.public_id}/")
    expect(buyer.locator('[data-action="dispute"]')).to_have_count(0)  # no link on every stage
    buyer.locator('[data-action="dispute-stage"]').click()
    buyer.get_by_label("Stage 1 · 700.00 USD").check()
    buyer.get_by_label("What went wrong?").fill("The cabinets are the wrong colour.")
    buyer.get_by_label("Evidence", exact=True).fill("Ordered white, got grey.")
    buyer.get_by_label("Split between them").check()
    buyer.get_by_label("Seller gets").fill("400.00")
    buyer.get_by_label("Buyer gets").fill("400.00")
    buyer.get_by_role("button", name="Review and open").click()
    # Refused: everything typed is still there, the message is in the currency, on its field.
    expect(buyer.locator("main")).to_contain_text(
        "The split must add up to the disputed amount, 700.00 USD: 400.00 USD + 400.00 USD is 800.00 USD"
    )
    expect(buyer.get_by_label("What went wrong?")).to_have_value("The cabinets are the wrong colour.")
    expect(buyer.get_by_label("Evidence", exact=True)).to_have_value("Ordered white, got grey.")
    expect(buyer.get_by_label("Seller gets")).to_have_value("400.00")
    expect(buyer.get_by_label("Split between them")).to_be_checked()
    expect(buyer.get_by_role("heading", level=1)).to_have_text(
        "Dispute “Stage 1” (700.00 USD)"
    )  # the stage kept
    expect(buyer.locator("main")).not_to_contain_text("minor units")
    shots(buyer, f"cf-20-dispute-wrong-split-{width}")
    assert_accessible(buyer, f"dispute form after a wrong split at {width}")
    buyer.get_by_label("Buyer gets").fill("300.00")
    buyer.get_by_role("button", name="Review and open").click()
    expect(buyer.get_by_role("heading", level=1)).to_have_text(
        "Open a dispute about stage 2, “Stage 1” and freeze 700.00 USD?"
    )
    expect(buyer.locator("main")).to_contain_text(
        "You ask for: 400.00 USD to the seller and 300.00 USD back to the buyer."
    )
    expect(buyer.locator("main")).to_contain_text("If they contest, an arbiter (our staff)")
    shots(buyer, f"cf-21-dispute-confirm-{width}")
    assert_accessible(buyer, f"dispute confirmation at {width}")
    assert not Dispute.objects.exists()
    buyer.get_by_role("button", name="Open dispute and freeze 700.00 USD").click()
    expect(buyer.locator(".flash").first).to_contain_text("Dispute opened. 700.00 USD is frozen")
    expect(buyer.locator("[data-what-happens]")).to_contain_text(
        "If they have not answered by then, the buyer's request applies: "
        "400.00 USD to the seller and 300.00 USD back to the buyer."
    )
    shots(buyer, f"cf-22-dispute-page-{width}")
    assert_accessible(buyer, f"dispute page at {width}")
    dispute = Dispute.objects.get()
    assert (dispute.default_seller_amount, dispute.default_buyer_amount) == (40_000, 30_000)

    # -- withdrawing asks in a dialog (not window.confirm) ----------------------------------------------
    buyer.get_by_role("button", name="Withdraw dispute").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Withdraw this dispute?")
    expect(dialog).to_contain_text("700.00 USD is no longer frozen")
    assert_accessible(buyer, f"withdraw dialog at {width}")
    dialog.get_by_role("button", name="Keep the dispute").click()
    assert refresh(dispute).status == DisputeStatus.OPEN

    # -- the seller's dashboard: Disputed, and the Disputed filter finds it -----------------------------
    seller = browser.new_context(viewport=WIDTHS[width]).new_page()
    log_in(seller, site, seller_user.email)
    row = seller.locator(".escrow-row", has_text="Kitchen refit")
    expect(row.locator("[data-status]")).to_have_text("Disputed")
    seller.get_by_label("Status").select_option("DISPUTED")
    expect(seller.locator(".escrow-row")).to_have_count(1)
    expect(seller.locator(".escrow-row")).to_contain_text("Kitchen refit")
    shots(seller, f"cf-23-dashboard-disputed-{width}")
    assert_accessible(seller, f"dashboard filtered to Disputed at {width}")
    assert native == []


def test_an_api_key_is_shown_once_after_a_redirect_and_revoking_asks(
    browser: Browser, site: str, shots, width: str
) -> None:
    user = UserFactory(email=f"cf-keys-{width}@example.test")
    context = browser.new_context(viewport=WIDTHS[width])
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    native: list[str] = []
    watch_native_dialogs(page, native)
    log_in(page, site, user.email)
    page.goto(site + "/settings/api-keys/")
    page.get_by_label("Name").fill("Backend")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("New API key")
    expect(key).to_have_value(re.compile(r"^sk_test_"))
    secret = key.input_value()
    expect(page).to_have_url(site + "/settings/api-keys/")  # the page after the redirect
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shots(page, f"cf-30-api-key-created-{width}")
    assert_accessible(page, f"API keys page with a new key at {width}")
    page.reload()
    expect(page.get_by_label("New API key")).to_have_count(0)
    assert APIKey.objects.filter(user=user).count() == 1, "a reload created no second key"

    page.get_by_role("button", name="Revoke").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_contain_text("Revoke “Backend”")
    shots(page, f"cf-31-api-key-revoke-dialog-{width}")
    assert_accessible(page, f"revoke dialog at {width}")
    dialog.get_by_role("button", name="Revoke key").click()
    expect(page.locator(".flash").first).to_contain_text("It no longer works.")
    assert APIKey.objects.get(user=user).revoked
    assert native == []


def test_staff_see_which_disputes_are_theirs_to_decide(
    browser: Browser, site: str, shots, width: str
) -> None:
    seller_user = UserFactory(
        email=f"cf-arb-seller-{width}@example.test", first_name="Sam", last_name="Seller"
    )
    buyer_user = UserFactory(email=f"cf-arb-buyer-{width}@example.test", first_name="Bea", last_name="Buyer")
    staff_user = UserFactory(email=f"cf-arb-staff-{width}@example.test", is_staff=True)
    escrow = make_escrow(seller_user, parts=(30_000, 70_000), title="Shop redesign")
    fund(escrow, buyer_user)
    first, second = milestones(escrow)
    contested = services.dispute_open(escrow=escrow, milestone=first, by=buyer_user, reason="Late")
    services.dispute_answer(dispute=contested, by=seller_user, answer="contest", text="It was on time")
    services.dispute_open(escrow=escrow, milestone=second, by=buyer_user, reason="Never started")
    staff = browser.new_context(viewport=WIDTHS[width]).new_page()
    log_in(staff, site, staff_user.email)
    staff.goto(site + "/staff/disputes/")
    rows = staff.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(staff.locator("[data-next]", has_text="Contested: yours to decide")).to_have_count(1)
    expect(staff.locator("[data-next]", has_text="The buyer's request applies")).to_have_count(1)
    shots(staff, f"cf-40-staff-disputes-{width}")
    assert_accessible(staff, f"staff disputes at {width}")
    staff.goto(f"{site}/escrows/{escrow.public_id}/disputes/{contested.public_id}/")
    expect(staff.locator("[data-what-happens]")).to_contain_text(
        "so an arbiter decides: nothing moves by itself"
    )
    shots(staff, f"cf-41-contested-dispute-{width}")
    assert_accessible(staff, f"contested dispute page at {width}")
