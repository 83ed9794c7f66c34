"""Delivery and release: the seller marks a milestone delivered, the buyer (or the review
clock, or auto-release on proof) releases it, in order, whole or in parts; a standard escrow is
confirmed whole."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.types import Actor, User
from core.errors import (
    Forbidden,
    InvalidRequest,
    InvalidState,
    NotFound,
    StageChanged,
)

from .. import hot, ledger
from ..models import (
    PART_RELEASE_MEMO,
    REST_RELEASE_MEMO,
    DisputeOutcome,
    Escrow,
    EscrowStatus,
    Milestone,
    MilestoneStatus,
    TransactionKind,
)
from ..money import format_money
from ._internal import (
    _check_actionable,
    _close_after_last,
    _close_escrow,
    _event,
    _get_milestone,
    _lock_escrow,
    _milestones,
    _refuse_if_disputed,
    _refuse_if_frozen,
    _require_party,
    _schedule_payout,
    _settle_milestone,
)
from .review_clock import _review_clock_start, review_deadline_of


@transaction.atomic(durable=True)
def milestone_complete(
    *,
    milestone: Milestone,
    by: Actor,
    completed_by: str = "",
    proof: str = "",
    proof_uri: str = "",
) -> Milestone:
    """The seller marks a milestone delivered, with proof. With auto-release on and all
    prerequisites met, the release follows in the same transaction."""
    escrow = _lock_escrow(milestone.escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    _milestone_delivered(
        escrow,
        milestones,
        milestone,
        role=role,
        by=by,
        completed_by=completed_by,
        proof=proof,
        proof_uri=proof_uri,
    )
    _release_on_proof(escrow, milestones)
    return milestone


def _milestone_delivered(
    escrow: Escrow,
    milestones: list[Milestone],
    milestone: Milestone,
    *,
    role: str,
    by: Actor,
    completed_by: str,
    proof: str,
    proof_uri: str,
) -> None:
    """milestone_complete's change on the (locked) escrow, without the release on proof that
    follows it (_release_on_proof)."""
    if role != "seller":
        raise Forbidden("Only the seller can mark a milestone delivered")
    # The milestone's own state first: the seeds' "Milestone already released" holds after the
    # last release closed the escrow too.
    if milestone.status == MilestoneStatus.COMPLETED:
        raise InvalidRequest("Milestone already completed")
    if milestone.status == MilestoneStatus.RELEASED:
        raise InvalidRequest("Milestone already released")
    if milestone.status in (MilestoneStatus.REFUNDED, MilestoneStatus.SPLIT):
        raise InvalidState("Milestone was refunded")
    _check_actionable(escrow, allow_unfunded=True)
    _refuse_if_disputed(milestone)
    previous = escrow.milestone_before(milestones, milestone)
    if previous is not None and previous.status == MilestoneStatus.PENDING:
        raise InvalidRequest(f"Previous milestone (index {previous.index}) must be completed first")
    milestone.complete()
    milestone.completed_by = completed_by[:200]
    milestone.completion_proof = proof
    milestone.completion_proof_uri = proof_uri
    milestone.completed_at = timezone.now()
    _review_clock_start(escrow, milestone, milestone.completed_at)
    milestone.save()
    _event(
        "milestone.completed",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=MilestoneStatus.PENDING,
        to_status=milestone.status,
        details={
            "index": milestone.index,
            "completedBy": milestone.completed_by,
            "proof": proof[:500],
            "proofUri": proof_uri,
            "reviewDeadline": milestone.review_deadline.isoformat() if milestone.review_deadline else None,
        },
    )


def _release_on_proof(escrow: Escrow, milestones: list[Milestone]) -> None:
    """With auto-release on proof, what a delivery made ready is released (_release_ready)."""
    if escrow.auto_release_on_proof and escrow.status == EscrowStatus.OPENED:
        _release_ready(escrow, milestones)


@transaction.atomic(durable=True)
def milestone_release(*, milestone: Milestone, by: Actor) -> Milestone:
    """The buyer confirms one stage: its amount moves from the hold to the payee's balance.
    Releasing the last milestone completes the escrow in the same transaction. Returns the
    released milestone; its .escrow is the escrow as this transaction left it."""
    escrow = _lock_escrow(milestone.escrow, with_seller_account=True)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    return _buyer_releases(escrow, milestones, _get_milestone(escrow, milestone, milestones), role, by)


@transaction.atomic(durable=True)
def milestone_confirm(*, escrow_id: str, milestone_id: str, by: Actor) -> Milestone:
    """milestone_release addressed by public ids, as the API's confirm call addresses it: the
    escrow is found and locked in one read, with nothing read before the transaction. The same
    answers: "Escrow not found" for an escrow that is missing or not the caller's, "Milestone not
    found" for a stage that is not the escrow's."""
    escrow = hot.LOCK_ESCROW_FOR_CONFIRM.first(escrow_id)
    if escrow is None:
        raise NotFound("Escrow not found")
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = next((m for m in milestones if m.public_id == milestone_id), None)
    if milestone is None:
        raise NotFound("Milestone not found")
    return _buyer_releases(escrow, milestones, milestone, role, by)


