"""Payluk's pay call with `gateway: CARD` when cards go through Stripe (a local Stripe-compatible
server): the answer keeps the escrow unpaid and gives what an integrator's page confirms the card
with (the PaymentIntent's client secret, the publishable key); calling again continues the same
PaymentIntent; Stripe's webhook funds the escrow. With Stripe off the mock gateway answers as
before."""

import pytest
import stripe

from escrows.models import CardPayment, EscrowStatus, LedgerTransaction, Payment
from tests.api.conftest import client_for
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, make_escrow, refresh
from tests.stripe_fake import browser_confirm, deliver

pytestmark = pytest.mark.django_db

# 700.00 USD in two stages and its 10.50 USD fee.
PARTS = (20_000, 50_000)


@pytest.fixture
def stripe_on(stripe_fake, settings):
    settings.STRIPE_PUBLISHABLE_KEY = stripe_fake.publishable_key
    return stripe_fake


def pay(api, escrow, **extra):
    body = {"gateway": "CARD", "transactionType": "ESCROW", "escrowDetails": {"escrowId": escrow.public_id}}
    return api.post("/v1/payment/escrow", {**body, **extra}, format="json")


def test_a_card_payment_awaits_its_confirmation_with_what_stripe_js_needs(stripe_on, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    before = ledger_fingerprint()

    r = pay(client_for(buyer), escrow, reference="order-1", cardToken="tok_visa")

    assert r.status_code == 202, r.json()
    [intent] = stripe_on.intents.values()
    card_payment = CardPayment.objects.get()
    assert r.json() == {
        "status": 202,
        "message": "Payment awaiting card confirmation",
        "data": {
            "reference": card_payment.public_id,
            "status": "AWAITING_CARD_CONFIRMATION",
            "amount": 710.5,
            "fee": 10.5,
            "currency": "USD",
            "gateway": "CARD",
            "escrowId": escrow.public_id,
            "paymentId": card_payment.public_id,
            "state": "AWAITING_PAYMENT",
            "escrowStatus": "PENDING",
            "paymentIntentId": intent["id"],
            "clientSecret": intent["client_secret"],
            "publishableKey": "pk_test_local",
            "declineReason": None,
        },
    }
    assert (intent["amount"], intent["currency"]) == (71_050, "usd")
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert not Payment.objects.exists() and ledger_fingerprint() == before


def test_calling_again_continues_the_same_payment_intent_until_the_webhook_funds_it(
    stripe_on, client, seller, buyer
):
    escrow = make_escrow(seller, parts=PARTS)
    api = client_for(buyer)
    first = pay(api, escrow).json()["data"]
    with pytest.raises(stripe.CardError):
        browser_confirm(stripe_on, first["paymentIntentId"], "pm_card_chargeDeclined")
    deliver(client, stripe_on, stripe_on.events_of("payment_intent.payment_failed")[0])

    again = pay(api, escrow).json()["data"]

    assert (again["paymentId"], again["clientSecret"]) == (first["paymentId"], first["clientSecret"])
    assert again["declineReason"] == "Your card was declined."
    assert len(stripe_on.intents) == 1 and CardPayment.objects.count() == 1
    # The buyer's page confirms another card; Stripe's webhook funds the escrow, once.
    browser_confirm(stripe_on, first["paymentIntentId"], "pm_card_visa")
    deliver(client, stripe_on, stripe_on.events_of("payment_intent.succeeded")[0])
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert Payment.objects.get().reference == first["paymentId"]
    assert LedgerTransaction.objects.filter(kind="FUNDING").count() == 1
    late = pay(api, escrow)
    assert (late.status_code, late.json()["message"]) == (400, "This escrow is already funded")
    assert_ledger_invariants()


def test_a_replayed_idempotency_key_answers_the_same_payment(stripe_on, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    api = client_for(buyer)
    body = {"gateway": "CARD", "escrowDetails": {"escrowId": escrow.public_id}}
    first = api.post("/v1/payment/escrow", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    second = api.post("/v1/payment/escrow", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(stripe_on.intents) == 1


def test_a_card_payment_against_changed_terms_starts_nothing(stripe_on, seller, buyer):
    escrow = make_escrow(seller, parts=PARTS)
    r = pay(client_for(buyer), escrow, expectedAmount="700.00")
    assert r.status_code == 409 and r.json()["code"] == "terms_changed"
    assert stripe_on.intents == {} and not CardPayment.objects.exists()


@pytest.mark.parametrize("keys", ["none", "secret key only"])
def test_without_stripe_card_is_the_mock_gateway_as_before(keys, request, seller, buyer):
    if keys == "secret key only":
        request.getfixturevalue("stripe_fake")
    escrow = make_escrow(seller, parts=PARTS)
    api = client_for(buyer)
    tokenless = pay(api, escrow)
    assert (tokenless.status_code, tokenless.json()["message"]) == (
        402,
        "A card token is required for card payments",
    )

    r = pay(api, escrow, cardToken="tok_visa", reference="card-1")

    assert r.status_code == 200
    assert r.json()["message"] == "Payment successful"
    assert (r.json()["data"]["status"], r.json()["data"]["reference"]) == ("SUCCESS", "card-1")
    assert "clientSecret" not in r.json()["data"]
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert not CardPayment.objects.exists()
