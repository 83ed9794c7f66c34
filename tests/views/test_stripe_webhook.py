"""Stripe's webhook, fed the events a local Stripe-compatible server emits: a signature that does
not verify is refused and changes nothing, an event is applied once however often it comes, the
webhook and our own asking fund the escrow once between them, a late decline does not undo a
payment, and an event we do not use is acknowledged."""

import contextlib
import time

import pytest
import stripe

from escrows import services
from escrows.models import CardPaymentStatus, EscrowStatus, LedgerTransaction, Payment, StripeEvent
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, make_escrow, refresh
from tests.notifications.helpers import told
from tests.stripe_fake import browser_confirm, deliver

pytestmark = pytest.mark.django_db


def paid_by_card(fake, escrow, buyer, payment_method="pm_card_visa"):
    """The buyer starts a card payment and confirms it in their browser."""
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    with contextlib.suppress(stripe.CardError):
        browser_confirm(fake, card_payment.provider_reference, payment_method)
    return card_payment


def fundings() -> int:
    return LedgerTransaction.objects.filter(kind="FUNDING").count()


def test_a_succeeded_event_delivered_twice_funds_the_escrow_once(client, stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = paid_by_card(stripe_fake, escrow, buyer)
    [event] = stripe_fake.events_of("payment_intent.succeeded")

    first = deliver(client, stripe_fake, event)
    second = deliver(client, stripe_fake, event)

    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (second.status_code, second.json()) == (200, {"received": True, "duplicate": True})
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert Payment.objects.get(escrow=escrow).gateway_reference == card_payment.provider_reference
    assert fundings() == 1
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert_ledger_invariants()


def test_the_webhook_after_we_asked_stripe_changes_nothing(client, stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = paid_by_card(stripe_fake, escrow, buyer)
    services.card_payment_refresh(card_payment=card_payment)
    before = ledger_fingerprint()

    response = deliver(client, stripe_fake, stripe_fake.events_of("payment_intent.succeeded")[0])

    assert response.status_code == 200
    assert ledger_fingerprint() == before
    assert fundings() == 1


def test_asking_stripe_after_the_webhook_changes_nothing(client, stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = paid_by_card(stripe_fake, escrow, buyer)
    deliver(client, stripe_fake, stripe_fake.events_of("payment_intent.succeeded")[0])
    before = ledger_fingerprint()

    assert services.card_payment_refresh(card_payment=card_payment).status == CardPaymentStatus.SUCCEEDED

    assert ledger_fingerprint() == before
    assert fundings() == 1
    assert_ledger_invariants()


def test_a_payment_failed_event_leaves_the_escrow_unpaid_and_tells_the_buyer(
    client, stripe_fake, seller, buyer
):
    escrow = make_escrow(seller)
    card_payment = paid_by_card(stripe_fake, escrow, buyer, "pm_card_chargeDeclined")
    before = ledger_fingerprint()

    response = deliver(client, stripe_fake, stripe_fake.events_of("payment_intent.payment_failed")[0])

    assert response.status_code == 200
    card_payment = refresh(card_payment)
    assert (card_payment.status, card_payment.decline_code) == (CardPaymentStatus.DECLINED, "generic_decline")
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert ledger_fingerprint() == before
    [notice] = told("card_payment.declined").values()
    assert notice.recipient == buyer
    assert "was declined: Your card was declined." in notice.body_text
    assert notice.url == f"/pay/{escrow.payment_token}"


def test_a_decline_that_arrives_after_the_payment_succeeded_does_not_undo_it(
    client, stripe_fake, seller, buyer
):
    escrow = make_escrow(seller)
    card_payment = paid_by_card(stripe_fake, escrow, buyer, "pm_card_chargeDeclined")
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    failed, succeeded = (
        stripe_fake.events_of("payment_intent.payment_failed")[0],
        stripe_fake.events_of("payment_intent.succeeded")[0],
    )

    deliver(client, stripe_fake, succeeded)
    deliver(client, stripe_fake, failed)

    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert fundings() == 1


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"secret": "whsec_someone_else"}, id="another-secret"),
        pytest.param({"at": int(time.time()) - 301}, id="older-than-the-tolerance"),
    ],
)
def test_an_event_whose_signature_does_not_verify_is_refused_and_changes_nothing(
    client, stripe_fake, seller, buyer, signing
):
    escrow = make_escrow(seller)
    paid_by_card(stripe_fake, escrow, buyer)
    before = ledger_fingerprint()

    response = deliver(client, stripe_fake, stripe_fake.events_of("payment_intent.succeeded")[0], **signing)

    assert response.status_code == 400
    assert "Stripe-Signature" in response.json()["error"]
    assert ledger_fingerprint() == before
    assert not StripeEvent.objects.exists()


def test_a_body_changed_after_signing_or_no_signature_is_refused(client, stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    paid_by_card(stripe_fake, escrow, buyer)
    payload, signature = stripe_fake.signed(stripe_fake.events_of("payment_intent.succeeded")[0])
    tampered = payload.replace(b'"amount_received": 101500', b'"amount_received": 1')

    changed = client.post(
        "/stripe/webhook", data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    unsigned = client.post("/stripe/webhook", data=payload, content_type="application/json")
    garbage = client.post(
        "/stripe/webhook", data=b"\xff\x00", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=x"
    )

    assert [r.status_code for r in (changed, unsigned, garbage)] == [400, 400, 400]
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_an_event_we_do_not_use_is_acknowledged_and_ignored(client, stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    paid_by_card(stripe_fake, escrow, buyer)
    before = ledger_fingerprint()

    response = deliver(client, stripe_fake, stripe_fake.events_of("charge.succeeded")[0])

    assert (response.status_code, response.json()["received"]) == (200, True)
    assert ledger_fingerprint() == before


def test_an_event_for_a_payment_that_is_not_ours_is_acknowledged(client, stripe_fake):
    stripe_fake.intents.clear()
    event = {
        "id": "evt_elsewhere",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_elsewhere", "object": "payment_intent", "status": "succeeded"}},
    }
    assert deliver(client, stripe_fake, event).status_code == 200


def test_the_webhook_is_refused_while_no_webhook_secret_is_set(client, stripe_fake, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    event = {"id": "evt_1", "object": "event", "type": "ping", "data": {"object": {}}}
    response = deliver(client, stripe_fake, event, secret="")
    assert response.status_code == 400
    assert response.json() == {"error": "Stripe webhooks are not configured here"}
    assert not StripeEvent.objects.exists()
