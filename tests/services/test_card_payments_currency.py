"""A card payment through Stripe is only started in a currency the platform's Stripe account can
charge in (its country's supported payment currencies), refused before anything is recorded."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.models import CardPayment
from tests.helpers import make_escrow, refusal

pytestmark = pytest.mark.django_db


def test_a_currency_the_platforms_country_cannot_charge_is_refused_before_anything_is_recorded(
    stripe_fake, seller, buyer
):
    stripe_fake.country = "NG"
    escrow = make_escrow(seller, currency="GBP")

    code, _, message, _ = refusal(
        InvalidRequest, lambda: services.card_payment_start(escrow=escrow, by=buyer)
    )

    assert code == "currency_not_supported"
    assert message == "Card payments through Stripe are not available in GBP"
    assert not CardPayment.objects.exists() and not stripe_fake.intents


def test_a_currency_it_supports_is_charged(stripe_fake, seller, buyer):
    stripe_fake.country = "NG"
    started = services.card_payment_start(escrow=make_escrow(seller, currency="NGN"), by=buyer)
    [intent] = stripe_fake.intents.values()
    assert intent["currency"] == "ngn" and started.card_payment.currency == "NGN"


def test_the_platforms_currencies_are_asked_once(stripe_fake, seller, buyer):
    for _ in range(2):
        services.card_payment_start(escrow=make_escrow(seller), by=buyer)
    assert [r[1] for r in stripe_fake.requests if r[0] == "GET"].count("/v1/account") == 1
