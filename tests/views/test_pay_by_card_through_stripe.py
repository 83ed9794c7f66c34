"""The payment page with cards through Stripe (a local Stripe-compatible server): choosing card
starts one PaymentIntent and shows Stripe's Payment Element with the amount it charges; without
JavaScript the page says card entry needs it and offers the wallet; the return from Stripe funds
the escrow once, or says why the card was refused, or that the payment is still processing; a
payment that is not the visitor's own is not found and never applied. With Stripe off, the page
is the mock test card's, as before."""

import pytest
import stripe
from django.contrib.messages import get_messages
from django.urls import reverse

from escrows import services
from escrows.models import CardPayment, CardPaymentStatus, EscrowStatus, LedgerTransaction, Payment
from escrows.selectors import receipt_get
from tests.helpers import ledger_fingerprint, make_escrow, refresh
from tests.stripe_fake import browser_confirm
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

# 700.00 USD in two stages, 10.50 USD fee: the card is charged 710.50 USD.
PARTS = (20_000, 50_000)


@pytest.fixture
def stripe_page(stripe_fake, settings):
    """Cards through Stripe: the local server's keys, and its stand-in for Stripe.js."""
    settings.STRIPE_PUBLISHABLE_KEY = stripe_fake.publishable_key
    settings.STRIPE_JS_URL = stripe_fake.js_url
    return stripe_fake


def pay_url(escrow):
    return reverse("pay", args=[escrow.payment_token])


def return_url(escrow, intent_id, status="succeeded"):
    query = f"payment_intent={intent_id}&payment_intent_client_secret=x&redirect_status={status}"
    return f"{reverse('pay_card_return', args=[escrow.payment_token])}?{query}"


def choose_card(client, escrow):
    return client.post(pay_url(escrow), {"source": "CARD", "terms_version": escrow.terms_version})


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def without_javascript(html: str) -> str:
    """What the card page shows until its script has Stripe's form ready."""
    return html.split("<div data-card-fallback>")[1].split('<form method="post" hidden')[0]


def fundings() -> int:
    return LedgerTransaction.objects.filter(kind="FUNDING").count()


