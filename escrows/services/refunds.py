"""Refunds. The seller gives back the whole escrow or chosen milestones at any time; the buyer
asks for a refund the seller accepts or declines. Every movement is one posting out of the hold."""

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.types import Actor, User
from core.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidState,
    NotFound,
)

from .. import ledger
from ..models import (
    CancellationProposal,
    CancellationStatus,
    DisputeOutcome,
    Escrow,
    EscrowStatus,
    Milestone,
    RefundRequest,
    RefundRequestStatus,
    TransactionKind,
)
from ..money import format_money
from ._internal import (
    _check_actionable,
    _close_after_last,
    _close_escrow,
    _event,
    _give_back,
    _lock_escrow,
    _milestones,
    _refuse_if_disputed,
    _require_party,
    _settle_milestone,
)


@transaction.atomic(durable=True)
def escrow_refund(*, escrow: Escrow, by: Actor) -> Escrow:
    """The seller gives back everything not yet released; the escrow closes as REFUNDED."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can refund an escrow")
    if escrow.status != EscrowStatus.OPENED:
        raise InvalidState("Only a funded, undisputed escrow can be refunded")
    milestones = _milestones(escrow)
    amount = _refund_rest(escrow, milestones, by=by, reason="seller refund")
    _close_escrow(escrow, escrow.refund, by=by, details={"amount": amount})
    _supersede_stale(escrow, milestones, by=by)
    return escrow


def _refund_rest(escrow: Escrow, milestones: list[Milestone], *, by: Actor, reason: str) -> int:
    """Move everything still held back to where the buyer paid from. Returns the amount.
    A milestone under dispute is settled only by its dispute's resolution, so it blocks this."""
    for m in milestones:
        _refuse_if_disputed(m)
    if escrow.is_milestone:
        to_refund = [m for m in milestones if not m.is_settled]
        amount = sum(m.remaining_amount for m in to_refund)
    else:
        to_refund = []
        amount = escrow.amount
    if amount:
        hold = ledger.hold_account(escrow)
        _give_back(TransactionKind.REFUND, escrow, [(hold, -amount)], to_buyer=amount, memo=reason)
    now = timezone.now()
    for m in to_refund:
        _settle_milestone(
            escrow,
            m,
            DisputeOutcome.REFUND,
            by=by,
            at=now,
            details={"amount": m.remaining_amount, "reason": reason},
        )
    return amount


REASON_MAX = 2000


def _choose_milestones(milestones: list[Milestone], chosen: Sequence[Any], *, field: str) -> list[Milestone]:
    """Resolve milestones given as Milestone objects or public ids against the locked set."""
    by_public_id = {m.public_id: m for m in milestones}
    by_pk = {m.pk: m for m in milestones}
    picked: dict[int, Milestone] = {}
    for item in chosen:
        found = by_pk.get(item.pk) if isinstance(item, Milestone) else by_public_id.get(str(item))
        if found is None:
            name = item.public_id if isinstance(item, Milestone) else str(item)[:60]
            raise InvalidRequest(f"No milestone {name} in this escrow", code="milestone_unknown", field=field)
        picked[found.pk] = found
    return sorted(picked.values(), key=lambda m: m.index)


def _refuse_settled(milestone: Milestone) -> None:
    if milestone.is_settled:
        raise InvalidState(
            f"Milestone {milestone.index} is already {milestone.get_status_display().lower()}",
            code="milestone_settled",
        )


def _refund_milestones(
    escrow: Escrow, milestones: list[Milestone], chosen: list[Milestone], *, by: Actor, reason: str
) -> int:
    """One posting hold -> buyer for the chosen (unsettled, undisputed) milestones; each goes
    REFUNDED; the escrow closes when nothing is left. `reason`, never empty (the callers give
    "seller refund" or the request), is the posting's memo and each stage's. Only what is left of
    a stage is refunded: a part the buyer released stays released. Returns the amount."""
    amount = sum(m.remaining_amount for m in chosen)
    _give_back(
        TransactionKind.REFUND,
        escrow,
        [(ledger.hold_account(escrow), -amount)],
        to_buyer=amount,
        milestone=chosen[0] if len(chosen) == 1 else None,
        memo=reason[:200],
    )
    now = timezone.now()
    for m in chosen:
        _settle_milestone(
            escrow,
            m,
            DisputeOutcome.REFUND,
            by=by,
            at=now,
            details={"index": m.index, "amount": m.remaining_amount, "reason": reason},
        )
    if all(m.is_settled for m in milestones):
        _close_after_last(escrow, milestones, by=by)
    return amount


