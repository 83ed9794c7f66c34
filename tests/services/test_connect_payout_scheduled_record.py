"""A release to a payee with a connected Stripe account schedules its transfer in the name of the
person who released."""

import pytest

from escrows import services
from escrows.models import Event, SettlementMethod
from tests.connect.conftest import connected_seller, stripe_connect_fake  # noqa: F401
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_a_transfer_to_a_connected_seller_is_scheduled_by_who_released(
    stripe_connect_fake,  # noqa: F811
    connected_seller,  # noqa: F811
    seller,
    buyer,
    django_capture_on_commit_callbacks,
):
    escrow = make_escrow(seller)
    fund(escrow, buyer)

    with django_capture_on_commit_callbacks(execute=False):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)

    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.escrow) == (buyer, seller, escrow)
    assert scheduled.settlement.method == SettlementMethod.STRIPE_TRANSFER
