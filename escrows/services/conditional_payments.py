"""A paid escrow as Finternet's conditional payment (its escrow order): the seller's proof of
delivery, a dispute raised on the whole order, and the release types that act on a delivery: on
the proof itself (auto-release on proof, AUTO_RELEASE) or once a time lock has passed
(TIME_LOCKED, released by the timer). A milestone escrow is delivered and released stage by stage
(services.milestones); a proof of delivery marks its current stage delivered."""

import re
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.types import User
from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound

from ..models import (
    ACTIVE_DISPUTE_STATUSES,
    DeliveryProof,
    Dispute,
    Escrow,
    EscrowStatus,
    Milestone,
    ReleaseType,
)
from ._internal import _event, _lock_escrow, _milestones, _require_party
from .disputes import _dispute_opened
from .milestones import _milestone_delivered, _release_on_proof, _release_whole

NOT_FOUND = "Conditional payment not found for this payment intent"

# A 32-byte hash: 0x and 64 hex digits, or the 64 digits alone.
BYTES32 = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
# Any URI with a scheme (https:, ipfs:, ar:, ...), nothing that could not be stored or shown.
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f]+")

# The time the other party has to answer a dispute raised here, unless the opener gives another.
DISPUTE_WINDOW_DEFAULT = timedelta(seconds=604_800)
DISPUTE_WINDOW_MIN = timedelta(days=1)
DISPUTE_WINDOW_MAX = timedelta(days=30)


def conditional_payment_exists(escrow: Escrow) -> bool:
    """Finternet's escrow order comes into being when the intent is paid: an escrow nobody paid
    (awaiting payment, or cancelled or expired before it) has none."""
    return escrow.funded_at is not None


def order_refusal(escrow: Escrow, action: str) -> str | None:
    """Why `action` ("raise dispute", "submit delivery proof") cannot be done on this order any
    more, in Finternet's words, or None while it is open."""
    if escrow.status == EscrowStatus.COMPLETED:
        return f"Cannot {action}: order is already completed"
    if escrow.status in (EscrowStatus.REFUNDED, EscrowStatus.CANCELLED):
        return f"Cannot {action}: order is already cancelled"
    return None


def proof_hash_of(value: Any) -> str:
    """A proof's hash as stored and answered: 0x and 64 lowercase hex digits."""
    match = BYTES32.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidRequest("proofHash must be a valid bytes32 hex string", field="proofHash")
    return "0x" + match.group(1).lower()


def dispute_window_of(value: Any) -> timedelta:
    """Finternet's disputeWindow: whole seconds, as a string ("604800") or a number, from one day
    to 30; absent (None), the default of 7 days."""
    if value is None:
        return DISPUTE_WINDOW_DEFAULT
    seconds: int | None = None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    low, high = int(DISPUTE_WINDOW_MIN.total_seconds()), int(DISPUTE_WINDOW_MAX.total_seconds())
    if seconds is None or not low <= seconds <= high:
        raise InvalidRequest(
            f"disputeWindow must be a whole number of seconds from {low} (1 day) to {high} (30 days), "
            'such as "604800"',
            field="disputeWindow",
        )
    return timedelta(seconds=seconds)