def _refund_request_stale(escrow: Escrow, milestones: list[Milestone], request: RefundRequest) -> str:
    """Why an open refund request can no longer be carried out as asked ("" while it can)."""
    if escrow.status != EscrowStatus.OPENED:
        return f"the escrow is now {escrow.get_status_display().lower()}"
    wanted = set(request.milestone_ids)
    for m in milestones:
        if m.public_id in wanted and m.is_settled:
            return f"milestone {m.index} has since been {m.get_status_display().lower()}"
    if escrow.is_milestone:
        left = sum(m.remaining_amount for m in milestones if m.public_id in wanted)
        if left != request.amount:
            return (
                f"part of it has since been released: {format_money(left, escrow.currency)} is left "
                f"of the {format_money(request.amount, escrow.currency)} asked for"
            )
    return ""


def _supersede_stale(escrow: Escrow, milestones: list[Milestone], *, by: Actor) -> None:
    """After money moved, an open request or proposal that no longer matches is superseded."""
    for request in RefundRequest.objects.select_for_update().filter(
        escrow=escrow, status=RefundRequestStatus.REQUESTED
    ):
        why = _refund_request_stale(escrow, milestones, request)
        if why:
            request.supersede()
            request.decided_at = timezone.now()
            request.save(update_fields=["status", "decided_at"])
            _event(
                "refund.superseded",
                by=by,
                escrow=escrow,
                details={"refundRequest": request.public_id, "reason": why},
            )
    held = escrow.held_amount(milestones)
    for proposal in CancellationProposal.objects.select_for_update().filter(
        escrow=escrow, status=CancellationStatus.PROPOSED
    ):
        if escrow.is_closed or proposal.total != held:
            proposal.supersede()
            proposal.decided_at = timezone.now()
            proposal.save(update_fields=["status", "decided_at"])
            _event(
                "cancellation.superseded",
                by=by,
                escrow=escrow,
                details={"proposal": proposal.public_id, "held": held},
            )


@transaction.atomic(durable=True)
def escrow_refund_milestones(
    *, escrow: Escrow, by: Actor, milestones: Sequence[Any], reason: str = ""
) -> int:
    """The seller gives back any set of unsettled milestones (in any order), in one posting.
    The escrow stays open while something is left; the last one closes it. Returns the amount."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can refund milestones")
    if not escrow.is_milestone:
        raise InvalidRequest("A standard escrow is refunded whole", code="not_milestone_escrow")
    _check_actionable(escrow, allow_unfunded=False)
    reason = (reason or "").strip()[:REASON_MAX]
    all_milestones = _milestones(escrow)
    if not milestones:
        raise InvalidRequest("Choose at least one milestone to refund", field="milestoneIds")
    chosen = _choose_milestones(all_milestones, milestones, field="milestoneIds")
    for m in chosen:
        _refuse_settled(m)
        _refuse_if_disputed(m)
    amount = _refund_milestones(escrow, all_milestones, chosen, by=by, reason=reason or "seller refund")
    _supersede_stale(escrow, all_milestones, by=by)
    return amount


def milestone_refund(*, milestone: Milestone, by: Actor, reason: str = "") -> int:
    """The seller refunds one milestone."""
    return escrow_refund_milestones(escrow=milestone.escrow, by=by, milestones=[milestone], reason=reason)


def _lock_refund_request(escrow: Escrow, request: RefundRequest) -> RefundRequest:
    try:
        return RefundRequest.objects.select_for_update().get(pk=request.pk, escrow=escrow)
    except RefundRequest.DoesNotExist:
        raise NotFound("Refund request not found") from None


def _refuse_closed_request(request: RefundRequest) -> None:
    if not request.is_open:
        raise InvalidState(
            f"This refund request was already {request.get_status_display().lower()}",
            code="refund_request_closed",
        )


@transaction.atomic(durable=True)
def refund_request_create(
    *, escrow: Escrow, by: User, reason: str, milestones: Sequence[Any] | None = None
) -> RefundRequest:
    """The buyer asks for a refund of some unsettled milestones (default: all that can be
    refunded; a standard escrow: all of it). One open request per escrow."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "buyer":
        raise Forbidden("Only the buyer can request a refund")
    _check_actionable(escrow, allow_unfunded=False)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Say why you are asking for a refund", field="reason")
    all_milestones = _milestones(escrow)
    if escrow.is_milestone:
        if milestones:
            chosen = _choose_milestones(all_milestones, milestones, field="milestoneIds")
            for m in chosen:
                _refuse_settled(m)
                _refuse_if_disputed(m)
        else:
            chosen = escrow.refundable_milestones(all_milestones)
            if not chosen:
                raise InvalidState("Nothing is left that could be refunded", code="nothing_to_refund")
        amount = sum(m.remaining_amount for m in chosen)
    else:
        if milestones:
            raise InvalidRequest("A standard escrow has no milestones", field="milestoneIds")
        chosen, amount = [], escrow.amount
    for open_request in RefundRequest.objects.select_for_update().filter(
        escrow=escrow, status=RefundRequestStatus.REQUESTED
    ):
        if not _refund_request_stale(escrow, all_milestones, open_request):
            raise Conflict(
                "There is already an open refund request on this escrow; withdraw it first",
                code="refund_request_open",
            )
    _supersede_stale(escrow, all_milestones, by=by)
    request = RefundRequest.objects.create(
        escrow=escrow,
        requested_by=by,
        milestone_ids=[m.public_id for m in chosen],
        amount=amount,
        reason=reason[:REASON_MAX],
    )
    _event(
        "refund.requested",
        by=by,
        escrow=escrow,
        details={
            "refundRequest": request.public_id,
            "amount": amount,
            "milestones": request.milestone_ids,
            "reason": request.reason,
        },
    )
    return request


