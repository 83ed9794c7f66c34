"""A funding payment's row has one home (funding._payment_recorded): a wallet payment, the mock
gateway's card and a card charged through Stripe each record it from the escrow's terms as they
stand, so the three rows say the same things the same way."""

from unittest import mock

import pytest

from escrows import services
from escrows.models import FundingSource, Payment
from escrows.services import card_payments, funding
from tests.helpers import make_escrow
from tests.stripe_fake import browser_confirm

pytestmark = pytest.mark.django_db


def recorded_through_the_one_step(pay) -> Payment:
    """The payment `pay()` makes, checking it was recorded by funding's one step, once."""
    step = funding._payment_recorded
    assert card_payments._payment_recorded is step
    with (
        mock.patch.object(funding, "_payment_recorded", wraps=step) as in_funding,
        mock.patch.object(card_payments, "_payment_recorded", wraps=step) as in_card_payments,
    ):
        payment = pay()
    assert in_funding.call_count + in_card_payments.call_count == 1
    return Payment.objects.get(pk=payment.pk)


def the_terms(escrow, payment):
    return (payment.amount, payment.fee, payment.currency, payment.terms_version) == (
        escrow.amount,
        escrow.fee,
        escrow.currency,
        escrow.terms_version,
    )


def test_a_wallet_payment_is_recorded_by_the_one_step(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    payment = recorded_through_the_one_step(
        lambda: services.escrow_fund(escrow=escrow, by=buyer, reference="order-7")
    )
    assert the_terms(escrow, payment)
    assert (payment.source, payment.reference, payment.gateway_reference) == ("WALLET", "order-7", "")


def test_a_mock_card_payment_is_recorded_by_the_one_step(seller, buyer):
    escrow = make_escrow(seller)
    payment = recorded_through_the_one_step(
        lambda: services.escrow_fund(
            escrow=escrow, by=buyer, source=FundingSource.CARD, card_token="tok_visa"
        )
    )
    assert the_terms(escrow, payment)
    assert payment.reference == payment.public_id and payment.gateway_reference.startswith("ch_")


def test_a_card_charged_through_stripe_is_recorded_by_the_one_step(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")

    def pay() -> Payment:
        services.card_payment_refresh(card_payment=card_payment)
        return Payment.objects.get(escrow=escrow)

    payment = recorded_through_the_one_step(pay)
    assert the_terms(escrow, payment)
    assert (payment.public_id, payment.reference, payment.source) == (
        card_payment.public_id,
        card_payment.public_id,
        FundingSource.CARD,
    )
    assert payment.gateway_reference == card_payment.provider_reference
