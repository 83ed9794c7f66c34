"""process_due, the timers' sweep: a lapsed review is released and a disputed one is not, an
unpaid escrow expires; at scale, each item in its own transaction, one failure logged and skipped."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from escrows import services, tasks
from escrows.models import Escrow, EscrowStatus, Milestone, MilestoneStatus
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def _lapse(*ms):
    Milestone.objects.filter(pk__in=[m.pk for m in ms]).update(
        completed_at=timezone.now() - timedelta(days=15), review_deadline=timezone.now() - timedelta(days=1)
    )


def test_one_failing_item_does_not_stop_the_others(seller, monkeypatch, caplog):
    broken, *others = [make_escrow(seller) for _ in range(4)]
    Escrow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    real_expire = services.escrow_expire

    def expire(*, escrow):  # fault injection: this one escrow's transaction blows up
        if escrow.pk == broken.pk:
            raise RuntimeError("database hiccup")
        return real_expire(escrow=escrow)

    monkeypatch.setattr(services, "escrow_expire", expire)
    counts = tasks.run_timers()
    assert counts["expired"] == 3 and counts["errors"] == 1
    assert refresh(broken).status == EscrowStatus.AWAITING_PAYMENT
    assert all(refresh(e).status == EscrowStatus.CANCELLED for e in others)
    assert "database hiccup" in caplog.text


def test_many_lapsed_milestones_released_in_order_in_one_run(seller, buyer, monkeypatch):
    monkeypatch.setattr(tasks, "BATCH", 2)  # several batches
    escrows = [make_escrow(seller) for _ in range(3)]
    for e in escrows:
        fund(e, buyer)
    lapsed = []
    for e in escrows:
        first, second, _ = milestones(e)
        services.milestone_complete(milestone=first, by=seller)
        services.milestone_complete(milestone=second, by=seller)
        lapsed += [first, second]
    _lapse(*lapsed)
    fresh = make_escrow(seller)
    fund(fresh, buyer)
    services.milestone_complete(milestone=milestones(fresh)[0], by=seller)
    out = StringIO()
    call_command("process_due", stdout=out)
    assert "auto_released: 6" in out.getvalue()
    for m in lapsed:
        assert refresh(m).status == MilestoneStatus.RELEASED
    assert milestones(fresh)[0].status == MilestoneStatus.COMPLETED
    assert_ledger_invariants()


def test_expiry_only_touches_unpaid_escrows(seller, buyer):
    unpaid, paid = make_escrow(seller), make_escrow(seller)
    fund(paid, buyer)
    Escrow.objects.update(expires_at=timezone.now() - timedelta(days=1))
    assert tasks.run_timers()["expired"] == 1
    assert refresh(unpaid).status == EscrowStatus.CANCELLED
    assert refresh(paid).status == EscrowStatus.OPENED
    assert tasks.run_timers()["expired"] == 0


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
