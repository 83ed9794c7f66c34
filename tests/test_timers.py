from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from escrows import services
from escrows.models import Escrow, EscrowStatus, Milestone, MilestoneStatus
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def test_delivered_milestone_auto_releases_after_inspection_period(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller)
    call_command("process_due")
    assert refresh(first).status == MilestoneStatus.COMPLETED
    Milestone.objects.filter(pk=first.pk).update(
        completed_at=timezone.now() - timedelta(days=15), review_deadline=timezone.now() - timedelta(days=1)
    )
    call_command("process_due")
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert refresh(second).status == MilestoneStatus.PENDING
    assert_ledger_invariants()


def test_disputed_escrow_is_not_auto_released(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="Not as described")
    Milestone.objects.filter(pk=first.pk).update(
        completed_at=timezone.now() - timedelta(days=30), review_deadline=timezone.now() - timedelta(days=16)
    )
    call_command("process_due")
    assert refresh(first).status == MilestoneStatus.DISPUTED


def test_unpaid_escrow_expires(seller):
    escrow = make_escrow(seller)
    fresh = make_escrow(seller)
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    call_command("process_due")
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    assert refresh(fresh).status == EscrowStatus.AWAITING_PAYMENT
    assert escrow.events.filter(kind="escrow.cancelled", actor_kind="system").exists()