def _buyer_releases(
    escrow: Escrow, milestones: list[Milestone], milestone: Milestone, role: str, by: Actor
) -> Milestone:
    if role != "buyer":
        raise Forbidden("Only the buyer can release a milestone")
    _release_one(escrow, milestones, milestone, by=by)
    if escrow.auto_release_on_proof:
        _release_ready(escrow, milestones)
    return milestone


@transaction.atomic(durable=True)
def milestone_auto_release(*, milestone: Milestone) -> Milestone | None:
    """Timer: a delivered milestone the buyer neither confirmed nor disputed within the
    inspection period is released. Returns None when it no longer qualifies."""
    escrow = _lock_escrow(milestone.escrow)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if escrow.status != EscrowStatus.OPENED or milestone.status != MilestoneStatus.COMPLETED:
        return None
    if escrow.frozen_by_chargeback:
        return None
    deadline = review_deadline_of(milestone)
    if deadline is None or deadline > timezone.now():
        return None
    previous = escrow.milestone_before(milestones, milestone)
    if previous is not None and not previous.is_settled:
        return None
    _release_one(escrow, milestones, milestone, by=None, reason="inspection period lapsed")
    return milestone


def _release_one(
    escrow: Escrow, milestones: list[Milestone], milestone: Milestone, *, by: Actor, reason: str = ""
) -> None:
    _check_releasable(escrow, milestones, milestone)
    _release(escrow, milestones, milestone, by=by, reason=reason)


def _check_releasable(escrow: Escrow, milestones: list[Milestone], milestone: Milestone) -> None:
    """What a release of a stage needs, all of it or a part: not settled, the escrow funded and
    open, the stage not under dispute, the stage before it (release order) settled."""
    if milestone.status == MilestoneStatus.RELEASED:
        raise InvalidRequest("Milestone already released")
    if milestone.status in (MilestoneStatus.REFUNDED, MilestoneStatus.SPLIT):
        raise InvalidState("Milestone was refunded")
    _check_actionable(escrow, allow_unfunded=False)
    _refuse_if_frozen(escrow)
    _refuse_if_disputed(milestone)
    previous = escrow.milestone_before(milestones, milestone)
    if previous is not None and not previous.is_settled:
        raise InvalidRequest(f"Previous milestone (index {previous.index}) must be released first")


def _pay_payee(escrow: Escrow, milestone: Milestone, amount: int, *, memo: str = "") -> User:
    """Move `amount` of a stage from the hold to its payee's balance (one posting); returns the
    payee."""
    payee = milestone.payee or escrow.seller
    known = getattr(escrow, "seller_account_id", None) if payee.pk == escrow.seller_id else None
    payee_account = ledger.customer_account(payee, escrow.currency, known_id=known)
    ledger.post(
        TransactionKind.RELEASE,
        escrow.currency,
        [(ledger.hold_account(escrow), -amount), (payee_account, amount)],
        escrow=escrow,
        milestone=milestone,
        memo=memo,
    )
    return payee


def _release(
    escrow: Escrow, milestones: list[Milestone], milestone: Milestone, *, by: Actor, reason: str = ""
) -> None:
    """Release what is left of a stage (all of it unless the buyer released a part before) and
    settle it; the escrow completes after its last stage."""
    amount = milestone.remaining_amount
    payee = _pay_payee(escrow, milestone, amount, memo=REST_RELEASE_MEMO if milestone.partly_released else "")
    details = {"index": milestone.index, "amount": amount, "payee": payee.customer_id, "reason": reason}
    if milestone.partly_released:
        details["releasedBefore"] = milestone.released_part
    _settle_milestone(escrow, milestone, DisputeOutcome.RELEASE, by=by, at=timezone.now(), details=details)
    _schedule_payout(escrow, payee=payee, amount=amount, milestone=milestone, by=by)
    if all(m.is_settled for m in milestones):
        _close_after_last(escrow, milestones, by=by)


def _refuse_if_stage_changed(milestone: Milestone, remaining_seen: int | None) -> None:
    """A part is released against what the buyer saw left of the stage when they confirmed: the
    same confirmation sent again (a double click, the browser sending the form again) finds less
    left and releases nothing. A settled stage has nothing left, whatever its parts were."""
    if remaining_seen is None:
        return
    left = 0 if milestone.is_settled else milestone.remaining_amount
    if remaining_seen == left:
        return
    now = (
        f"{format_money(left, milestone.escrow.currency)} of it is left now"
        if left
        else "none of it is held now"
    )
    raise StageChanged(
        f"The milestone changed since the release was confirmed ({left} minor units remain); "
        "nothing was released",
        for_person=f"This stage changed since you confirmed: {now}. Nothing was released.",
    )


