"""The buyer's review of a delivered stage: the clock's deadline, one extension, the reminder
before it releases, and sending the stage back for changes (which stops the clock)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.types import Actor
from core.errors import (
    Forbidden,
    InvalidRequest,
    InvalidState,
)

from ..models import (
    Escrow,
    EscrowStatus,
    Milestone,
    MilestoneStatus,
)
from ._internal import (
    _check_actionable,
    _event,
    _get_milestone,
    _lock_escrow,
    _milestones,
    _refuse_if_disputed,
    _require_party,
)


def review_deadline_of(milestone: Milestone) -> datetime | None:
    """When a delivered milestone releases by itself (Milestone.review_ends_at)."""
    return milestone.review_ends_at


def _review_clock_start(escrow: Escrow, milestone: Milestone, at: datetime) -> None:
    milestone.review_deadline = at + escrow.inspection_period
    milestone.review_extended_at = None
    milestone.reminder_sent_at = None


def _review_clock_on_funding(escrow: Escrow, milestones: list[Milestone]) -> None:
    """A stage delivered before the buyer paid: the buyer's review starts when the money is in,
    so a deadline that ran while nothing was held cannot release at once."""
    for m in milestones:
        if m.status != MilestoneStatus.COMPLETED or escrow.funded_at is None:
            continue
        start = escrow.funded_at + escrow.inspection_period
        if m.review_deadline is None or m.review_deadline < start:
            m.review_deadline = start
            m.reminder_sent_at = None
            m.save(update_fields=["review_deadline", "reminder_sent_at"])


@transaction.atomic(durable=True)
def milestone_review_extend(*, milestone: Milestone, by: Actor) -> Milestone:
    """The buyer takes more time to review a delivered milestone: the deadline moves by
    ESCROW_REVIEW_EXTENSION, once, and only while the clock is still running."""
    escrow = _lock_escrow(milestone.escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if role != "buyer":
        raise Forbidden("Only the buyer can extend the review period")
    _refuse_if_disputed(milestone)
    _check_actionable(escrow, allow_unfunded=False)
    now = timezone.now()
    refusal = milestone.review_extension_refusal(now)
    if refusal is not None:
        code, message = refusal
        raise InvalidState(message, code=code)
    deadline = milestone.review_ends_at
    assert deadline is not None
    extension: timedelta = settings.ESCROW_REVIEW_EXTENSION
    milestone.review_deadline = deadline + extension
    milestone.review_extended_at = now
    # A new deadline earns a new reminder.
    milestone.reminder_sent_at = None
    milestone.save(update_fields=["review_deadline", "review_extended_at", "reminder_sent_at"])
    _event(
        "milestone.review_extended",
        by=by,
        escrow=escrow,
        milestone=milestone,
        details={
            "index": milestone.index,
            "previousDeadline": deadline.isoformat(),
            "reviewDeadline": milestone.review_deadline.isoformat(),
            "extensionSeconds": int(extension.total_seconds()),
        },
    )
    return milestone


def review_reminder_due(milestone: Milestone, now: datetime) -> bool:
    deadline = review_deadline_of(milestone)
    return (
        milestone.status == MilestoneStatus.COMPLETED
        and milestone.reminder_sent_at is None
        and deadline is not None
        and deadline - settings.ESCROW_REVIEW_REMINDER_BEFORE <= now < deadline
    )


@transaction.atomic(durable=True)
def milestone_review_remind(*, milestone: Milestone) -> Milestone | None:
    """Timer: remind the buyer once, ESCROW_REVIEW_REMINDER_BEFORE before a delivered
    milestone releases by itself. Two runs at once write one reminder: the escrow row lock
    serialises them and the conditional update lets only the first mark the milestone. The
    reminder is the event; the notifications send its email after the commit (retried there,
    never undoing the mark). Returns None when nothing was due."""
    escrow = _lock_escrow(milestone.escrow)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    now = timezone.now()
    if (
        escrow.status != EscrowStatus.OPENED
        or escrow.buyer is None
        or not review_reminder_due(milestone, now)
    ):
        return None
    claimed = Milestone.objects.filter(
        pk=milestone.pk, status=MilestoneStatus.COMPLETED, reminder_sent_at__isnull=True
    ).update(reminder_sent_at=now)
    if claimed != 1:
        return None
    milestone.reminder_sent_at = now
    deadline = review_deadline_of(milestone)
    assert deadline is not None
    _event(
        "milestone.review_reminder_sent",
        by=None,
        escrow=escrow,
        milestone=milestone,
        customer=escrow.buyer,
        details={"index": milestone.index, "reviewDeadline": deadline.isoformat()},
    )
    return milestone


@transaction.atomic(durable=True)
def milestone_request_changes(*, milestone: Milestone, by: Actor, note: str) -> Milestone:
    """The buyer sends a delivered stage back to the seller with a note: it is in progress again
    (PENDING), its review clock stops (a new delivery starts a fresh one, with its own extension
    and reminder) and the round is counted. No money moves: what is held stays held, and a part
    already released stays released. The delivery sent back leaves the stage (the next one
    replaces it) and is kept in the event."""
    escrow = _lock_escrow(milestone.escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if role != "buyer":
        raise Forbidden("Only the buyer can request changes to a delivered milestone")
    _refuse_if_disputed(milestone)
    _check_actionable(escrow, allow_unfunded=False)
    now = timezone.now()
    refusal = milestone.changes_request_refusal(role, now, note=note)
    if refusal is not None:
        code, message = refusal
        if code.startswith("note_"):
            raise InvalidRequest(message, code=code, field="note")
        raise InvalidState(message, code=code)
    note = note.strip()
    sent_back = {
        "completedBy": milestone.completed_by,
        "proof": milestone.completion_proof,
        "proofUri": milestone.completion_proof_uri,
    }
    milestone.send_back()
    milestone.changes_requested_count += 1
    milestone.changes_requested_note = note
    milestone.changes_requested_at = now
    # Undelivered again: dispute_withdraw reads completed_at to put a stage back where it was.
    milestone.completed_at = None
    milestone.completed_by = ""
    milestone.completion_proof = ""
    milestone.completion_proof_uri = ""
    milestone.review_deadline = None
    milestone.review_extended_at = None
    milestone.reminder_sent_at = None
    milestone.save(
        update_fields=[
            "status",
            "changes_requested_count",
            "changes_requested_note",
            "changes_requested_at",
            "completed_at",
            "completed_by",
            "completion_proof",
            "completion_proof_uri",
            "review_deadline",
            "review_extended_at",
            "reminder_sent_at",
        ]
    )
    _event(
        "milestone.changes_requested",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=MilestoneStatus.COMPLETED,
        to_status=milestone.status,
        details={
            "index": milestone.index,
            "milestone": milestone.public_id,
            "round": milestone.changes_requested_count,
            "note": note,
            "requestedBy": role,
            # What stays held for the stage (a part released before stays released).
            "held": milestone.remaining_amount,
            **sent_back,
        },
    )
    return milestone
