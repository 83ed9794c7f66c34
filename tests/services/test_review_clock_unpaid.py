"""A stage delivered before the buyer paid: its review clock waits for the money, so the buyer
cannot take more time on it yet, and is told why."""

from datetime import timedelta

import pytest

from core.errors import InvalidState
from escrows import services
from escrows.models import Event
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import fund, milestones, refresh

pytestmark = pytest.mark.django_db


def test_the_review_of_an_unpaid_escrow_is_not_extended(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Unpaid", currency="USD", amount=2_000, inspection_period=timedelta(days=5)),
        milestones=[MilestoneInput(amount=1_000), MilestoneInput(amount=1_000)],
    )
    services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    first = refresh(milestones(escrow)[0])
    with pytest.raises(InvalidState, match="^This escrow is not funded yet$") as refused:
        services.milestone_review_extend(milestone=first, by=buyer)
    assert refused.value.code == "not_funded"
    unchanged = refresh(first)
    assert (unchanged.review_deadline, unchanged.review_extended_at) == (first.review_deadline, None)
    assert not Event.objects.filter(kind="milestone.review_extended").exists()
    # Once paid, the buyer may.
    fund(escrow, buyer)
    services.milestone_review_extend(milestone=refresh(first), by=buyer)
    assert refresh(first).review_extended_at is not None