def milestone_release_part_check(
    *, milestone: Milestone, amount: Any, remaining_seen: int | None = None
) -> int:
    """The amount (minor units) milestone_release_part would move of this stage, refused as it
    refuses it and in its words (`Milestone.release_part_refusal`); with `remaining_seen`, refused
    first if the stage no longer has that much left. Writes nothing: the page shows it before
    asking to confirm; the service checks it again under the lock."""
    _refuse_if_stage_changed(milestone, remaining_seen)
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidRequest(
            "amount must be an exact number of minor units",
            field="amount",
            for_person="Enter the amount to release as money, such as 100.00.",
        )
    refusal = milestone.release_part_refusal(amount)
    if refusal is not None:
        raise InvalidRequest(
            f"amount {refusal}",
            code="amount_above_remaining" if amount > 0 else "amount_not_positive",
            field="amount",
            for_person=f"Amount to release {refusal}.",
        )
    return amount


@transaction.atomic(durable=True)
def milestone_release_part(
    *, milestone: Milestone, by: Actor, amount: int, remaining_seen: int | None = None
) -> Milestone:
    """The buyer releases part of a stage now: `amount` (minor units) moves from the hold to the
    payee's balance (paid out as a release is) and the rest stays held for the stage, which stays
    where it was. All of what is left is the release of the rest: the stage settles, as
    milestone_release settles it. `remaining_seen` is what was left of the stage when the buyer
    confirmed on a page: if it is no longer what is left, nothing moves (a confirmation sent
    twice releases once). The API leaves it None; its retries repeat through Idempotency-Key.
    Returns the milestone; its .escrow is the escrow as this transaction left it."""
    escrow = _lock_escrow(milestone.escrow, with_seller_account=True)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if role != "buyer":
        raise Forbidden("Only the buyer can release a milestone")
    _refuse_if_stage_changed(milestone, remaining_seen)
    _check_releasable(escrow, milestones, milestone)
    milestone_release_part_check(milestone=milestone, amount=amount)
    if amount == milestone.remaining_amount:
        return _buyer_releases(escrow, milestones, milestone, role, by)
    payee = _pay_payee(escrow, milestone, amount, memo=PART_RELEASE_MEMO)
    milestone.released_part += amount
    milestone.save(update_fields=["released_part"])
    _event(
        "milestone.partially_released",
        by=by,
        escrow=escrow,
        milestone=milestone,
        details={
            "index": milestone.index,
            "amount": amount,
            "released": milestone.released_part,
            "remaining": milestone.remaining_amount,
            "payee": payee.customer_id,
        },
    )
    # A stage has one payout of its own (Settlement.milestone is one to one): the one of the
    # release that settles it. A part's payout names the escrow only.
    _schedule_payout(escrow, payee=payee, amount=amount, milestone=None, by=by)
    return milestone


def _release_ready(escrow: Escrow, milestones: list[Milestone]) -> None:
    """Auto-release on proof: release delivered milestones, in order, while prerequisites hold.
    The system releases them, whoever's action made them ready."""
    for m in escrow.release_order(milestones):
        if escrow.status != EscrowStatus.OPENED or escrow.frozen_by_chargeback:
            return
        if m.is_settled:
            continue
        if m.status != MilestoneStatus.COMPLETED:
            return
        _release(escrow, milestones, m, by=None, reason="auto-release on proof")


@transaction.atomic(durable=True)
def escrow_confirm_delivery(*, escrow: Escrow, by: Actor) -> Escrow:
    """Standard escrow: the buyer confirms delivery and the whole amount goes to the seller."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "buyer":
        raise Forbidden("Only the buyer can confirm delivery")
    if escrow.is_milestone:
        raise InvalidRequest("A milestone escrow is released milestone by milestone")
    _check_actionable(escrow, allow_unfunded=False)
    _release_whole(escrow, by=by)
    return escrow


@transaction.atomic(durable=True)
def escrow_claim_funds(*, escrow: Escrow, by: Actor) -> Escrow:
    """Standard escrow: the seller takes the whole amount once the delivery window (maxDelivery
    x deliveryTimeline from payment) has passed without the buyer confirming or disputing."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can claim the funds of this escrow")
    refusal = escrow.claim_refusal()
    if refusal is not None:
        raise InvalidState(refusal, code="not_claimable")
    escrow.claimed_at = timezone.now()
    escrow.save(update_fields=["claimed_at", "updated_at"])
    _release_whole(escrow, by=by, details={"claimed": True, "reason": "delivery window passed"})
    return escrow


def _release_whole(escrow: Escrow, *, by: Actor, details: dict | None = None) -> None:
    """The whole amount of a (locked, open) standard escrow from the hold to the seller, the
    escrow completed, the payout scheduled. Refused while a chargeback freezes it."""
    _refuse_if_frozen(escrow)
    ledger.post(
        TransactionKind.RELEASE,
        escrow.currency,
        [
            (ledger.hold_account(escrow), -escrow.amount),
            (ledger.customer_account(escrow.seller, escrow.currency), escrow.amount),
        ],
        escrow=escrow,
    )
    _close_escrow(escrow, escrow.complete, by=by, details=details)
    _schedule_payout(escrow, payee=escrow.seller, amount=escrow.amount, milestone=None, by=by)
