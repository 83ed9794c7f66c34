"""The timers act at the deadline itself, not a moment after, as the sweep that picks them
(deadline <= now) expects: an unpaid escrow expires, a delivered stage releases, a dispute gets
its default outcome. Each leaves its reason in the record."""

from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest

from escrows import services
from escrows.models import DisputeStatus, EscrowStatus, Event, Milestone, MilestoneStatus
from escrows.services import fee_shares
from tests.helpers import fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@contextmanager
def at(moment):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def test_an_unpaid_escrow_expires_at_its_expiry(seller):
    escrow = make_escrow(seller)
    expiry = refresh(escrow).expires_at
    with at(expiry - timedelta(seconds=1)):
        assert services.escrow_expire(escrow=escrow) is None
    with at(expiry):
        assert services.escrow_expire(escrow=escrow) is not None
    expired = refresh(escrow)
    assert expired.status == EscrowStatus.CANCELLED
    assert expired.closed_at == expiry
    event = Event.objects.get(kind="escrow.cancelled")
    assert (event.actor, event.actor_kind, event.escrow_id) == (None, "system", escrow.pk)
    assert (event.from_status, event.to_status) == (EscrowStatus.AWAITING_PAYMENT, EscrowStatus.CANCELLED)
    assert event.details == {"reason": "expired"}


def test_a_delivered_stage_releases_at_its_review_deadline(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    first = refresh(milestones(escrow)[0])
    with at(first.review_deadline - timedelta(seconds=1)):
        assert services.milestone_auto_release(milestone=first) is None
    with at(first.review_deadline):
        assert services.milestone_auto_release(milestone=first) is not None
    assert refresh(first).status == MilestoneStatus.RELEASED


def test_a_dispute_gets_its_default_outcome_at_its_deadline(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="Late")
    deadline = refresh(dispute).deadline
    with at(deadline - timedelta(seconds=1)):
        assert services.dispute_apply_default(dispute=dispute) is None
    with at(deadline):
        assert services.dispute_apply_default(dispute=dispute) is not None
    settled = refresh(dispute)
    assert settled.status == DisputeStatus.RESOLVED
    assert settled.resolution_note == "Resolution deadline passed: the default outcome applied"
    assert Milestone.objects.get(pk=milestones(escrow)[1].pk).status != MilestoneStatus.DISPUTED


@pytest.mark.parametrize(
    ("fee", "who", "amounts", "expected"),
    [
        (100, "seller", [0, 0], (0, [0, 0])),  # nothing to spread it over
        (10, "seller", [1], (0, [10])),
        (1, "seller", [3, 5], (0, [0, 1])),  # the one unit goes to the larger remainder
        (7, "buyer", [3, 5], (7, [0, 0])),
    ],
)
def test_the_payees_fee_share_at_its_edges(fee, who, amounts, expected):
    assert fee_shares(fee, who, amounts) == expected
