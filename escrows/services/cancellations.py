"""Cancelling: an unpaid escrow by either party (or by its expiry), and the mutual cancellation
of a funded one, where either party proposes how to split what is held and only the other party
can accept."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
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
    ACTIVE_DISPUTE_STATUSES,
    CancellationProposal,
    CancellationStatus,
    Dispute,
    DisputeOutcome,
    Escrow,
    EscrowStatus,
    Event,
    Milestone,
    TransactionKind,
)
from ..money import format_money
from ._internal import (
    _close_escrow,
    _event,
    _give_back,
    _lock_escrow,
    _milestones,
    _refuse_if_disputed,
    _refuse_if_frozen,
    _require_party,
    _schedule_payout,
    _settle_milestone,
)
from .refunds import REASON_MAX, _close_without_money, _supersede_stale


@transaction.atomic(durable=True)
def escrow_cancel(*, escrow: Escrow, by: User) -> Escrow:
    """Either party, or staff from the admin, cancels an escrow nobody has paid yet."""
    return _cancel_unpaid(escrow, by=by, seller_only=False)


@transaction.atomic(durable=True)
def escrow_delete(*, escrow: Escrow, by: User) -> Escrow:
    """Payluk's delete: the seller alone cancels an escrow nobody has paid yet (a buyer already
    set on it may not), kept in the record as cancelled."""
    return _cancel_unpaid(escrow, by=by, seller_only=True)


def _cancel_unpaid(escrow: Escrow, *, by: User, seller_only: bool) -> Escrow:
    escrow = _lock_escrow(escrow)
    if seller_only or not by.is_staff:
        role = _require_party(escrow, by)
        if seller_only and role != "seller":
            raise Forbidden("Only the seller can delete this escrow")
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        raise InvalidState("Only an escrow that is awaiting payment can be cancelled")
    _close_escrow(escrow, escrow.cancel, by=by)
    return escrow


@transaction.atomic(durable=True)
def escrow_expire(*, escrow: Escrow) -> Escrow | None:
    """Timer: an escrow still awaiting payment after its expiry is cancelled."""
    escrow = _lock_escrow(escrow)
    if not escrow.payment_expired():
        return None
    _close_escrow(
        escrow,
        escrow.expire,
        by=None,
        details={"reason": "expired"},
    )
    return escrow


EXPIRY_REMINDER = "escrow.expiry_reminder_sent"


def escrows_expiry_reminder_due(now: datetime | None = None) -> Any:
    """Unpaid escrows that expire within ESCROW_EXPIRY_REMINDER_BEFORE and whose parties were not
    reminded yet (for the timer)."""
    now = now or timezone.now()
    return Escrow.objects.filter(
        status=EscrowStatus.AWAITING_PAYMENT,
        expires_at__gt=now,
        expires_at__lte=now + settings.ESCROW_EXPIRY_REMINDER_BEFORE,
    ).exclude(Exists(Event.objects.filter(escrow=OuterRef("pk"), kind=EXPIRY_REMINDER)))


@transaction.atomic(durable=True)
def escrow_expiry_remind(*, escrow: Escrow) -> Event | None:
    """Timer: tell the seller and the buyer (or the address invited to pay) once,
    ESCROW_EXPIRY_REMINDER_BEFORE before an unpaid escrow expires. The escrow row lock serialises
    racing runs; the event itself records that they were told. None when nothing was due."""
    escrow = _lock_escrow(escrow)
    now = timezone.now()
    if escrow.status != EscrowStatus.AWAITING_PAYMENT or not (
        now < escrow.expires_at <= now + settings.ESCROW_EXPIRY_REMINDER_BEFORE
    ):
        return None
    if Event.objects.filter(escrow=escrow, kind=EXPIRY_REMINDER).exists():
        return None
    return _event(
        EXPIRY_REMINDER, by=None, escrow=escrow, details={"expiresAt": escrow.expires_at.isoformat()}
    )


def _check_cancellable(escrow: Escrow, milestones: list[Milestone]) -> None:
    if escrow.status == EscrowStatus.AWAITING_PAYMENT:
        raise InvalidState("Nobody has paid this escrow yet; cancel it instead", code="not_funded")
    if escrow.status not in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
        raise InvalidState(f"This escrow is {escrow.get_status_display().lower()}", code="escrow_closed")
    _refuse_if_frozen(escrow)
    for m in milestones:
        _refuse_if_disputed(m)


def _close_dispute_by_agreement(
    escrow: Escrow, proposal: CancellationProposal, *, by: Actor, now: datetime
) -> None:
    """A standard escrow's whole-escrow dispute ends when both parties agree to cancel: the
    dispute is closed as withdrawn (the agreed split, not a ruling, moved the money)."""
    for dispute in Dispute.objects.select_for_update().filter(
        escrow=escrow, milestone__isnull=True, status__in=ACTIVE_DISPUTE_STATUSES
    ):
        before = dispute.status
        dispute.withdraw()
        dispute.withdrawn_at = now
        dispute.save()
        _event(
            "dispute.withdrawn",
            by=by,
            escrow=escrow,
            from_status=before,
            to_status=dispute.status,
            details={
                "dispute": dispute.public_id,
                "reason": "mutual cancellation",
                "proposal": proposal.public_id,
            },
        )


def _lock_proposal(escrow: Escrow, proposal: CancellationProposal) -> CancellationProposal:
    try:
        return CancellationProposal.objects.select_for_update().get(pk=proposal.pk, escrow=escrow)
    except CancellationProposal.DoesNotExist:
        raise NotFound("Cancellation proposal not found") from None


def _refuse_closed_proposal(proposal: CancellationProposal) -> None:
    if not proposal.is_open:
        raise InvalidState(
            f"This cancellation proposal was already {proposal.get_status_display().lower()}",
            code="cancellation_closed",
        )


def _check_split_amount(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{field} must be zero or a positive amount", field=field)
    return value


@transaction.atomic(durable=True)
def cancellation_propose(
    *, escrow: Escrow, by: User, buyer_amount: int, seller_amount: int, note: str = ""
) -> CancellationProposal:
    """Either party proposes to cancel the funded escrow, splitting exactly what is held."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    _check_cancellable(escrow, milestones)
    buyer_amount = _check_split_amount(buyer_amount, field="buyerAmount")
    seller_amount = _check_split_amount(seller_amount, field="sellerAmount")
    held = escrow.held_amount(milestones)
    if buyer_amount + seller_amount != held:
        raise InvalidRequest(
            f"The split must add up to what is held, {format_money(held, escrow.currency)}: "
            f"{format_money(buyer_amount, escrow.currency)} + {format_money(seller_amount, escrow.currency)}"
            f" is {format_money(buyer_amount + seller_amount, escrow.currency)}",
            code="split_mismatch",
            field="buyerAmount",
        )
    for open_proposal in CancellationProposal.objects.select_for_update().filter(
        escrow=escrow, status=CancellationStatus.PROPOSED
    ):
        if open_proposal.total == held:
            raise Conflict(
                "There is already an open cancellation proposal on this escrow; answer or withdraw it first",
                code="cancellation_open",
            )
    _supersede_stale(escrow, milestones, by=by)
    proposal = CancellationProposal.objects.create(
        escrow=escrow,
        proposed_by=by,
        proposer_role=role,
        buyer_amount=buyer_amount,
        seller_amount=seller_amount,
        note=(note or "").strip()[:REASON_MAX],
    )
    _event(
        "cancellation.proposed",
        by=by,
        escrow=escrow,
        details={
            "proposal": proposal.public_id,
            "role": role,
            "buyerAmount": buyer_amount,
            "sellerAmount": seller_amount,
            "reason": proposal.note,
        },
    )
    return proposal


