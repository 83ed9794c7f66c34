"""Paying an escrow by card through Stripe in a real browser, against the local Stripe-compatible
server and its stand-in for Stripe.js (tests/stripe_fake.py, tests/stripe_js_fake.js): the buyer
chooses card, sees the Payment Element with the amount it charges, pays and lands on the escrow,
funded; Stripe's webhook for the same payment changes nothing more. A declined card shows
Stripe's reason on the page and another card then pays. Without JavaScript the card page says
card entry needs it and pays from the wallet instead. All under the Content-Security-Policy
(the csp_violations fixture fails the test on any violation), screenshotted at a desktop's and a
phone's width into test-artifacts/ (stripe-card-*.png) and checked by axe-core."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from escrow_site.settings import with_stripe_js
from escrows import services
from escrows.models import CardPayment, CardPaymentStatus, EscrowStatus, LedgerTransaction
from tests.e2e.browser import DESKTOP, PHONE, log_in
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, make_escrow, refresh
from tests.stripe_fake import deliver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
# 700.00 USD in two stages and its 10.50 USD fee.
PARTS = (20_000, 50_000)


@pytest.fixture
def stripe_page(stripe_fake, settings):
    """Cards through Stripe, with the stand-in for Stripe.js the policy lets in."""
    settings.STRIPE_PUBLISHABLE_KEY = stripe_fake.publishable_key
    settings.STRIPE_JS_URL = stripe_fake.js_url
    settings.SECURE_CSP = with_stripe_js(settings.SECURE_CSP, stripe_fake.js_url)
    return stripe_fake


def check_page(page: Page, shots, name: str) -> None:
    """A screenshot at each width (stripe-card-<name>-desktop / -phone), nothing scrolling
    sideways on the phone, and axe-core: no critical or serious violation. Ends at the desktop's
    width."""
    for label, size in WIDTHS.items():
        page.set_viewport_size(size)
        shots(page, f"stripe-card-{name}-{label}")
        if label == "phone":
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= size["width"], f"{name} scrolls sideways on a phone: {wide} px wide"
        results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
        bad = [v for v in results.response["violations"] if v.get("impact") in ("critical", "serious")]
        assert bad == [], f"{name} at {label}:\n{results.generate_report()}"
    page.set_viewport_size(DESKTOP)


def choose_card(page: Page, site: str, escrow) -> None:
    page.goto(f"{site}/pay/{escrow.payment_token}")
    page.get_by_label("Card", exact=True).check()
    expect(page.get_by_text("You enter your card on the next page")).to_be_visible()
    page.get_by_role("button", name="Pay 710.50 USD").click()
    expect(page.get_by_role("heading", name="Pay by card")).to_be_visible()


def fundings() -> int:
    return LedgerTransaction.objects.filter(kind="FUNDING").count()


def test_a_buyer_pays_by_card_through_stripe_and_the_webhook_changes_nothing_more(
    browser: Browser, site: str, shots, stripe_page
) -> None:
    seller = UserFactory(email="card-seller@example.test", first_name="Sam", last_name="Seller")
    buyer_user = UserFactory(email="card-buyer@example.test")
    escrow = make_escrow(seller, parts=PARTS, buyer=buyer_user)
    buyer = browser.new_context(viewport=DESKTOP).new_page()
    log_in(buyer, site, "card-buyer@example.test")

    choose_card(buyer, site, escrow)
    expect(buyer.locator("[data-charge]")).to_have_text("710.50 USD")
    expect(buyer.get_by_label("Visa ending 4242 (succeeds)")).to_be_checked()
    check_page(buyer, shots, "page")
    buyer.get_by_role("button", name="Pay 710.50 USD").click()

    expect(buyer).to_have_url(f"{site}/escrows/{escrow.public_id}/")
    expect(buyer.locator(".flash").first).to_have_text(
        "Paid 710.50 USD by card. The money is held in escrow until you confirm each stage."
    )
    check_page(buyer, shots, "funded")
    # What the browser sent Stripe: the publishable key and this payment's client secret.
    card_payment = CardPayment.objects.get()
    [confirm] = [r for r in stripe_page.requests if r[1].endswith("/confirm")]
    assert confirm[3]["authorization"] == "Bearer pk_test_local"
    intent = stripe_page.intents[card_payment.provider_reference]
    assert confirm[2]["client_secret"] == intent["client_secret"]
    assert confirm[2]["payment_method"] == "pm_card_visa"

    # Stripe's webhook for the same payment comes after the return: it funds nothing twice.
    [succeeded] = stripe_page.events_of("payment_intent.succeeded")
    response = deliver(Client(), stripe_page, succeeded)
    assert response.status_code == 200
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    assert fundings() == 1
    assert_ledger_invariants()


def test_a_declined_card_shows_stripes_reason_and_another_card_pays(
    browser: Browser, site: str, shots, stripe_page
) -> None:
    seller = UserFactory(email="decline-seller@example.test")
    buyer_user = UserFactory(email="decline-buyer@example.test")
    escrow = make_escrow(seller, parts=PARTS, buyer=buyer_user)
    buyer = browser.new_context(viewport=DESKTOP).new_page()
    log_in(buyer, site, "decline-buyer@example.test")

    choose_card(buyer, site, escrow)
    buyer.get_by_label("Visa ending 0002 (declined)").check()
    buyer.get_by_role("button", name="Pay 710.50 USD").click()

    expect(buyer.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(buyer.get_by_role("button", name="Pay 710.50 USD")).to_be_enabled()
    check_page(buyer, shots, "declined")
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT

    buyer.get_by_label("Visa ending 4242 (succeeds)").check()
    buyer.get_by_role("button", name="Pay 710.50 USD").click()
    expect(buyer).to_have_url(re.compile(rf"/escrows/{escrow.public_id}/$"))
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert CardPayment.objects.count() == 1 and fundings() == 1
    assert_ledger_invariants()


def test_without_javascript_the_card_page_offers_the_wallet(
    browser: Browser, site: str, shots, stripe_page
) -> None:
    seller = UserFactory(email="nojs-card-seller@example.test")
    buyer_user = UserFactory(email="nojs-card-buyer@example.test")
    escrow = make_escrow(seller, parts=PARTS, buyer=buyer_user)
    services.wallet_topup(customer=buyer_user, amount=escrow.total_charge, currency="USD")
    buyer = browser.new_context(viewport=DESKTOP, java_script_enabled=False).new_page()
    log_in(buyer, site, "nojs-card-buyer@example.test")

    buyer.goto(f"{site}/pay/{escrow.payment_token}")
    buyer.get_by_label("Card", exact=True).check()
    buyer.get_by_role("button", name="Pay 710.50 USD").click()

    needs = buyer.get_by_text("Entering a card needs JavaScript, which is off in this browser.")
    expect(needs).to_be_visible()
    expect(buyer.get_by_role("button", name="Pay 710.50 USD", exact=True)).to_be_hidden()
    for label, size in WIDTHS.items():
        buyer.set_viewport_size(size)
        shots(buyer, f"stripe-card-nojs-{label}")
    buyer.get_by_role("button", name="Pay 710.50 USD from your balance").click()

    expect(buyer).to_have_url(f"{site}/escrows/{escrow.public_id}/")
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert fundings() == 1
    assert_ledger_invariants()
