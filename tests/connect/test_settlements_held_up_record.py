"""A payout held up by the platform's Stripe balance is recorded once per settlement, on its
escrow: a second settlement held up meanwhile gets its own record."""

import pytest

from escrows import services
from escrows.models import Event, Settlement, SettlementStatus
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_each_settlement_held_up_is_recorded_once_on_its_escrow(
    stripe_connect_fake, connected_seller, seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    stripe_connect_fake.available["usd"] = 100

    for milestone in milestones(escrow)[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            services.milestone_release(milestone=milestone, by=buyer)
    first, second = Settlement.objects.order_by("id")
    assert {first.status, second.status} == {SettlementStatus.SCHEDULED}
    services.settlement_process(settlement_id=first.pk)

    held_up = Event.objects.filter(kind="settlement.held_up").order_by("id")
    assert [(e.settlement, e.escrow, e.customer) for e in held_up] == [
        (first, escrow, seller),
        (second, escrow, seller),
    ]
