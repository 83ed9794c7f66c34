"""What may this viewer do to this escrow now? One answer, used by the escrow page (which
buttons to draw) and its tests. It reads the FSM's available transitions and adds the party
rules the services enforce; the services still check everything again on POST."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import FOR_PERSON

from .models import (
    CancellationProposal,
    ChangeProposal,
    Escrow,
    EscrowStatus,
    Milestone,
    MilestoneStatus,
    RefundRequest,
)


@dataclass(frozen=True)
class EscrowActions:
    role: str | None
    can_edit: bool = False
    can_cancel: bool = False
    can_fund: bool = False
    # Why the buyer gets no Pay button though the escrow awaits payment (buy_refusal_words).
    fund_refusal: str | None = None
    can_refund: bool = False
    can_dispute: bool = False
    # The single milestone the seller may mark delivered now / the buyer may release now.
    deliverable: Milestone | None = None
    releasable: Milestone | None = None
    # The releasable milestone again when the buyer may also release part of it now.
    part_releasable: Milestone | None = None
    # Milestones either party may dispute now (milestone escrows; can_dispute is the
    # whole-escrow dispute of a standard escrow).
    disputable: tuple[Milestone, ...] = ()
    # Review clock: pks of delivered milestones whose review the buyer may still extend.
    extendable: frozenset[int] = frozenset()
    # pks of delivered milestones the buyer may send back for changes.
    changes_requestable: frozenset[int] = frozenset()

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
                self.disputable,
                self.extendable,
                self.changes_requestable,
            )
        )


def _available(obj: Escrow | Milestone) -> set[str]:
    return {t.name for t in obj.get_available_status_transitions()}  # type: ignore[union-attr]


def escrow_actions(escrow: Escrow, milestones: Sequence[Milestone], user: Any) -> EscrowActions:
    role = escrow.party_role(user)
    if role is None:
        return EscrowActions(role=None)
    escrow_moves = _available(escrow)
    opened = escrow.status == EscrowStatus.OPENED
    nxt = escrow.next_unsettled(milestones) if escrow.is_milestone else None
    nxt_moves = _available(nxt) if nxt is not None else set()
    disputable = (
        tuple(m for m in sorted(milestones, key=lambda m: m.index) if "dispute" in _available(m))
        if opened and escrow.is_milestone
        else ()
    )
    whole = "open_dispute" in escrow_moves and not escrow.is_milestone
    # A chargeback freezes what is held (_internal._refuse_if_frozen): nothing of it moves.
    frozen = escrow.frozen_by_chargeback
    releasable = nxt if opened and "release" in nxt_moves and not frozen else None
    if role == "seller":
        return EscrowActions(
            role=role,
            can_edit=escrow.is_editable(milestones),
            can_cancel="cancel" in escrow_moves,
            can_refund="refund" in escrow_moves and not frozen,
            can_dispute=whole,
            disputable=disputable,
            # Delivering before the buyer has paid is allowed by the API but never offered here.
            deliverable=nxt if opened and "complete" in nxt_moves else None,
        )
    fund_refusal = buy_refusal_words(user) if "fund" in escrow_moves else None
    return EscrowActions(
        role=role,
        can_cancel="cancel" in escrow_moves,
        can_fund="fund" in escrow_moves and fund_refusal is None,
        fund_refusal=fund_refusal,
        can_dispute=whole,
        disputable=disputable,
        releasable=releasable,
        part_releasable=releasable if releasable is not None and releasable.can_release_in_parts else None,
        extendable=frozenset(m.pk for m in milestones if opened and review_extendable(m))
        if role == "buyer"
        else frozenset(),
        changes_requestable=frozenset(m.pk for m in milestones if changes_requestable(m, role)),
    )


def review_extendable(milestone: Milestone, now: datetime | None = None) -> bool:
    """Delivered, never extended, and its review deadline still ahead (services decide again)."""
    return milestone.review_extension_refusal(now or timezone.now()) is None


def changes_requestable(milestone: Milestone, role: str | None, now: datetime | None = None) -> bool:
    """The buyer may send this delivered stage back for changes (the service decides again,
    with the note)."""
    return milestone.changes_request_refusal(role, now or timezone.now()) is None


def buy_refusal_words(user: Any) -> str | None:
    """Why this person gets no Pay button, in their words (None: they get it, or must sign in
    first). The rule the payment services enforce (User.buy_refusal, through
    services._internal._refuse_if_may_not_buy)."""
    if not getattr(user, "is_authenticated", False):
        return None
    refusal = user.buy_refusal()
    return FOR_PERSON[refusal] if refusal is not None else None


def sell_refusal_words(user: Any) -> str | None:
    """Why this person gets no create-escrow page or button, in their words (None: they get it).
    The rule escrow creation enforces (User.sell_refusal, through
    services._internal._refuse_if_may_not_sell)."""
    if not getattr(user, "is_authenticated", False):
        return None
    refusal = user.sell_refusal()
    return FOR_PERSON[refusal] if refusal is not None else None


def reserved_for_other(escrow: Escrow, user: Any) -> bool:
    """The payment link names another buyer (by account or by email)."""
    return escrow.reserved_for_other(user)


def invitation_resend_refusal(escrow: Escrow, user: Any, sent: Iterable[datetime]) -> str | None:
    """Why this viewer gets no "Email the invitation again" button now (None: they get it); the
    service decides again. `sent`: when the invitation went out so far."""
    if escrow.party_role(user) != "seller":
        return "Only the seller can send the invitation again"
    return escrow.invitation_resend_refusal(sent)


# -- refunds and mutual cancellation ----------------------------------------------------------


@dataclass(frozen=True)
class RefundActions:
    """What this viewer may do about refunds and mutual cancellation on the escrow page."""

    role: str | None
    held: int = 0
    # The milestones the seller may refund now (unsettled, not under dispute).
    refundable: tuple[Milestone, ...] = ()
    can_request_refund: bool = False
    refund_request: RefundRequest | None = None
    can_answer_refund_request: bool = False
    can_withdraw_refund_request: bool = False
    can_propose_cancellation: bool = False
    proposal: CancellationProposal | None = None
    can_answer_proposal: bool = False
    can_withdraw_proposal: bool = False

    @property
    def can_refund_milestones(self) -> bool:
        return self.role == "seller" and bool(self.refundable)

    @property
    def any(self) -> bool:
        return bool(
            self.can_refund_milestones
            or self.can_request_refund
            or self.refund_request
            or self.can_propose_cancellation
            or self.proposal
        )


def refund_actions(
    escrow: Escrow,
    milestones: Sequence[Milestone],
    user: Any,
    *,
    refund_request: RefundRequest | None = None,
    proposal: CancellationProposal | None = None,
) -> RefundActions:
    """`refund_request` / `proposal`: the escrow's open ones, if any (selectors read them)."""
    role = escrow.party_role(user)
    if role is None:
        return RefundActions(role=None)
    opened = escrow.status == EscrowStatus.OPENED
    funded = escrow.status in (EscrowStatus.OPENED, EscrowStatus.DISPUTED)
    disputed = any(m.status == MilestoneStatus.DISPUTED for m in milestones)
    held = escrow.held_amount(milestones)
    frozen = escrow.frozen_by_chargeback  # nothing held moves (_internal._refuse_if_frozen)
    refundable = tuple(escrow.refundable_milestones(milestones)) if opened and not frozen else ()
    if escrow.is_closed:
        refund_request = proposal = None  # overtaken: the escrow closed another way
    # A proposal whose split no longer matches what is held can only be withdrawn.
    proposal_live = proposal is not None and proposal.total == held
    return RefundActions(
        role=role,
        held=held,
        refundable=refundable if escrow.is_milestone else (),
        can_request_refund=role == "buyer"
        and opened
        and not frozen
        and refund_request is None
        and (bool(refundable) or not escrow.is_milestone),
        refund_request=refund_request,
        can_answer_refund_request=refund_request is not None and role == "seller",
        can_withdraw_refund_request=refund_request is not None and role == "buyer",
        can_propose_cancellation=funded and held > 0 and not disputed and not frozen and not proposal_live,
        proposal=proposal,
        can_answer_proposal=proposal is not None and proposal_live and role != proposal.proposer_role,
        can_withdraw_proposal=proposal is not None and role == proposal.proposer_role,
    )


# -- change orders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeOrderActions:
    """What this viewer may do about change orders on the escrow page."""

    role: str | None
    # The stages a change may still change or remove (Milestone.is_future), in order.
    future: tuple[Milestone, ...] = ()
    can_propose: bool = False
    proposal: ChangeProposal | None = None
    can_answer: bool = False
    can_withdraw: bool = False


def change_order_actions(
    escrow: Escrow, milestones: Sequence[Milestone], user: Any, *, proposal: ChangeProposal | None = None
) -> ChangeOrderActions:
    """`proposal`: the escrow's open change order, if any (selectors read it). The services
    decide again: on acceptance each change is checked against the stages under the lock."""
    role = escrow.party_role(user)
    if role is None:
        return ChangeOrderActions(role=None)
    changeable = escrow.change_order_refusal() is None
    future = tuple(m for m in sorted(milestones, key=lambda m: m.index) if m.is_future) if changeable else ()
    return ChangeOrderActions(
        role=role,
        future=future,
        can_propose=changeable and proposal is None,
        proposal=proposal,
        can_answer=changeable and proposal is not None and role == proposal.responder_role,
        can_withdraw=proposal is not None and role == proposal.proposer_role,
    )
