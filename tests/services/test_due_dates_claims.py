"""Each reminder and overdue notice is claimed on its own stage's row: the conditional update
marks only that stage, and only while it is still pending, still has the date the run decided on
and is not marked yet. The escrow lock already keeps a second run out until the first is done;
the claim is what still stops a second notice if the row changes after the run read it (here a
write is let in at that moment). And the moment recorded is the one the run decided on."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from escrows import services
from escrows.models import Event, Milestone, MilestoneStatus
from tests.helpers import milestones, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
BEFORE = timedelta(hours=48)
SECOND = timedelta(seconds=1)
DUE = NOW + timedelta(days=1)
REMINDED = "milestone.due_reminder_sent"
OVERDUE = "milestone.overdue"


@pytest.fixture(autouse=True)
def _reminder_window(settings):
    settings.ESCROW_DUE_REMINDER_BEFORE = BEFORE


@pytest.fixture
def stages(funded):
    """Stages 1 and 2 of a paid escrow, both due a day after NOW."""
    second, third = milestones(funded)[1:]
    Milestone.objects.filter(pk__in=[second.pk, third.pk]).update(due_date=DUE)
    return refresh(second), refresh(third)


def at(moment):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def ticking(start):
    """A clock that moves on a second each time it is read."""
    readings = (start + n * SECOND for n in range(1000))
    return mock.patch("django.utils.timezone.now", side_effect=lambda: next(readings))


def sent(kind):
    return list(Event.objects.filter(kind=kind).order_by("pk").values_list("milestone_id", flat=True))


def written_after_the_decision(rule, **columns):
    """The stage's row changes right after the run decided from what it read under the lock."""
    decide = getattr(Milestone, rule)

    def decide_then_written(self, now):
        due = decide(self, now)
        Milestone.objects.filter(pk=self.pk).update(**columns)
        return due

    return mock.patch.object(Milestone, rule, decide_then_written)


# -- one stage's claim marks that stage only -----------------------------------------------------------


def test_two_stages_due_the_same_day_are_each_reminded(stages):
    second, third = stages
    with at(NOW):
        first_event = services.milestone_due_remind(milestone=second)
        assert refresh(third).due_reminder_sent_at is None
        other_event = services.milestone_due_remind(milestone=third)
    assert (first_event.milestone_id, other_event.milestone_id) == (second.pk, third.pk)
    assert sent(REMINDED) == [second.pk, third.pk]


def test_two_stages_overdue_the_same_day_are_each_told(stages):
    second, third = stages
    with at(DUE):
        first_event = services.milestone_overdue_notify(milestone=second)
        assert refresh(third).overdue_notified_at is None
        other_event = services.milestone_overdue_notify(milestone=third)
    assert (first_event.milestone_id, other_event.milestone_id) == (second.pk, third.pk)
    assert sent(OVERDUE) == [second.pk, third.pk]


def test_the_returned_event_carries_the_stage_as_marked(stages):
    second, third = stages
    with at(NOW):
        reminded = services.milestone_due_remind(milestone=second)
    with at(DUE):
        told = services.milestone_overdue_notify(milestone=third)
    assert reminded.milestone.due_reminder_sent_at == NOW
    assert told.milestone.overdue_notified_at == DUE


# -- the row changed after the run read it ----------------------------------------------------------

CHANGED = [
    pytest.param({"status": MilestoneStatus.COMPLETED}, id="delivered"),
    pytest.param({"due_date": DUE + timedelta(days=5)}, id="due-date-moved"),
]


@pytest.mark.parametrize(
    "columns", [*CHANGED, pytest.param({"due_reminder_sent_at": NOW - SECOND}, id="already-reminded")]
)
def test_a_reminder_is_not_sent_for_a_row_that_changed_after_it_was_read(stages, columns):
    second, _ = stages
    with at(NOW), written_after_the_decision("due_reminder_due", **columns):
        assert services.milestone_due_remind(milestone=second) is None
    assert not Event.objects.filter(kind=REMINDED).exists()
    assert refresh(second).due_reminder_sent_at == columns.get("due_reminder_sent_at")


@pytest.mark.parametrize(
    "columns", [*CHANGED, pytest.param({"overdue_notified_at": DUE - SECOND}, id="already-told")]
)
def test_an_overdue_notice_is_not_sent_for_a_row_that_changed_after_it_was_read(stages, columns):
    second, _ = stages
    with at(DUE), written_after_the_decision("overdue_notice_due", **columns):
        assert services.milestone_overdue_notify(milestone=second) is None
    assert not Event.objects.filter(kind=OVERDUE).exists()
    assert refresh(second).overdue_notified_at == columns.get("overdue_notified_at")


# -- one reading of the clock ---------------------------------------------------------------------------


def test_a_stage_is_never_recorded_as_told_overdue_before_its_due_date(stages):
    """The run decides and records with the same moment, however the clock moves meanwhile."""
    second, _ = stages
    told = 0
    for offset in range(6):
        due_date = NOW + offset * SECOND
        Milestone.objects.filter(pk=second.pk).update(due_date=due_date, overdue_notified_at=None)
        with ticking(NOW):
            event = services.milestone_overdue_notify(milestone=second)
        if event is not None:
            told += 1
            assert refresh(second).overdue_notified_at >= refresh(second).due_date
    assert told >= 1
