"""A withdrawal while Stripe Connect is on: refused with the API's exact message without an
account Stripe pays out to; with one, the scheduled payout's event names the customer who
asked for it."""

import pytest

from core.errors import InvalidState
from escrows import services
from escrows.models import Event, Settlement

pytestmark = pytest.mark.django_db


def test_without_a_connected_account_the_refusal_gives_the_exact_message(stripe_connect_fake, seller):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")

    with pytest.raises(InvalidState) as refused:
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-1")

    assert refused.value.message == "A connected Stripe account with payouts enabled is required to withdraw"


def test_the_scheduled_payout_is_recorded_as_the_customers_doing(connected_seller, seller):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")

    services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="")

    event = Event.objects.get(kind="settlement.scheduled")
    assert (event.actor, event.customer, event.settlement) == (seller, seller, Settlement.objects.get())
    assert event.details["destination"] == connected_seller.account_id