def _seller_shares(unsettled: list[Milestone], seller_amount: int) -> list[tuple[Milestone, int]]:
    """The seller's share spread over what is left of the unsettled milestones, in index order."""
    left = seller_amount
    shares = []
    for m in unsettled:
        share = min(left, m.remaining_amount)
        shares.append((m, share))
        left -= share
    return shares


@transaction.atomic(durable=True)
def cancellation_accept(*, proposal: CancellationProposal, by: Actor) -> CancellationProposal:
    """The other party accepts: one posting splits the hold between the buyer (refund target)
    and the payees' main balances, unsettled milestones settle, the escrow is CANCELLED."""
    escrow = _lock_escrow(proposal.escrow, with_seller_account=True)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role == proposal.proposer_role:
        raise Forbidden("Only the other party can accept this cancellation proposal")
    _refuse_closed_proposal(proposal)
    milestones = _milestones(escrow)
    _check_cancellable(escrow, milestones)
    held = escrow.held_amount(milestones)
    if proposal.total != held:
        raise InvalidState(
            f"This proposal splits {format_money(proposal.total, escrow.currency)} but "
            f"{format_money(held, escrow.currency)} is held now; propose again with the new amount",
            code="cancellation_stale",
        )
    now = timezone.now()
    proposal.accept()
    proposal.decided_by = by
    proposal.decided_at = now
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    _event(
        "cancellation.accepted",
        by=by,
        escrow=escrow,
        details={
            "proposal": proposal.public_id,
            "buyerAmount": proposal.buyer_amount,
            "sellerAmount": proposal.seller_amount,
        },
    )
    unsettled = [m for m in milestones if not m.is_settled]
    to_payee: dict[int, tuple[Any, int]] = {}
    if escrow.is_milestone:
        shares = _seller_shares(unsettled, proposal.seller_amount)
        for m, share in shares:
            payee = m.payee or escrow.seller
            if share:
                to_payee[payee.pk] = (payee, to_payee.get(payee.pk, (payee, 0))[1] + share)
    else:
        shares = []
        if proposal.seller_amount:
            to_payee[escrow.seller_id] = (escrow.seller, proposal.seller_amount)
    entries: list[tuple[Any, int]] = [(ledger.hold_account(escrow), -held)]
    for payee, amount in to_payee.values():
        known = getattr(escrow, "seller_account_id", None) if payee.pk == escrow.seller_id else None
        entries.append((ledger.customer_account(payee, escrow.currency, known_id=known), amount))
    _give_back(
        TransactionKind.CANCELLATION,
        escrow,
        entries,
        to_buyer=proposal.buyer_amount,
        memo=f"mutual cancellation {proposal.public_id}",
    )
    settled_as = (
        DisputeOutcome.REFUND
        if proposal.seller_amount == 0
        else DisputeOutcome.RELEASE
        if proposal.buyer_amount == 0
        else DisputeOutcome.SPLIT
    )
    for m, share in shares:
        _settle_milestone(
            escrow,
            m,
            settled_as,
            by=by,
            # A split by agreement records no time on the milestone.
            at=None if settled_as == DisputeOutcome.SPLIT else now,
            details={
                "index": m.index,
                "amount": m.remaining_amount,
                "sellerShare": share,
                "buyerShare": m.remaining_amount - share,
                "reason": "mutual cancellation",
            },
        )
    if escrow.status == EscrowStatus.DISPUTED:
        _close_dispute_by_agreement(escrow, proposal, by=by, now=now)
    _close_escrow(
        escrow,
        escrow.cancel_by_agreement,
        by=by,
        at=now,
        details={
            "reason": "mutual cancellation",
            "proposal": proposal.public_id,
            "buyerAmount": proposal.buyer_amount,
            "sellerAmount": proposal.seller_amount,
        },
    )
    seller_part = to_payee.get(escrow.seller_id, (None, 0))[1]
    _schedule_payout(escrow, payee=escrow.seller, amount=seller_part, milestone=None, by=by)
    _supersede_stale(escrow, milestones, by=by)
    return proposal


@transaction.atomic(durable=True)
def cancellation_decline(
    *, proposal: CancellationProposal, by: Actor, reason: str = ""
) -> CancellationProposal:
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role == proposal.proposer_role:
        raise Forbidden("Only the other party can decline this proposal; you can withdraw it")
    _refuse_closed_proposal(proposal)
    _close_without_money(
        proposal, proposal.decline, by=by, escrow=escrow, event="cancellation.declined", reason=reason or ""
    )
    return proposal


@transaction.atomic(durable=True)
def cancellation_withdraw(*, proposal: CancellationProposal, by: Actor) -> CancellationProposal:
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role != proposal.proposer_role:
        raise Forbidden("Only the party who proposed the cancellation can withdraw it")
    _refuse_closed_proposal(proposal)
    _close_without_money(proposal, proposal.withdraw, by=by, escrow=escrow, event="cancellation.withdrawn")
    return proposal
