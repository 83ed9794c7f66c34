"""What a card payment through Stripe records as it goes (its events, its Stripe id, why a charge
was set aside) and which payment an answer from Stripe belongs to, against the local
Stripe-compatible server."""

from datetime import timedelta

import pytest
import stripe
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidState, TermsChanged
from escrows import services
from escrows.models import CardPayment, CardPaymentStatus, EscrowStatus, Event, Payment, StripeEvent
from escrows.services import EscrowTerms, MilestoneInput
from escrows.services.card_payments import apply_payment_intent
from tests.helpers import at, fund, ledger_fingerprint, make_escrow, refresh, refusal
from tests.stripe_fake import browser_confirm, deliver

pytestmark = pytest.mark.django_db


def event_row(kind):
    [event] = Event.objects.filter(kind=kind)
    return event


def succeeded(stripe_fake, card_payment):
    """Stripe's PaymentIntent for this payment once the buyer's card went through."""
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    return dict(stripe_fake.intents[card_payment.provider_reference])


def test_starting_with_stripe_off_is_refused_with_its_code_and_words(settings, seller, buyer):
    settings.STRIPE_SECRET_KEY = ""
    escrow = make_escrow(seller)
    code, _, message, _ = refusal(InvalidState, lambda: services.card_payment_start(escrow=escrow, by=buyer))
    assert (code, message) == ("card_payments_off", "Card payments through Stripe are not configured")