@transaction.atomic(durable=True)
def refund_request_accept(*, refund_request: RefundRequest, by: Actor) -> RefundRequest:
    """The seller accepts: the refund happens in this same transaction."""
    escrow = _lock_escrow(refund_request.escrow)
    role = _require_party(escrow, by)
    request = _lock_refund_request(escrow, refund_request)
    if role != "seller":
        raise Forbidden("Only the seller can accept a refund request")
    _refuse_closed_request(request)
    milestones = _milestones(escrow)
    stale = _refund_request_stale(escrow, milestones, request)
    if stale:
        raise InvalidState(
            f"This refund request can no longer be carried out as asked: {stale}. "
            "The buyer can withdraw it and ask again.",
            code="refund_request_stale",
        )
    chosen = _choose_milestones(milestones, request.milestone_ids, field="milestoneIds")
    for m in chosen:
        _refuse_if_disputed(m)
    request.accept()
    request.decided_by = by
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    _event(
        "refund.accepted",
        by=by,
        escrow=escrow,
        details={"refundRequest": request.public_id, "amount": request.amount},
    )
    if escrow.is_milestone:
        _refund_milestones(escrow, milestones, chosen, by=by, reason=f"refund request {request.public_id}")
    else:
        _give_back(
            TransactionKind.REFUND,
            escrow,
            [(ledger.hold_account(escrow), -escrow.amount)],
            to_buyer=escrow.amount,
            memo=f"refund request {request.public_id}",
        )
        _close_escrow(escrow, escrow.refund, by=by, details={"amount": escrow.amount})
    _supersede_stale(escrow, milestones, by=by)
    return request


def _close_without_money(
    item: RefundRequest | CancellationProposal,
    transition: Any,
    *,
    by: Actor,
    escrow: Escrow,
    event: str,
    reason: str | None = None,
) -> None:
    """A refund request or cancellation proposal declined or withdrawn: its transition, who
    decided and when (and the decline's reason), and the event. No money moves."""
    transition()
    item.decided_by = by
    item.decided_at = timezone.now()
    fields = ["status", "decided_by", "decided_at"]
    key = "refundRequest" if isinstance(item, RefundRequest) else "proposal"
    details: dict[str, Any] = {key: item.public_id}
    if reason is not None:
        item.decline_reason = reason.strip()[:REASON_MAX]
        fields.append("decline_reason")
        details["reason"] = item.decline_reason
    item.save(update_fields=fields)
    _event(event, by=by, escrow=escrow, details=details)


@transaction.atomic(durable=True)
def refund_request_decline(*, refund_request: RefundRequest, by: Actor, reason: str) -> RefundRequest:
    escrow = _lock_escrow(refund_request.escrow)
    role = _require_party(escrow, by)
    request = _lock_refund_request(escrow, refund_request)
    if role != "seller":
        raise Forbidden("Only the seller can decline a refund request")
    _refuse_closed_request(request)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Tell the buyer why you decline", field="reason")
    _close_without_money(
        request, request.decline, by=by, escrow=escrow, event="refund.declined", reason=reason
    )
    return request


@transaction.atomic(durable=True)
def refund_request_withdraw(*, refund_request: RefundRequest, by: Actor) -> RefundRequest:
    escrow = _lock_escrow(refund_request.escrow)
    role = _require_party(escrow, by)
    request = _lock_refund_request(escrow, refund_request)
    if role != "buyer":
        raise Forbidden("Only the buyer who asked can withdraw a refund request")
    _refuse_closed_request(request)
    _close_without_money(request, request.withdraw, by=by, escrow=escrow, event="refund.withdrawn")
    return request
