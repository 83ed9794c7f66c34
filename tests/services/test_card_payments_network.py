"""Card payments through Stripe when an answer is lost on the way back (a timeout after Stripe
did what was asked): the same idempotency key is sent again, so there is still one PaymentIntent."""

import pytest

from core.errors import PaymentFailed
from escrows import services
from escrows.models import CardPayment
from tests.helpers import make_escrow

pytestmark = pytest.mark.django_db


def intents_created(fake):
    return [r for r in fake.requests if r[:2] == ("POST", "/v1/payment_intents")]


def test_a_lost_answer_to_the_create_is_asked_again_with_the_same_key(settings, stripe_fake, seller, buyer):
    settings.STRIPE_NETWORK_RETRIES = 1
    escrow = make_escrow(seller)
    stripe_fake.lose_answers = 1

    started = services.card_payment_start(escrow=escrow, by=buyer)

    first, again = intents_created(stripe_fake)
    assert first[3]["idempotency-key"] == again[3]["idempotency-key"]
    [intent] = stripe_fake.intents.values()
    assert started.card_payment.provider_reference == intent["id"]


def test_without_retries_the_buyer_is_told_and_starting_again_continues_the_same_intent(
    settings, stripe_fake, seller, buyer
):
    settings.STRIPE_NETWORK_RETRIES = 0
    escrow = make_escrow(seller)
    stripe_fake.lose_answers = 1

    with pytest.raises(PaymentFailed) as refused:
        services.card_payment_start(escrow=escrow, by=buyer)
    assert refused.value.code == "card_network_unavailable"
    assert "nothing was charged" in refused.value.message
    [card_payment] = CardPayment.objects.all()
    assert card_payment.provider_reference == ""  # Stripe made it; we never heard which

    again = services.card_payment_start(escrow=escrow, by=buyer).card_payment

    assert again.pk == card_payment.pk
    assert len(stripe_fake.intents) == 1
    assert again.provider_reference == next(iter(stripe_fake.intents))
