"""The whole product in a real browser: a seller signs up (confirming the email with the mailed
code) and creates a 3-milestone escrow; a buyer opens the payment link, signs up, tops up, pays,
and confirms each stage through the confirmation step; both dashboards end COMPLETED with the
right balances."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from escrows.models import Escrow, EscrowStatus
from escrows.selectors import wallet_balance
from tests.e2e.browser import DESKTOP, PHONE, balance_total
from tests.helpers import assert_ledger_invariants, mailed_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_up(page: Page, email: str, first: str, last: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase-9")
    page.get_by_label("Password confirmation").fill("a-long-pass-phrase-9")
    page.get_by_role("button", name="Create account").click()
    # The account opens once the address is confirmed with the code mailed to it.
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    page.get_by_label("Code").fill(mailed_code(email))
    page.get_by_role("button", name="Confirm", exact=True).click()


def flash(page: Page) -> str:
    return page.locator(".flash").first.inner_text()


def test_seller_and_buyer_complete_a_three_stage_escrow(browser: Browser, site: str, shots) -> None:
    seller_ctx = browser.new_context(viewport=DESKTOP)
    buyer_ctx = browser.new_context(viewport=DESKTOP)
    seller = seller_ctx.new_page()
    buyer = buyer_ctx.new_page()

    # -- seller: landing, sign up, empty dashboard ------------------------------------------
    seller.goto(site + "/")
    shots(seller, "01-landing")
    seller.get_by_role("button", name="Create an account").click()
    shots(seller, "02-signup")
    sign_up(seller, "sally@example.test", "Sally", "Seller")
    expect(seller).to_have_url(re.compile(r"/dashboard/$"))
    expect(seller.get_by_text("You are not selling anything yet")).to_be_visible()
    shots(seller, "03-dashboard-empty")

    # -- seller: new escrow with three milestones (third row added in the page) ---------------
    seller.get_by_role("button", name="Create your first escrow").click()
    seller.get_by_label("Title", exact=True).fill("Brand identity")
    seller.get_by_label("Description").fill("Logo, colour palette and brand guide")
    seller.get_by_label("Total amount").fill("1000.00")
    expect(seller.locator("[data-total]")).to_have_text("1,015.00 USD")  # htmx fee quote
    expect(seller.locator("[data-fee]")).to_have_text("15.00 USD")
    rows = seller.locator("[data-rows] [data-row]")
    expect(rows).to_have_count(2)
    seller.get_by_role("button", name="+ Add milestone").click()
    expect(rows).to_have_count(3)
    for i, (title, amount) in enumerate([("Logo", "300.00"), ("Palette", "500.00"), ("Guide", "150.00")]):
        rows.nth(i).get_by_label("Stage title").fill(title)
        rows.nth(i).get_by_label("Stage amount").fill(amount)
    expect(seller.locator("[data-sum-check]")).to_contain_text("50.00 USD left to assign")
    rows.nth(2).get_by_label("Stage amount").fill("200.00")
    expect(seller.locator("[data-sum-check]")).to_contain_text("add up to the escrow amount")
    shots(seller, "04-new-escrow")
    seller.set_viewport_size(PHONE)
    shots(seller, "04-new-escrow-phone")
    seller.set_viewport_size(DESKTOP)
    seller.get_by_role("button", name="Create escrow").click()
    expect(seller.get_by_role("heading", name="Brand identity")).to_be_visible()
    assert "Escrow created" in flash(seller)
    pay_url = seller.locator("[data-pay-url]").input_value()
    assert "/pay/pt_" in pay_url
    shots(seller, "05-escrow-seller-unpaid")

    # -- buyer: payment link while logged out, sign up, come back ----------------------------
    buyer.goto(pay_url)
    expect(buyer.get_by_text("1,015.00 USD").first).to_be_visible()
    shots(buyer, "06-pay-link-anonymous")
    buyer.set_viewport_size(PHONE)
    shots(buyer, "06-pay-link-anonymous-phone")
    buyer.set_viewport_size(DESKTOP)
    buyer.get_by_role("button", name="Sign up to pay").click()
    sign_up(buyer, "bob@example.test", "Bob", "Buyer")
    expect(buyer).to_have_url(pay_url)

    # -- buyer: top up the shortfall, pay from the wallet ------------------------------------
    expect(buyer.locator("[data-wallet]")).to_have_text("0.00 USD")
    shots(buyer, "07-pay-link-short")
    buyer.get_by_role("button", name="Top up").click()
    expect(buyer).to_have_url(pay_url)
    expect(buyer.locator("[data-wallet]")).to_have_text("1,015.00 USD")
    buyer.get_by_label("Wallet balance").check()
    expect(buyer.get_by_label("Test card token")).to_be_hidden()
    shots(buyer, "08-pay-link-ready")
    buyer.get_by_role("button", name="Pay 1,015.00 USD").click()
    expect(buyer.get_by_text("You are buying")).to_be_visible()
    assert "Paid 1,015.00 USD" in flash(buyer)
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("1,000.00 USD")

    # -- seller marks the first stage delivered with a proof --------------------------------
    seller.reload()
    seller.get_by_text("Mark delivered").click()
    seller.get_by_label("What did you deliver?").fill("Three logo concepts attached")
    seller.get_by_label("Link to the work (optional)").fill("https://example.test/logos")
    seller.get_by_role("button", name="Send to buyer").click()
    assert "delivered" in flash(seller)
    shots(seller, "09-escrow-seller-funded")

    # -- buyer confirms every stage through the confirmation step --------------------------
    buyer.reload()
    expect(buyer.locator(".proof").get_by_text("Three logo concepts attached")).to_be_visible()
    shots(buyer, "10-escrow-buyer-funded")
    buyer.set_viewport_size(PHONE)
    shots(buyer, "10-escrow-buyer-funded-phone")
    buyer.set_viewport_size(DESKTOP)
    for n, amount in enumerate(["300.00", "500.00", "200.00"], start=1):
        if n == 1:  # delivered: the primary button
            buyer.get_by_role("button", name=f"Confirm & release {amount} USD").click()
            heading = f"Release {amount} USD to Sally Seller?"
        else:  # never marked delivered: a secondary link, and the dialog says so
            expect(buyer.get_by_role("button", name=f"Confirm & release {amount} USD")).to_have_count(0)
            buyer.get_by_role("link", name=f"Release {amount} USD without delivery").click()
            heading = f"Release {amount} USD to Sally Seller before delivery?"
        dialog = buyer.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading")).to_have_text(heading)
        if n == 1:
            shots(buyer, "11-release-dialog")
            dialog.get_by_role("button", name="Not yet").click()
            expect(dialog).to_be_hidden()
            # Without JavaScript the same link is a confirmation page.
            href = buyer.get_by_role("button", name=f"Confirm & release {amount} USD").get_attribute("href")
            buyer.goto(site + href)
            expect(
                buyer.get_by_role("heading", name=f"Release {amount} USD to Sally Seller?")
            ).to_be_visible()
            shots(buyer, "12-release-confirm-page")
            buyer.get_by_role("button", name=f"Release {amount} USD").click()
        else:
            dialog.get_by_role("button", name=f"Release {amount} USD").click()
        assert f"Released {amount} USD to Sally Seller" in flash(buyer)
    expect(buyer.locator(".head-side .badge")).to_have_text("Completed")
    expect(buyer.locator('[data-ledger="released"]')).to_have_text("1,000.00 USD")
    expect(buyer.locator('[data-ledger="held"]')).to_have_text("0.00 USD")
    expect(buyer.locator("[data-actions]")).to_have_count(0)
    shots(buyer, "13-escrow-completed")

    # -- both dashboards show COMPLETED; balances are right --------------------------------
    buyer.get_by_role("link", name="Dashboard").click()
    buyer.get_by_role("link", name="Buying").click()
    expect(buyer.locator('.escrow-row [data-status="COMPLETED"]')).to_have_count(1)
    shots(buyer, "14-dashboard-buyer")
    buyer.get_by_role("link", name="Balance").click()
    expect(balance_total(buyer, "Available")).to_have_text("0.00 USD")
    shots(buyer, "15-balance-buyer")

    seller.get_by_role("link", name="Dashboard").click()
    row = seller.locator(".escrow-row")
    expect(row.locator('[data-status="COMPLETED"]')).to_have_count(1)
    expect(row).to_contain_text("1,000.00 USD released")
    shots(seller, "16-dashboard-seller")
    seller.set_viewport_size(PHONE)
    shots(seller, "16-dashboard-seller-phone")
    seller.set_viewport_size(DESKTOP)
    seller.get_by_role("link", name="Balance").click()
    expect(balance_total(seller, "Available")).to_have_text("1,000.00 USD")
    seller.locator("#withdraw_amount").fill("250.00")
    seller.get_by_label("Destination").fill("acct-sally-001")
    seller.get_by_role("button", name="Withdraw…").click()
    dialog = seller.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Pay out 250.00 USD to acct-sally-001?")).to_be_visible()
    dialog.get_by_role("button", name="Withdraw 250.00 USD").click()
    expect(balance_total(seller, "Available")).to_have_text("750.00 USD")
    statement = seller.locator("[data-statement-row]")
    expect(statement.first).to_contain_text("Payout to acct-sally-001")
    payouts = seller.get_by_role("article").filter(has=seller.get_by_role("heading", name="Payouts"))
    expect(payouts.get_by_role("row").nth(1)).to_contain_text("250.00 USD acct-sally-001")
    shots(seller, "17-balance-seller")
    seller.set_viewport_size(PHONE)
    shots(seller, "17-balance-seller-phone")

    escrow = Escrow.objects.get()
    assert escrow.status == EscrowStatus.COMPLETED
    assert wallet_balance(escrow.seller, "USD") == 75000
    assert wallet_balance(escrow.buyer, "USD") == 0
    assert_ledger_invariants()
    seller_ctx.close()
    buyer_ctx.close()