def test_starting_checks_the_terms_the_buyer_was_shown(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    stale = escrow.terms_version - 1
    code, *_ = refusal(
        TermsChanged, lambda: services.card_payment_start(escrow=escrow, by=buyer, terms_version=stale)
    )
    assert code == "terms_changed"
    code, *_ = refusal(
        TermsChanged,
        lambda: services.card_payment_start(escrow=escrow, by=buyer, expected_total=escrow.total_charge - 1),
    )
    assert code == "terms_changed"
    assert not CardPayment.objects.exists() and not stripe_fake.intents
    started = services.card_payment_start(
        escrow=escrow, by=buyer, terms_version=escrow.terms_version, expected_total=escrow.total_charge
    )
    assert started.card_payment.status == CardPaymentStatus.PENDING


def test_the_payment_intent_id_is_stored_on_its_own_payment_only(stripe_fake, seller, buyer, stranger):
    # A payment whose PaymentIntent was never created (Stripe could not be reached) keeps no id.
    left = services.card_payment_start(escrow=make_escrow(seller), by=stranger).card_payment
    CardPayment.objects.filter(pk=left.pk).update(provider_reference="")
    escrow = make_escrow(seller)

    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment

    assert refresh(card_payment).provider_reference == card_payment.provider_reference
    assert card_payment.provider_reference in stripe_fake.intents
    assert refresh(left).provider_reference == ""


def test_starting_records_who_started_paying_what(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    event = event_row("card_payment.started")
    assert (event.actor, event.customer, event.escrow) == (buyer, buyer, escrow)
    assert (event.from_status, event.to_status) == ("", CardPaymentStatus.PENDING)
    assert event.details == {"payment": card_payment.public_id, "amount": 101_500}


def test_starting_again_reuses_only_this_buyers_open_payment_of_these_terms(
    stripe_fake, seller, buyer, stranger
):
    escrow = make_escrow(seller)
    mine = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    # Another buyer on the same link, and the same buyer on another escrow, get their own.
    theirs = services.card_payment_start(escrow=escrow, by=stranger).card_payment
    elsewhere = services.card_payment_start(escrow=make_escrow(seller), by=buyer).card_payment
    assert len({mine.pk, theirs.pk, elsewhere.pk}) == 3
    # Changed terms start a new payment; a payment that ended is never continued.
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Website build", currency="USD", amount=90_000),
        milestones=[MilestoneInput(amount=45_000, title="A"), MilestoneInput(amount=45_000, title="B")],
    )
    after_edit = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    assert after_edit.pk != mine.pk
    CardPayment.objects.filter(pk=after_edit.pk).update(status=CardPaymentStatus.NOT_APPLIED)
    assert services.card_payment_start(escrow=escrow, by=buyer).card_payment.pk not in (
        after_edit.pk,
        mine.pk,
    )


def test_asking_before_the_card_was_confirmed_changes_nothing(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    # Stripe says requires_payment_method with no error: the buyer has not paid yet, not declined.
    card_payment = services.card_payment_refresh(card_payment=card_payment)
    assert card_payment.status == CardPaymentStatus.PENDING and card_payment.decline_reason == ""
    assert not Event.objects.filter(kind="card_payment.declined").exists()


@pytest.mark.django_db(transaction=True)
def test_asking_stripe_never_runs_inside_another_transaction(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.card_payment_refresh(card_payment=card_payment)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.stripe_event_handle(event_id="evt_1", kind="payment_intent.succeeded", obj={})
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_a_handled_event_is_recorded_with_its_type(stripe_fake, seller, buyer, client):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    [event] = stripe_fake.events_of("payment_intent.succeeded")
    assert deliver(client, stripe_fake, event).status_code == 200
    assert StripeEvent.objects.get(event_id=event["id"]).kind == "payment_intent.succeeded"


def test_an_answer_is_found_by_its_payment_intent_id_without_metadata(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    intent = succeeded(stripe_fake, card_payment)
    intent["metadata"] = {}

    with transaction.atomic():
        found = apply_payment_intent(intent)

    assert found is not None and found.pk == card_payment.pk
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_an_answer_before_the_id_was_stored_is_found_by_its_metadata(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    intent = succeeded(stripe_fake, card_payment)
    # The create's answer was lost before its id was stored; Stripe's webhook came first.
    CardPayment.objects.filter(pk=card_payment.pk).update(provider_reference="")

    with transaction.atomic():
        found = apply_payment_intent(intent)

    assert found is not None and found.pk == card_payment.pk
    card_payment = refresh(card_payment)
    assert card_payment.status == CardPaymentStatus.SUCCEEDED
    assert card_payment.provider_reference == intent["id"]
    assert Payment.objects.get(escrow=escrow).gateway_reference == intent["id"]


def test_another_payment_intent_naming_our_payment_is_not_ours(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    intent = succeeded(stripe_fake, card_payment)
    intent["id"] = "pi_someone_elses"
    before = ledger_fingerprint()

    with transaction.atomic():
        assert apply_payment_intent(intent) is None

    assert refresh(card_payment).status == CardPaymentStatus.PENDING
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert ledger_fingerprint() == before


def test_a_charge_set_aside_records_its_stripe_id_and_why(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    intent = succeeded(stripe_fake, card_payment)
    fund(escrow, buyer)
    CardPayment.objects.filter(pk=card_payment.pk).update(provider_reference="")

    with transaction.atomic():
        apply_payment_intent(intent)

    card_payment = refresh(card_payment)
    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    assert card_payment.provider_reference == intent["id"]
    event = event_row("card_payment.not_applied")
    assert (event.actor, event.customer, event.escrow) == (None, buyer, escrow)
    assert (event.from_status, event.to_status) == (CardPaymentStatus.PENDING, CardPaymentStatus.NOT_APPLIED)
    assert event.details == {
        "payment": card_payment.public_id,
        "reason": "The escrow was already paid or closed",
        "received": 101_500,
    }


def not_applied_reason():
    return event_row("card_payment.not_applied").details["reason"]


def test_a_charge_after_the_time_to_pay_ran_out_is_set_aside(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    with at(refresh(escrow).expires_at + timedelta(minutes=1)):
        card_payment = services.card_payment_refresh(card_payment=card_payment)
    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    assert not_applied_reason() == "The escrow's time to pay ran out"


def test_a_charge_for_terms_since_changed_is_set_aside_even_for_the_same_total(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Website build, two stages", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=60_000, title="A"), MilestoneInput(amount=40_000, title="B")],
    )
    assert refresh(escrow).total_charge == card_payment.total
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")

    card_payment = services.card_payment_refresh(card_payment=card_payment)

    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    assert not_applied_reason() == "The escrow's terms changed after the payment started"
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_a_charge_of_another_amount_is_set_aside(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    stripe_fake.intents[card_payment.provider_reference]["amount_received"] = 100_000

    card_payment = services.card_payment_refresh(card_payment=card_payment)

    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    assert not_applied_reason() == "Stripe received another amount than the payment was for"


def test_a_decline_records_what_changed_and_stripes_words(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    with pytest.raises(stripe.CardError):
        browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_chargeDeclined")

    services.card_payment_refresh(card_payment=card_payment)

    event = event_row("card_payment.declined")
    assert (event.actor, event.customer, event.escrow) == (None, buyer, escrow)
    assert (event.from_status, event.to_status) == (CardPaymentStatus.PENDING, CardPaymentStatus.DECLINED)
    assert event.details == {
        "payment": card_payment.public_id,
        "reason": "Your card was declined.",
        "declineCode": "generic_decline",
    }
    assert refresh(escrow).expires_at > timezone.now()


def test_new_terms_of_the_same_amount_start_a_new_payment(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    first = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Website build and hosting", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=50_000, title="A"), MilestoneInput(amount=50_000, title="B")],
    )
    escrow = refresh(escrow)
    assert escrow.total_charge == first.total

    again = services.card_payment_start(escrow=escrow, by=buyer).card_payment

    assert again.pk != first.pk and again.terms_version == escrow.terms_version
