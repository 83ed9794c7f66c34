"""Agreements that change, in a real browser, as the seller and the buyer do it in two windows
with JavaScript on: a funded 3-stage escrow gets a fourth stage by a change order the seller
proposes (the buyer pays the increase and its fee from their balance, after a dialog that states
the money), the buyer proposes a lower amount for stage 2 (the seller accepts; the difference goes
back to the buyer's balance), stage 1 is sent back once with a note and delivered again, then
released in two parts, and the rest of the stages until the escrow completes. Both balances come
out exact, the terms history names each version and who agreed. The same proposal and acceptance
work without JavaScript, through their confirmation pages.

Screenshots at a desktop's width (1366 px) and a phone's (375 px) go to test-artifacts/ as
ag-*-desktop.png and ag-*-phone.png; the phone's never scrolls sideways; axe-core finds no critical
or serious violation on the escrow page with an open proposal, in the acceptance dialog and with a
partly released stage."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from escrows import services
from escrows.models import EscrowStatus, MilestoneStatus
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.e2e.browser import balance_total, log_in
from tests.e2e.conftest import ARTIFACTS
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, milestones, refresh

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 375, "height": 812}}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def assert_accessible(page: Page, what: str) -> None:
    """axe-core: no critical and no serious violation on the page as it is now (a dialog open too)."""
    results = Axe().run(page, options={"runOnly": WCAG})
    bad = [v for v in results.response["violations"] if v.get("impact") in ("critical", "serious")]
    assert bad == [], f"{what}:\n{results.generate_report()}"


def at_both_widths(page: Page, name: str, *, axe: str = "") -> None:
    """A screenshot at each width (ag-<name>-desktop / -phone): the whole page, or with a dialog
    open what the person sees (a whole-page picture would draw the dialog mid-page over half a
    backdrop); on the phone nothing scrolls sideways; with `axe`, axe-core checks the page at each
    width. The page ends at the desktop's width."""
    ARTIFACTS.mkdir(exist_ok=True)
    dialog_open = page.locator("dialog[open]").count() > 0
    for label, size in WIDTHS.items():
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"ag-{name}-{label}.png"), full_page=not dialog_open)
        if label == "phone":
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= size["width"], f"{name} scrolls sideways on a phone: {wide} px wide"
        if axe:
            assert_accessible(page, f"{axe} at {label}")
    page.set_viewport_size(WIDTHS["desktop"])


def flash(page: Page):
    return page.locator(".flash").first


def make_escrow_to_pay(seller_user, *, title: str):
    """The seller's 3-stage escrow awaiting payment: 300.00, 500.00 and 200.00 USD, 15.00 USD fee."""
    return services.escrow_create(
        seller=seller_user,
        terms=EscrowTerms(title=title, currency="USD", amount=100_000),
        milestones=[
            MilestoneInput(amount=30_000, title="Designs"),
            MilestoneInput(amount=50_000, title="Build"),
            MilestoneInput(amount=20_000, title="Launch"),
        ],
    )


def stage(page: Page, n: int):
    return page.locator(f"#stage-{n}")


def deliver(seller: Page, n: int, note: str) -> None:
    stage(seller, n).get_by_role("button", name=re.compile("^(Mark delivered|Deliver again)$")).click()
    stage(seller, n).get_by_label("What did you deliver?").fill(note)
    stage(seller, n).get_by_role("button", name="Send to buyer").click()
    expect(flash(seller)).to_contain_text("delivered. The buyer can now confirm it.")


def release(buyer: Page, n: int, amount: str) -> None:
    stage(buyer, n).get_by_role("button", name=f"Confirm & release {amount}").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_contain_text(f"Release {amount} to Sam Seller?")
    dialog.get_by_role("button", name=f"Release {amount}").click()
    expect(flash(buyer)).to_contain_text(f"Released {amount} to Sam Seller")


