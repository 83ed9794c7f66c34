"""Due dates of stages: the date a seller sets must lie ahead, the seller is reminded before a
stage not yet delivered is due, and both parties are told once when it passes. No money moves:
a late stage stays held until it is delivered and released, refunded or disputed."""

from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidRequest

from ..models import Event, Milestone, MilestoneStatus
from ._internal import _event, _get_milestone, _lock_escrow, _milestones

DUE_REMINDER = "milestone.due_reminder_sent"
OVERDUE = "milestone.overdue"


def check_due_date(due_date: datetime | None, *, now: datetime, index: int | None = None) -> None:
    """A due date is optional, and when set it lies ahead. `index`: the stage's place in a set
    sent whole (create and edit), for the message to name it."""
    if due_date is None or due_date > now:
        return
    if index is None:
        raise InvalidRequest(
            "dueDate must be in the future",
            field="dueDate",
            for_person="Due date: must be in the future.",
        )
    raise InvalidRequest(
        f"milestones[{index}].dueDate must be in the future",
        field="milestones",
        for_person=f"Stage {index + 1} due date: must be in the future.",
    )


def due_date_from_day(day: date | None) -> datetime | None:
    """The due date a person picks as a day: due by the end of that day (the site's time zone),
    so a stage due today is not late until the day is over."""
    if day is None:
        return None
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.get_current_timezone())


def _due_details(milestone: Milestone) -> dict[str, Any]:
    assert milestone.due_date is not None
    return {"index": milestone.index, "amount": milestone.amount, "dueDate": milestone.due_date.isoformat()}


def milestones_due_reminder_due(now: datetime | None = None) -> Any:
    """Stages whose seller is to be reminded now (for the timer): Milestone.due_reminder_due as
    a query."""
    now = now or timezone.now()
    return Milestone.objects.filter(
        Milestone.overdue_q(now + settings.ESCROW_DUE_REMINDER_BEFORE),
        due_reminder_sent_at__isnull=True,
        due_date__gt=now,
    )


@transaction.atomic(durable=True)
def milestone_due_remind(*, milestone: Milestone) -> Event | None:
    """Timer: remind the seller once, ESCROW_DUE_REMINDER_BEFORE before its due date, that a stage
    is not delivered yet. Decided again from the rows read under the escrow lock (a stage
    delivered, disputed or settled since it was picked, or given another date, is not reminded);
    the conditional update lets only the first of two racing runs mark it. None when nothing was
    due."""
    escrow = _lock_escrow(milestone.escrow)
    milestone = _get_milestone(escrow, milestone, _milestones(escrow))
    now = timezone.now()
    if not milestone.due_reminder_due(now):
        return None
    claimed = Milestone.objects.filter(
        pk=milestone.pk,
        status=MilestoneStatus.PENDING,
        due_date=milestone.due_date,
        due_reminder_sent_at__isnull=True,
    ).update(due_reminder_sent_at=now)
    if claimed != 1:
        return None
    milestone.due_reminder_sent_at = now
    return _event(DUE_REMINDER, by=None, escrow=escrow, milestone=milestone, details=_due_details(milestone))


def milestones_overdue_due(now: datetime | None = None) -> Any:
    """Overdue stages whose parties were not told yet (for the timer): Milestone.overdue_notice_due
    as a query."""
    return Milestone.objects.filter(
        Milestone.overdue_q(now or timezone.now()), overdue_notified_at__isnull=True
    )


@transaction.atomic(durable=True)
def milestone_overdue_notify(*, milestone: Milestone) -> Event | None:
    """Timer: tell both parties once that a stage's due date passed before it was delivered.
    Decided again under the escrow lock, as the reminder is. None when nothing was due."""
    escrow = _lock_escrow(milestone.escrow)
    milestone = _get_milestone(escrow, milestone, _milestones(escrow))
    now = timezone.now()
    if not milestone.overdue_notice_due(now):
        return None
    claimed = Milestone.objects.filter(
        pk=milestone.pk,
        status=MilestoneStatus.PENDING,
        due_date=milestone.due_date,
        overdue_notified_at__isnull=True,
    ).update(overdue_notified_at=now)
    if claimed != 1:
        return None
    milestone.overdue_notified_at = now
    return _event(OVERDUE, by=None, escrow=escrow, milestone=milestone, details=_due_details(milestone))
