"""The timers' picks for due dates, at their edges: the reminder is due from
ESCROW_DUE_REMINDER_BEFORE before a due date until the due date itself (not at it), the overdue
notice from the due date on; each once, and only for pending stages of paid, open escrows. The
timer run tells a stage whose date just passed that it is late, never that it is due soon."""

from datetime import UTC, datetime, timedelta

import pytest

from escrows import services, tasks
from escrows.models import Event, Milestone
from tests.helpers import _dispute, at, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BEFORE = timedelta(hours=48)
SECOND = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _reminder_window(settings):
    settings.ESCROW_DUE_REMINDER_BEFORE = BEFORE


def due(milestone, when, **columns):
    Milestone.objects.filter(pk=milestone.pk).update(due_date=when, **columns)
    return refresh(milestone)


@pytest.fixture
def two_paid(seller, buyer):
    a, b = make_escrow(seller), make_escrow(seller)
    fund(a, buyer)
    fund(b, buyer)
    return milestones(a) + milestones(b)


def test_the_reminder_pick_is_its_window(two_paid):
    last = due(two_paid[0], NOW + BEFORE)
    first = due(two_paid[1], NOW + SECOND)
    due(two_paid[2], NOW + BEFORE + SECOND)  # not yet
    due(two_paid[3], NOW)  # due now: overdue, not due soon
    due(two_paid[4], NOW + SECOND, due_reminder_sent_at=NOW - SECOND)  # already reminded
    assert set(services.milestones_due_reminder_due(NOW)) == {last, first}


def test_the_overdue_pick_starts_at_the_due_date(two_paid):
    now_due = due(two_paid[0], NOW)
    long_ago = due(two_paid[1], NOW - timedelta(days=30))
    due(two_paid[2], NOW + SECOND)  # not yet
    due(two_paid[3], NOW - SECOND, overdue_notified_at=NOW - SECOND)  # already told
    assert set(services.milestones_overdue_due(NOW)) == {now_due, long_ago}


def test_the_picks_leave_out_stages_no_longer_pending_and_escrows_not_open(seller, buyer, two_paid):
    delivered, disputed = two_paid[0], two_paid[3]
    services.milestone_complete(milestone=delivered, by=seller)
    _dispute(disputed)
    unpaid = milestones(make_escrow(seller))[0]
    for m in (delivered, disputed, unpaid):
        due(m, NOW + SECOND)
    assert list(services.milestones_due_reminder_due(NOW)) == []
    assert list(services.milestones_overdue_due(NOW + timedelta(days=1))) == []


def test_the_timer_run_tells_each_once_and_a_passed_date_only_as_overdue(two_paid):
    soon = due(two_paid[1], NOW + timedelta(hours=1))
    passed = due(two_paid[4], NOW - timedelta(hours=1))
    with at(NOW):
        counts = tasks.run_timers()
        again = tasks.run_timers()
    assert (counts["due_reminders"], counts["overdue_notices"]) == (1, 1)
    assert (again["due_reminders"], again["overdue_notices"]) == (0, 0)
    assert [e.milestone_id for e in Event.objects.filter(kind="milestone.due_reminder_sent")] == [soon.pk]
    assert [e.milestone_id for e in Event.objects.filter(kind="milestone.overdue")] == [passed.pk]
    # The reminded stage, still undelivered when its date passes, is then told overdue too.
    with at(NOW + timedelta(hours=1)):
        counts = tasks.run_timers()
    assert (counts["due_reminders"], counts["overdue_notices"]) == (0, 1)
    assert refresh(soon).overdue_notified_at == NOW + timedelta(hours=1)


def test_the_beat_task_runs_the_due_date_timers(two_paid):
    due(two_paid[0], NOW - SECOND)
    with at(NOW):
        counts = tasks.process_due.apply().get()
    assert counts["overdue_notices"] == 1
