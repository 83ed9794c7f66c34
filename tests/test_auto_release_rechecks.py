"""The review timer picks the delivered milestones whose review deadline has passed, then calls
milestone_auto_release for each. Between the two the buyer may extend the review, confirm the
stage or dispute it, so the service decides again from the locked rows, not from the milestone
it is handed: a milestone whose deadline is still ahead, or that is no longer waiting for
review, is left alone; a lapsed one is released."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import ActorKind, Event, Milestone, MilestoneStatus
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(seller, buyer):
    """Stage 0 of a funded escrow, delivered: its review is running."""
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    return refresh(first)


def lapse(milestone, **changes):
    Milestone.objects.filter(pk=milestone.pk).update(
        review_deadline=timezone.now() - timedelta(minutes=1), **changes
    )
    return refresh(milestone)


def assert_left_alone(milestone, before, status=None):
    assert services.milestone_auto_release(milestone=milestone) is None
    assert ledger_fingerprint() == before
    if status is not None:
        assert refresh(milestone).status == status
    assert not Event.objects.filter(kind="milestone.released", milestone_id=milestone.pk).exists()


def test_a_milestone_whose_review_is_still_running_is_not_released(delivered):
    assert refresh(delivered).review_deadline > timezone.now()
    assert_left_alone(delivered, ledger_fingerprint(), MilestoneStatus.COMPLETED)


def test_a_review_extended_after_the_timer_picked_the_milestone_is_honoured(delivered, buyer):
    # The timer read the milestone while its deadline looked passed ...
    picked = refresh(delivered)
    picked.review_deadline = timezone.now() - timedelta(seconds=1)
    # ... and the buyer extended the review before the service took the lock.
    services.milestone_review_extend(milestone=delivered, by=buyer)
    assert refresh(delivered).review_deadline > timezone.now()
    assert_left_alone(picked, ledger_fingerprint(), MilestoneStatus.COMPLETED)


def test_a_stage_the_buyer_already_confirmed_is_not_released_again(delivered, buyer):
    picked = lapse(delivered)
    services.milestone_release(milestone=delivered, by=buyer)
    before = ledger_fingerprint()
    assert services.milestone_auto_release(milestone=picked) is None
    assert ledger_fingerprint() == before


def test_a_stage_disputed_after_it_was_picked_stays_frozen(delivered, buyer):
    picked = lapse(delivered)
    services.dispute_open(escrow=delivered.escrow, milestone=delivered, by=buyer, reason="Broken")
    assert_left_alone(picked, ledger_fingerprint(), MilestoneStatus.DISPUTED)


def test_a_stage_never_delivered_is_not_released(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    # A deadline left on a stage that is not delivered (written by hand, or left by a dispute
    # withdrawn back to pending) is not a review.
    pending = lapse(milestones(escrow)[0], completed_at=timezone.now() - timedelta(days=30))
    assert pending.status == MilestoneStatus.PENDING
    assert_left_alone(pending, ledger_fingerprint(), MilestoneStatus.PENDING)


def test_a_lapsed_review_is_released_by_the_system(delivered, seller):
    released = services.milestone_auto_release(milestone=lapse(delivered))
    assert released is not None and refresh(delivered).status == MilestoneStatus.RELEASED
    event = Event.objects.get(kind="milestone.released", milestone_id=delivered.pk)
    assert (event.actor_kind, event.details["reason"]) == (ActorKind.SYSTEM, "inspection period lapsed")
    assert_ledger_invariants()


def test_without_a_stored_deadline_the_inspection_period_from_delivery_decides(delivered):
    period = delivered.escrow.inspection_period
    Milestone.objects.filter(pk=delivered.pk).update(
        review_deadline=None, completed_at=timezone.now() - period + timedelta(minutes=1)
    )
    assert_left_alone(refresh(delivered), ledger_fingerprint(), MilestoneStatus.COMPLETED)
    Milestone.objects.filter(pk=delivered.pk).update(
        completed_at=timezone.now() - period - timedelta(minutes=1)
    )
    assert services.milestone_auto_release(milestone=refresh(delivered)) is not None
    assert refresh(delivered).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()
