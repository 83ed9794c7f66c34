"""A stage the buyer sends back for changes after its due date passed is not late: the seller
delivered it, and it is in progress again only because the buyer asked for changes. The rule
(Milestone.is_overdue) and its query (Milestone.overdue_q) agree, and the timer tells nobody it is
overdue. A stage sent back before its due date is late once the date passes, as is a sent-back
stage given a new due date by change order once that one passes."""

from datetime import UTC, datetime, timedelta

import pytest

from escrows import services, tasks
from escrows.models import Event, Milestone, MilestoneStatus
from escrows.services import StageEdit
from tests.helpers import at, milestones, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DUE = NOW + timedelta(days=1)


@pytest.fixture
def stage(funded, seller):
    """Stage 0 (300.00 USD) of a paid escrow, due a day after NOW, delivered at NOW."""
    first = milestones(funded)[0]
    Milestone.objects.filter(pk=first.pk).update(due_date=DUE)
    with at(NOW):
        services.milestone_complete(milestone=first, by=seller, proof="done")
    return refresh(first)


def send_back(stage, buyer, when):
    with at(when):
        services.milestone_request_changes(milestone=stage, by=buyer, note="Bigger logo")
    return refresh(stage)


def overdue_by_query(when):
    return set(Milestone.objects.filter(Milestone.overdue_q(when)))


def test_a_stage_sent_back_after_its_due_date_is_not_overdue(stage, buyer):
    sent_back = send_back(stage, buyer, DUE + timedelta(days=1))
    assert (sent_back.status, sent_back.changes_requested_at) == (
        MilestoneStatus.PENDING,
        DUE + timedelta(days=1),
    )
    later = DUE + timedelta(days=5)
    assert not sent_back.is_overdue(later)
    assert sent_back not in overdue_by_query(later)
    assert list(services.milestones_overdue_due(later)) == []
    with at(later):
        assert services.milestone_overdue_notify(milestone=sent_back) is None
        counts = tasks.run_timers()
    assert counts["overdue_notices"] == 0
    assert not Event.objects.filter(kind="milestone.overdue").exists()
    assert refresh(stage).overdue_notified_at is None


def test_a_stage_sent_back_before_its_due_date_is_overdue_once_it_passes(stage, buyer):
    sent_back = send_back(stage, buyer, DUE - timedelta(hours=1))
    assert not sent_back.is_overdue(DUE - timedelta(seconds=1))
    assert sent_back.is_overdue(DUE)
    assert overdue_by_query(DUE) == {sent_back}
    with at(DUE):
        counts = tasks.run_timers()
    assert counts["overdue_notices"] == 1
    assert [e.milestone_id for e in Event.objects.filter(kind="milestone.overdue")] == [stage.pk]


def test_a_new_due_date_by_change_order_counts_again(stage, seller, buyer):
    sent_back = send_back(stage, buyer, DUE + timedelta(days=1))
    new_due = DUE + timedelta(days=10)
    with at(DUE + timedelta(days=2)):
        proposal = services.change_order_propose(
            escrow=sent_back.escrow, by=seller, changes=[StageEdit(milestone=sent_back, due_date=new_due)]
        )
        services.change_order_accept(proposal=proposal, by=buyer)
    moved = refresh(stage)
    assert moved.due_date == new_due
    assert not moved.is_overdue(new_due - timedelta(seconds=1))
    assert moved.is_overdue(new_due) and overdue_by_query(new_due) == {moved}
    with at(new_due):
        assert services.milestone_overdue_notify(milestone=moved) is not None
