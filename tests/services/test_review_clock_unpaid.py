"""A stage delivered before the buyer paid: its review clock waits for the money, so the buyer
cannot take more time on it yet, and is told why; the payment starts the review afresh."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidState
from escrows import services
from escrows.models import Event, Milestone, MilestoneStatus
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import at, fund, milestones, refresh

pytestmark = pytest.mark.django_db

DELIVERED = datetime(2031, 2, 3, 4, 5, tzinfo=timezone.UTC)


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


def test_the_review_of_a_stage_delivered_before_paying_starts_with_the_payment(seller, buyer):
    with at(DELIVERED - timedelta(hours=1)):
        escrow = services.escrow_create(
            seller=seller,
            buyer=buyer,
            terms=EscrowTerms(
                title="Unpaid", currency="USD", amount=2_000, inspection_period=timedelta(days=5)
            ),
            milestones=[MilestoneInput(amount=1_000), MilestoneInput(amount=1_000)],
        )
    with at(DELIVERED):
        services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    assert refresh(milestones(escrow)[0]).review_deadline == DELIVERED + timedelta(days=5)
    # Paid two days later: the buyer's five days start then.
    paid = DELIVERED + timedelta(days=2)
    Milestone.objects.filter(escrow=escrow, index=0).update(reminder_sent_at=DELIVERED)
    with at(paid):
        fund(escrow, buyer)
    first, second = milestones(escrow)
    assert (first.status, first.review_deadline, first.reminder_sent_at) == (
        MilestoneStatus.COMPLETED,
        paid + timedelta(days=5),
        None,
    )
    # A stage not delivered yet has no review to start.
    assert (second.status, second.review_deadline) == (MilestoneStatus.PENDING, None)


def test_a_stage_delivered_before_paying_without_a_stored_deadline_gets_the_payments(seller, buyer):
    """A delivered row without a stored deadline (written before the clock existed, or by hand)
    gets the review the payment starts, like any other stage delivered before paying."""
    with at(DELIVERED - timedelta(hours=1)):
        escrow = services.escrow_create(
            seller=seller,
            buyer=buyer,
            terms=EscrowTerms(
                title="Unpaid", currency="USD", amount=2_000, inspection_period=timedelta(days=5)
            ),
            milestones=[MilestoneInput(amount=1_000), MilestoneInput(amount=1_000)],
        )
    with at(DELIVERED):
        services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    Milestone.objects.filter(escrow=escrow, index=0).update(review_deadline=None)
    paid = DELIVERED + timedelta(days=2)
    with at(paid):
        fund(escrow, buyer)
    first = milestones(escrow)[0]
    assert (first.status, first.review_deadline) == (MilestoneStatus.COMPLETED, paid + timedelta(days=5))