def test_with_stripe_on_the_pay_page_offers_a_card_entered_on_stripes_form(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    html = client_for(buyer).get(pay_url(escrow)).content.decode()
    assert '<label for="id_source_1"><input type="radio" name="source" value="CARD"' in html
    assert "> Card</label>" in html
    assert "Card (test gateway)" not in html and "Test card token" not in html
    assert "You enter your card on the next page, in Stripe's secure form" in html


def test_with_stripe_off_the_pay_page_is_the_mock_test_cards(stripe_fake, settings, seller, buyer):
    # A secret key alone does not put cards through Stripe: the browser needs the publishable key.
    assert settings.STRIPE_PUBLISHABLE_KEY == ""
    escrow = make_escrow(seller, parts=PARTS)
    client = client_for(buyer)
    html = client.get(pay_url(escrow)).content.decode()
    assert "Card (test gateway)" in html and "Test card token" in html
    assert "Stripe" not in html

    response = client.post(
        pay_url(escrow), {"source": "CARD", "card_token": "tok_visa", "terms_version": escrow.terms_version}
    )

    assert response.status_code == 302 and response["Location"] == f"/escrows/{escrow.public_id}/"
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert not CardPayment.objects.exists() and stripe_fake.intents == {}


def test_choosing_card_starts_one_payment_intent_and_shows_the_payment_element(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    before = ledger_fingerprint()

    response = choose_card(client_for(buyer), escrow)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    [intent] = stripe_page.intents.values()
    assert (intent["amount"], intent["currency"]) == (71_050, "usd")
    html = response.content.decode()
    assert "your card is charged <strong data-charge>710.50 USD</strong>" in html
    card_form = html.split("data-stripe-card-form")[1].split("</form>")[0]
    assert card_form.count("<button") == 1 and ">Pay 710.50 USD</button>" in card_form
    assert f'data-publishable-key="{stripe_page.publishable_key}"' in html
    assert f'data-client-secret="{intent["client_secret"]}"' in html
    assert f'data-return-url="http://testserver/pay/{escrow.payment_token}/card/return"' in html
    assert f'<script src="{stripe_page.url}/v3/"></script>' in html
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert ledger_fingerprint() == before


def test_without_javascript_the_card_page_says_so_and_offers_the_wallet(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    client = client_for(buyer)
    html = choose_card(client, escrow).content.decode()
    fallback = without_javascript(html)
    assert "Entering a card needs JavaScript, which is off in this browser." in fallback
    # A balance short of the charge: the way to top it up and pay from it.
    assert "Add funds to your balance (0.00 USD now) and pay from it" in fallback
    assert '<form method="post" hidden data-stripe-card-form' in html  # shown by its script only

    # A balance that covers it: the wallet payment itself, one button.
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    fallback = without_javascript(choose_card(client, escrow).content.decode())
    assert ">Pay 710.50 USD from your balance</button>" in fallback
    response = client.post(
        pay_url(escrow), {"source": "WALLET", "reference": "web_1", "terms_version": escrow.terms_version}
    )
    assert response.status_code == 302
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert Payment.objects.get().source == "WALLET"


def test_choosing_card_again_continues_the_same_payment(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    client = client_for(buyer)
    first = choose_card(client, escrow).content.decode()
    again = choose_card(client, escrow).content.decode()
    [intent] = stripe_page.intents.values()
    assert f'data-client-secret="{intent["client_secret"]}"' in first
    assert f'data-client-secret="{intent["client_secret"]}"' in again
    assert CardPayment.objects.count() == 1


def test_choosing_card_against_changed_terms_charges_nothing_and_says_why(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    response = client_for(buyer).post(
        pay_url(escrow), {"source": "CARD", "terms_version": escrow.terms_version + 1}
    )
    assert response.status_code == 302 and response["Location"] == pay_url(escrow)
    [message] = said(response)
    assert message.startswith("The seller changed the terms of this escrow since you saw them")
    assert stripe_page.intents == {} and not CardPayment.objects.exists()


def test_the_return_from_a_charged_card_funds_the_escrow_once(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS, buyer=buyer)
    client = client_for(buyer)
    choose_card(client, escrow)
    card_payment = CardPayment.objects.get()
    browser_confirm(stripe_page, card_payment.provider_reference, "pm_card_visa")

    response = client.get(return_url(escrow, card_payment.provider_reference))
    again = client.get(return_url(escrow, card_payment.provider_reference))

    assert response.status_code == 302 and response["Location"] == f"/escrows/{escrow.public_id}/"
    assert said(response) == [
        "Paid 710.50 USD by card. The money is held in escrow until you confirm each stage."
    ]
    assert again.status_code == 302 and again["Location"] == f"/escrows/{escrow.public_id}/"
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert fundings() == 1
    # A card charged through Stripe is a card, not the mock gateway's test card.
    funding = LedgerTransaction.objects.get(kind="FUNDING")
    receipt = receipt_get(buyer, escrow.public_id, funding.pk)
    assert ("Paid from", "Card") in receipt.facts
    assert Payment.objects.get().gateway_reference == card_payment.provider_reference


@pytest.mark.parametrize("named_buyer", [True, False], ids=["reserved", "open-link"])
def test_the_return_from_a_declined_card_gives_stripes_reason_and_a_way_to_try_another(
    stripe_page, seller, buyer, named_buyer
):
    escrow = make_escrow(seller, parts=PARTS, buyer=buyer if named_buyer else None)
    client = client_for(buyer)
    choose_card(client, escrow)
    card_payment = CardPayment.objects.get()
    with pytest.raises(stripe.CardError):
        browser_confirm(stripe_page, card_payment.provider_reference, "pm_card_chargeDeclined")
    before = ledger_fingerprint()

    response = client.get(return_url(escrow, card_payment.provider_reference, "failed"))

    # The escrow page (a party's) or the payment link (anyone's): both offer "Pay 710.50 USD".
    where = f"/escrows/{escrow.public_id}/" if named_buyer else pay_url(escrow)
    assert response.status_code == 302 and response["Location"] == where
    assert said(response) == [
        "Your card payment of 710.50 USD did not go through: Your card was declined. Nothing was "
        "charged. Choose Pay 710.50 USD to try another card or pay from your balance."
    ]
    assert "Pay 710.50 USD" in client.get(where).content.decode()
    assert refresh(card_payment).status == CardPaymentStatus.DECLINED
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert ledger_fingerprint() == before


def test_the_return_before_stripe_has_an_answer_says_the_payment_is_processing(stripe_page, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS, buyer=buyer)
    client = client_for(buyer)
    choose_card(client, escrow)
    card_payment = CardPayment.objects.get()

    response = client.get(return_url(escrow, card_payment.provider_reference, "processing"))

    assert response.status_code == 302 and response["Location"] == f"/escrows/{escrow.public_id}/"
    assert said(response) == [
        "Your card payment of 710.50 USD is still being processed. The escrow shows as paid as soon "
        "as Stripe confirms it; you need not pay again."
    ]
    assert refresh(card_payment).status == CardPaymentStatus.PENDING
    assert fundings() == 0


@pytest.mark.parametrize("intent", ["pi_unknown", ""])
def test_the_return_with_an_unknown_payment_is_not_found(stripe_page, seller, buyer, intent):
    escrow = make_escrow(seller, parts=PARTS)
    client = client_for(buyer)
    choose_card(client, escrow)
    assert client.get(return_url(escrow, intent)).status_code == 404


def test_the_return_with_another_buyers_payment_is_not_found_and_never_applied(
    stripe_page, seller, buyer, stranger
):
    escrow = make_escrow(seller, parts=PARTS)
    choose_card(client_for(stranger), escrow)
    theirs = CardPayment.objects.get()
    browser_confirm(stripe_page, theirs.provider_reference, "pm_card_visa")

    response = client_for(buyer).get(return_url(escrow, theirs.provider_reference))
    # Their own payment, named under another escrow's link: not found either.
    other = make_escrow(seller, parts=PARTS, title="Logo")
    wrong_link = client_for(stranger).get(return_url(other, theirs.provider_reference))

    assert (response.status_code, wrong_link.status_code) == (404, 404)
    assert refresh(theirs).status == CardPaymentStatus.PENDING
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert fundings() == 0


def test_the_return_asks_a_visitor_to_log_in(stripe_page, client, seller):
    escrow = make_escrow(seller, parts=PARTS)
    response = client.get(return_url(escrow, "pi_x"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_amount_stripe_will_not_charge_is_refused_in_its_words_with_nothing_charged(
    stripe_page, seller, buyer
):
    escrow = make_escrow(seller, parts=(20, 20), currency="JPY")  # 40 JPY and its 1 JPY fee
    response = choose_card(client_for(buyer), escrow)
    assert response.status_code == 302 and response["Location"] == pay_url(escrow)
    assert said(response) == [
        "This escrow cannot be paid by card: Amount must be at least ¥50 jpy. Nothing was charged."
    ]
    assert stripe_page.intents == {} and refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