def test_a_funded_escrow_changes_is_sent_back_released_in_parts_and_completes(
    browser: Browser, site: str
) -> None:
    seller_user = UserFactory(email="ag-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="ag-buyer@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow_to_pay(seller_user, title="Shop redesign")
    # What the escrow costs (1,015.00 USD) and 500.00 USD more on the buyer's balance.
    services.wallet_topup(customer=buyer_user, amount=151_500, currency="USD")
    detail = f"{site}/escrows/{escrow.public_id}/"
    seller = browser.new_context(viewport=WIDTHS["desktop"]).new_page()
    buyer = browser.new_context(viewport=WIDTHS["desktop"]).new_page()
    native: list[str] = []
    for page in (seller, buyer):
        page.on("dialog", lambda d: (native.append(d.message), d.dismiss()))
    log_in(seller, site, seller_user.email)
    log_in(buyer, site, buyer_user.email)

    # -- the buyer pays from their balance: their agreement to the terms as they stand ------------
    buyer.goto(f"{site}/pay/{escrow.payment_token}")
    buyer.get_by_label("Wallet balance").check()
    buyer.get_by_role("button", name="Pay 1,015.00 USD").click()
    expect(buyer.get_by_role("heading", name="Shop redesign")).to_be_visible()
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert wallet_balance(buyer_user, "USD") == 50_000

    # -- the seller proposes a fourth stage -------------------------------------------------------
    seller.goto(detail)
    seller.get_by_role("button", name="Propose a change").click()
    expect(seller.get_by_role("heading", name="Propose a change")).to_be_visible()
    new = seller.locator('[data-new-stage="1"]')
    new.get_by_label("Title").fill("Launch support")
    new.get_by_label("Amount").fill("400.00")
    seller.get_by_label("Note to the other party (optional)").fill("Two weeks of support after launch.")
    at_both_widths(seller, "01-propose-form")
    seller.get_by_role("button", name="Review the change…").click()
    expect(seller.get_by_role("heading", level=1)).to_have_text("Send this change to the buyer?")
    review = seller.locator("main")
    expect(review).to_contain_text("New total: 1,400.00 USD (was 1,000.00 USD)")
    expect(review).to_contain_text("The buyer pays 406.00 USD (400.00 USD + 6.00 USD fee)")
    expect(review).to_contain_text("Nothing changes and no money moves until the buyer accepts.")
    at_both_widths(seller, "02-propose-review", axe="the review of a proposal")
    seller.get_by_role("button", name="Send proposal").click()
    expect(flash(seller)).to_contain_text("Change proposed. The buyer can accept or decline it.")
    proposal = seller.locator("[data-change-order]")
    expect(proposal).to_contain_text("You proposed a change")
    expect(proposal.locator("[data-change-money]")).to_contain_text(
        "New total 1,400.00 USD (was 1,000.00 USD). The buyer pays 406.00 USD more "
        "(400.00 USD + 6.00 USD fee) when it is accepted."
    )
    at_both_widths(seller, "03-open-proposal-seller", axe="the escrow page with the seller's open proposal")

    # -- the buyer accepts and pays the increase from their balance, after the dialog -------------
    buyer.goto(detail)
    proposal = buyer.locator("[data-change-order]")
    expect(proposal).to_contain_text("The seller proposes a change")
    expect(proposal.locator("[data-change-money]")).to_contain_text(
        "You pay 406.00 USD more (400.00 USD + 6.00 USD fee) when it is accepted."
    )
    expect(proposal).to_contain_text("Two weeks of support after launch.")
    expect(proposal.get_by_label("Wallet balance")).to_be_checked()
    at_both_widths(buyer, "04-open-proposal-buyer", axe="the escrow page with an open proposal to answer")
    proposal.get_by_role("button", name="Review & accept…").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Accept the change and pay 406.00 USD?")
    expect(dialog.get_by_role("listitem")).to_have_text(
        [
            "Stage 4 “Launch support” added (400.00 USD)",
            "New total: 1,400.00 USD (was 1,000.00 USD)",
            "You pay 406.00 USD (400.00 USD + 6.00 USD fee), from your balance (it holds 500.00 USD)",
        ]
    )
    at_both_widths(buyer, "05-accept-dialog", axe="the dialog accepting a change that costs money")
    assert wallet_balance(buyer_user, "USD") == 50_000, "the dialog asked; nothing moved"
    dialog.get_by_role("button", name="Accept & pay 406.00 USD").click()
    expect(flash(buyer)).to_have_text(
        re.compile(
            "Change agreed: the buyer paid 406.00 USD, fee included. The escrow's total is now 1,400.00 USD."
        )
    )
    expect(stage(buyer, 4)).to_contain_text("Launch support")
    expect(stage(buyer, 4)).to_contain_text("400.00 USD")
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("1,400.00 USD")
    assert wallet_balance(buyer_user, "USD") == 9_400

    # -- the buyer proposes stage 2 for less; the seller accepts and the difference goes back --------
    buyer.get_by_role("button", name="Propose a change").click()
    buyer.get_by_label("Stage 2 amount").fill("350.00")
    buyer.get_by_label("Note to the other party (optional)").fill("We keep the blog out of the build.")
    buyer.get_by_role("button", name="Review the change…").click()
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Send this change to the seller?")
    expect(buyer.locator("main")).to_contain_text("New total: 1,250.00 USD (was 1,400.00 USD)")
    expect(buyer.locator("main")).to_contain_text("150.00 USD")
    buyer.get_by_role("button", name="Send proposal").click()
    expect(flash(buyer)).to_contain_text("Change proposed. The seller can accept or decline it.")

    seller.goto(detail)
    proposal = seller.locator("[data-change-order]")
    expect(proposal).to_contain_text("The buyer proposes a change")
    expect(proposal.locator("[data-change-money]")).to_contain_text(
        "150.00 USD goes back to the buyer when it is accepted."
    )
    proposal.get_by_role("button", name="Review & accept…").click()
    dialog = seller.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text(
        "Accept the change and give 150.00 USD back to the buyer?"
    )
    expect(dialog).to_contain_text("We keep the blog out of the build.")
    at_both_widths(seller, "06-accept-decrease-dialog", axe="the dialog accepting a lower amount")
    dialog.get_by_role("button", name="Accept & refund 150.00 USD").click()
    expect(flash(seller)).to_have_text(
        re.compile(
            "Change agreed: 150.00 USD went back to the buyer. The escrow's total is now 1,250.00 USD."
        )
    )
    expect(stage(seller, 2)).to_contain_text("350.00 USD")
    expect(seller.locator('[data-ledger="held"]')).to_have_text("1,250.00 USD")
    assert wallet_balance(buyer_user, "USD") == 24_400

    # -- stage 1: delivered, sent back once with a note, delivered again ------------------------------
    deliver(seller, 1, "First designs: home, product and checkout.")
    buyer.goto(detail)
    stage(buyer, 1).get_by_role("button", name="Request changes").click()
    stage(buyer, 1).get_by_label("What needs to change?").fill("The checkout needs a guest option.")
    at_both_widths(buyer, "07-request-changes")
    stage(buyer, 1).get_by_role("button", name="Send back for changes").click()
    expect(flash(buyer)).to_contain_text("Sent “Designs” back to Sam Seller for changes (round 1).")
    seller.goto(detail)
    sent_back = stage(seller, 1).locator("[data-changes-requested]")
    expect(sent_back).to_contain_text("Changes requested (round 1)")
    expect(sent_back).to_contain_text("deliver it again when it is done")
    expect(sent_back).to_contain_text("The checkout needs a guest option.")
    at_both_widths(seller, "08-sent-back-seller", axe="the escrow page with a stage sent back")
    expect(stage(seller, 1).get_by_role("button", name="Deliver again")).to_be_visible()
    deliver(seller, 1, "Checkout with a guest option.")

    # -- released in two parts: 100.00 USD now, then the rest --------------------------------------
    buyer.goto(detail)
    stage(buyer, 1).get_by_role("button", name="Release part").click()
    stage(buyer, 1).get_by_label("Amount to release").fill("100.00")
    stage(buyer, 1).get_by_role("button", name="Release part…").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Release 100.00 USD of “Designs” to Sam Seller now?")
    expect(dialog).to_contain_text(
        "100.00 USD goes to Sam Seller's balance now and cannot be taken back; "
        "200.00 USD stays held for this stage."
    )
    at_both_widths(buyer, "09-release-part-dialog", axe="the dialog releasing part of a stage")
    dialog.get_by_role("button", name="Release 100.00 USD").click()
    expect(flash(buyer)).to_contain_text(
        "Released 100.00 USD to Sam Seller; 200.00 USD stays held for this stage."
    )
    expect(stage(buyer, 1).locator("[data-part-released]")).to_have_text(
        "Released 100.00 USD of 300.00 USD; 200.00 USD held."
    )
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("1,150.00 USD")
    at_both_widths(buyer, "10-partly-released", axe="the escrow page with a partly released stage")
    assert refresh(milestones(escrow)[0]).status == MilestoneStatus.COMPLETED

    stage(buyer, 1).get_by_role("button", name="Confirm & release the rest, 200.00 USD").click()
    dialog = buyer.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("Release 200.00 USD to Sam Seller?")
    expect(dialog).to_contain_text(
        "100.00 USD of its 300.00 USD was released before: this releases the rest."
    )
    dialog.get_by_role("button", name="Release 200.00 USD").click()
    expect(flash(buyer)).to_contain_text("Released 200.00 USD to Sam Seller")
    expect(stage(buyer, 1).locator("[data-part-released]")).to_have_text("Released in parts.")

    # -- the other stages, delivered and released, until the escrow completes -----------------------
    for n, amount in ((2, "350.00 USD"), (3, "200.00 USD"), (4, "400.00 USD")):
        seller.goto(detail)
        deliver(seller, n, f"Stage {n} done.")
        buyer.goto(detail)
        release(buyer, n, amount)

    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.COMPLETED
    assert [(m.title, m.amount, m.status) for m in milestones(escrow)] == [
        ("Designs", 30_000, MilestoneStatus.RELEASED),
        ("Build", 35_000, MilestoneStatus.RELEASED),
        ("Launch", 20_000, MilestoneStatus.RELEASED),
        ("Launch support", 40_000, MilestoneStatus.RELEASED),
    ]
    # The seller has every stage as changed; the buyer has the 500.00 USD they had over, less the
    # fourth stage and its fee, and the 150.00 USD back.
    assert wallet_balance(seller_user, "USD") == 125_000
    assert wallet_balance(buyer_user, "USD") == 50_000 - 40_600 + 15_000

    seller.goto(detail)
    expect(seller.locator(".escrow-head [data-status]")).to_have_text("Completed")
    expect(stage(seller, 1).locator("[data-changes-requested]")).to_contain_text(
        "Changes requested (round 1)"
    )
    # Newest first, each with who proposed it, who agreed and what it changed.
    day = r"\d{1,2} \w{3} \d{4}"
    expect(seller.locator("[data-terms-history] li")).to_have_text(
        [
            re.compile(
                rf"^Version 3 \(current\) — proposed by the buyer on {day}, agreed by you on {day}: "
                "stage 2 “Build”: amount 500.00 USD → 350.00 USD \\(total 1,250.00 USD\\)$"
            ),
            re.compile(
                rf"^Version 2 — proposed by you on {day}, agreed by the buyer on {day}: "
                "stage 4 “Launch support” added \\(400.00 USD\\) \\(total 1,400.00 USD\\)$"
            ),
            re.compile(
                rf"^Version 1 — proposed by you on {day}, agreed by the buyer on {day} \(by paying\): "
                "created: 3 stages, 1,000.00 USD \\+ 15.00 USD fee, 14-day inspection period$"
            ),
        ]
    )
    expect(seller.locator('[data-event="change_order.accepted"]').first).to_contain_text(
        "The buyer paid 400.00 USD more, with 6.00 USD fee."
    )
    at_both_widths(seller, "11-completed-seller", axe="the completed escrow")

    seller.goto(site + "/balance/")
    expect(balance_total(seller, "Available")).to_have_text("1,250.00 USD")
    buyer.goto(site + "/balance/")
    expect(balance_total(buyer, "Available")).to_have_text("244.00 USD")
    at_both_widths(buyer, "12-balance-buyer")
    assert native == [], "window.confirm was used"
    assert_ledger_invariants()


def test_without_javascript_a_change_is_proposed_and_accepted_through_its_pages(
    browser: Browser, site: str
) -> None:
    seller_user = UserFactory(email="ag-nojs-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="ag-nojs-buyer@example.test", first_name="Bea", last_name="Buyer")
    escrow = make_escrow_to_pay(seller_user, title="Plain HTML shop")
    services.wallet_topup(customer=buyer_user, amount=111_500, currency="USD")
    services.escrow_fund(escrow=escrow, by=buyer_user)
    detail = f"{site}/escrows/{escrow.public_id}/"
    seller = browser.new_context(java_script_enabled=False, viewport=WIDTHS["phone"]).new_page()
    buyer = browser.new_context(java_script_enabled=False, viewport=WIDTHS["phone"]).new_page()
    log_in(seller, site, seller_user.email)
    log_in(buyer, site, buyer_user.email)

    seller.goto(detail)
    seller.get_by_role("button", name="Propose a change").click()
    new = seller.locator('[data-new-stage="1"]')
    new.get_by_label("Title").fill("Extra page")
    new.get_by_label("Amount").fill("100.00")
    seller.get_by_role("button", name="Review the change…").click()
    expect(seller.get_by_role("heading", level=1)).to_have_text("Send this change to the buyer?")
    expect(seller.locator("main")).to_contain_text("The buyer pays 101.50 USD (100.00 USD + 1.50 USD fee)")
    at_both_widths(seller, "20-nojs-propose-review")
    seller.get_by_role("button", name="Send proposal").click()
    expect(flash(seller)).to_contain_text("Change proposed. The buyer can accept or decline it.")

    buyer.goto(detail)
    buyer.get_by_label("Wallet balance").check()
    buyer.get_by_role("button", name="Review & accept…").click()  # a page, not a dialog
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Accept the change and pay 101.50 USD?")
    expect(buyer.locator("main")).to_contain_text(
        "You pay 101.50 USD (100.00 USD + 1.50 USD fee), from your balance (it holds 100.00 USD)"
    )
    at_both_widths(buyer, "21-nojs-accept-page")
    assert refresh(escrow).amount == 100_000, "the page asked; nothing moved"
    buyer.get_by_role("button", name="Accept & pay 101.50 USD").click()
    # 100.00 USD on the balance is short of 101.50 USD: refused in words, nothing moved.
    expect(flash(buyer)).to_have_text(
        re.compile(
            re.escape(
                "This change costs you 101.50 USD (100.00 USD + 1.50 USD fee) and your balance holds "
                "100.00 USD; nothing was charged. Top up your balance or pay by card, then accept again."
            )
        )
    )
    assert refresh(escrow).amount == 100_000
    assert wallet_balance(buyer_user, "USD") == 10_000
    services.wallet_topup(customer=buyer_user, amount=150, currency="USD")
    buyer.get_by_role("button", name="Review & accept…").click()
    buyer.get_by_role("button", name="Accept & pay 101.50 USD").click()
    expect(flash(buyer)).to_contain_text(
        "Change agreed: the buyer paid 101.50 USD, fee included. The escrow's total is now 1,100.00 USD."
    )
    escrow = refresh(escrow)
    assert escrow.amount == 110_000
    assert [m.title for m in milestones(escrow)] == ["Designs", "Build", "Launch", "Extra page"]
    assert wallet_balance(buyer_user, "USD") == 0
    assert_ledger_invariants()
