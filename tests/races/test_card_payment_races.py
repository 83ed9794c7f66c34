"""Stripe's answers about one card payment arriving at once (its event delivered twice in
parallel, and our own asking) fund the escrow once."""

from functools import partial

import pytest

from escrows import services
from escrows.models import CardPaymentStatus, EscrowStatus, LedgerTransaction, StripeEvent
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, make_escrow, refresh
from tests.races.racing import connection_pool, race
from tests.stripe_fake import browser_confirm


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_succeeded_payment_told_three_times_at_once_funds_the_escrow_once(stripe_fake):
    seller, buyer = UserFactory(), UserFactory()
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")
    [event] = stripe_fake.events_of("payment_intent.succeeded")
    deliver = partial(
        services.stripe_event_handle, event_id=event["id"], kind=event["type"], obj=event["data"]["object"]
    )

    with connection_pool(6):
        result = race([deliver, deliver, partial(services.card_payment_refresh, card_payment=card_payment)])

    assert not result.unexpected, result.unexpected
    assert sorted(v for v in result.values if isinstance(v, bool)) == [False, True]
    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert LedgerTransaction.objects.filter(kind="FUNDING").count() == 1
    assert StripeEvent.objects.count() == 1
    assert_ledger_invariants()