def _caller_text(value: Any, field: str, *, required: bool, max_length: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidRequest(f"{field} is required", field=field)
    if len(text) > max_length or "\x00" in text:
        raise InvalidRequest(f"{field} must be at most {max_length} characters", field=field)
    return text


@transaction.atomic(durable=True)
def delivery_proof_submit(
    *, escrow: Escrow, by: User, proof_hash: Any, submitted_by: str, proof_uri: str = ""
) -> DeliveryProof:
    """The seller proves delivery of a paid escrow: a standard escrow is delivered; a milestone
    escrow's current stage (the first not settled) is marked delivered, as the seller's "mark
    delivered" does, its review clock starting. Then whatever the release type releases on a
    delivery goes, in the same transaction: with auto-release on proof (AUTO_RELEASE, or
    autoRelease) at once; a TIME_LOCKED escrow whose time has come at once, else by the timer
    when it comes (escrow_time_lock_release)."""
    escrow = _lock_escrow(escrow, with_seller_account=True)
    role = _require_party(escrow, by)
    if not conditional_payment_exists(escrow):
        raise NotFound(NOT_FOUND)
    proof_hash = proof_hash_of(proof_hash)
    submitted_by = _caller_text(submitted_by, "submittedBy", required=True, max_length=200)
    proof_uri = _caller_text(proof_uri, "proofURI", required=False, max_length=2000)
    if proof_uri and not URI.fullmatch(proof_uri):
        raise InvalidRequest("proofURI must be a URI, such as https://… or ipfs://…", field="proofURI")
    if role != "seller":
        raise Forbidden("Only the seller can submit a proof of delivery")
    refusal = order_refusal(escrow, "submit delivery proof")
    if refusal is not None:
        raise InvalidState(refusal, code="invalid_status")
    milestones = _milestones(escrow)
    stage: Milestone | None = None
    if escrow.is_milestone:
        stage = escrow.next_unsettled(milestones)
        if stage is None:  # every stage settled or under dispute
            raise InvalidState(
                "Cannot submit delivery proof: the order's stages are disputed", code="disputed"
            )
        _milestone_delivered(
            escrow,
            milestones,
            stage,
            role=role,
            by=by,
            completed_by=submitted_by,
            proof=proof_hash,
            proof_uri=proof_uri,
        )
    else:
        if escrow.status == EscrowStatus.DISPUTED:
            raise InvalidState("Cannot submit delivery proof: order is disputed", code="disputed")
        if escrow.delivered_at is not None:
            raise InvalidRequest("Delivery proof already submitted for this order")
        escrow.delivered_at = timezone.now()
        escrow.save(update_fields=["delivered_at", "updated_at"])
    proof = DeliveryProof.objects.create(
        escrow=escrow,
        milestone=stage,
        proof_hash=proof_hash,
        proof_uri=proof_uri,
        submitted_by=submitted_by,
        submitter=by,
    )
    _event(
        "delivery_proof.submitted",
        by=by,
        escrow=escrow,
        milestone=stage,
        details={
            "deliveryProof": proof.public_id,
            "proofHash": proof_hash,
            "proofUri": proof_uri,
            "submittedBy": submitted_by,
            "index": stage.index if stage is not None else None,
        },
    )
    if stage is not None:
        _release_on_proof(escrow, milestones)
    else:
        _release_delivered(escrow, timezone.now())
    return proof


def _release_delivered(escrow: Escrow, now: datetime) -> bool:
    """Release a delivered standard escrow (locked, open) if its release type says so now: a
    time lock that has passed, or auto-release on proof. Not while a chargeback freezes it (the
    timer tries a time-locked one again)."""
    if escrow.status != EscrowStatus.OPENED or escrow.delivered_at is None or escrow.frozen_by_chargeback:
        return False
    if escrow.release_type == ReleaseType.TIME_LOCKED:
        if escrow.time_lock_until is None or escrow.time_lock_until > now:
            return False
        _event(
            "time_lock.released",
            by=None,
            escrow=escrow,
            details={"timeLockUntil": escrow.time_lock_until.isoformat(), "amount": escrow.amount},
        )
        _release_whole(escrow, by=None, details={"reason": "time lock passed"})
        return True
    if escrow.auto_release_on_proof:
        _release_whole(escrow, by=None, details={"reason": "auto-release on proof"})
        return True
    return False


def escrows_time_lock_due(now: datetime) -> QuerySet[Escrow]:
    """The time-locked escrows the timer releases: delivered, still held, their time come."""
    return Escrow.objects.filter(
        release_type=ReleaseType.TIME_LOCKED,
        status=EscrowStatus.OPENED,
        delivered_at__isnull=False,
        time_lock_until__lte=now,
    )


@transaction.atomic(durable=True)
def escrow_time_lock_release(*, escrow: Escrow) -> Escrow | None:
    """Timer: a delivered time-locked escrow whose time has come is released to the seller.
    Under the escrow's lock, so two timers (or a proof of delivery at the same moment) release
    it once; None when it no longer qualifies."""
    escrow = _lock_escrow(escrow, with_seller_account=True)
    return escrow if _release_delivered(escrow, timezone.now()) else None


@transaction.atomic(durable=True)
def conditional_payment_dispute(
    *, escrow: Escrow, by: User, reason: str, raised_by: str, window: timedelta | None = None
) -> Dispute:
    """Either party raises a dispute on the order (Finternet's one dispute per order): a standard
    escrow is disputed whole, a milestone escrow's current stage (the first not settled). Release
    pauses until it is settled; the other party has `window` (default 7 days) to answer, past
    which the opener's request (the default outcome) applies."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if not conditional_payment_exists(escrow):
        raise NotFound(NOT_FOUND)
    raised_by = _caller_text(raised_by, "raisedBy", required=True, max_length=200)
    refusal = order_refusal(escrow, "raise dispute")
    if refusal is not None:
        raise InvalidState(refusal, code="invalid_status")
    if Dispute.objects.filter(escrow=escrow, status__in=ACTIVE_DISPUTE_STATUSES).exists():
        raise InvalidRequest("Dispute already raised for this order")
    milestones = _milestones(escrow)
    stage = escrow.next_unsettled(milestones) if escrow.is_milestone else None
    return _dispute_opened(
        escrow,
        by=by,
        role=role,
        reason=reason,
        milestone=stage,
        resolution_period=window or DISPUTE_WINDOW_DEFAULT,
        opener_reference=raised_by,
    )
