"""What may this viewer do to this escrow now? One answer, used by the escrow page (which
buttons to draw) and its tests. It reads the FSM's available transitions and adds the party
rules the services enforce; the services still check everything again on POST."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from .models import Escrow, EscrowStatus, Milestone, MilestoneStatus


@dataclass(frozen=True)
class EscrowActions:
    role: str | None
    can_edit: bool = False
    can_cancel: bool = False
    can_fund: bool = False
    can_refund: bool = False
    can_dispute: bool = False
    # The single milestone the seller may mark delivered now / the buyer may release now.
    deliverable: Milestone | None = None
    releasable: Milestone | None = None
    # Review clock: pks of delivered milestones whose review the buyer may still extend.
    extendable: frozenset[int] = frozenset()

    @property
    def any(self) -> bool:
        return any(
            (
                self.can_edit,
                self.can_cancel,
                self.can_fund,
                self.can_refund,
                self.can_dispute,
                self.deliverable,
                self.releasable,
                self.extendable,
            )
        )


def _available(obj: Escrow | Milestone) -> set[str]:
    return {t.name for t in obj.get_available_status_transitions()}  # type: ignore[union-attr]


def _next_unsettled(milestones: Sequence[Milestone]) -> Milestone | None:
    # Milestones go in order: only the first one not released/refunded can move.
    for m in sorted(milestones, key=lambda m: m.index):
        if not m.is_settled:
            return m
    return None


def escrow_actions(escrow: Escrow, milestones: Sequence[Milestone], user: Any) -> EscrowActions:
    role = escrow.party_role(user)
    if role is None:
        return EscrowActions(role=None)
    escrow_moves = _available(escrow)
    awaiting = escrow.status == EscrowStatus.AWAITING_PAYMENT
    opened = escrow.status == EscrowStatus.OPENED
    untouched = all(m.status == MilestoneStatus.PENDING for m in milestones)
    nxt = _next_unsettled(milestones) if escrow.is_milestone else None
    nxt_moves = _available(nxt) if nxt is not None else set()
    if role == "seller":
        return EscrowActions(
            role=role,
            can_edit=awaiting and untouched,
            can_cancel="cancel" in escrow_moves,
            can_refund="refund" in escrow_moves,
            can_dispute="open_dispute" in escrow_moves,
            # Delivering before the buyer has paid is allowed by the API but never offered here.
            deliverable=nxt if opened and "complete" in nxt_moves else None,
        )
    return EscrowActions(
        role=role,
        can_cancel="cancel" in escrow_moves,
        can_fund="fund" in escrow_moves,
        can_dispute="open_dispute" in escrow_moves,
        releasable=nxt if opened and "release" in nxt_moves else None,
        extendable=frozenset(m.pk for m in milestones if opened and review_extendable(m))
        if role == "buyer"
        else frozenset(),
    )


def review_extendable(milestone: Milestone, now: datetime | None = None) -> bool:
    """Delivered, never extended, and its review deadline still ahead (services decide again)."""
    if milestone.status != MilestoneStatus.COMPLETED or milestone.review_extended_at is not None:
        return False
    deadline = milestone.review_deadline
    return deadline is not None and deadline > (now or timezone.now())


def reserved_for_other(escrow: Escrow, user: Any) -> bool:
    """The payment link names another buyer (by account or by email)."""
    if escrow.party_role(user) is not None:
        return False
    if escrow.buyer_id is not None:
        return True
    return bool(escrow.buyer_email) and escrow.buyer_email != user.email.lower()
