"""Disputes and evidence. A dispute is about one milestone of a milestone escrow (only that
milestone is frozen; the escrow stays OPENED and the others can still be released) or about the
whole of a STANDARD escrow (the escrow goes DISPUTED). The opener says what they ask for (release,
refund or a split). The other party answers by the deadline: accepting settles at once with
what the opener asked for; contesting sends it to an arbiter (staff), who decides, and nothing
applies by itself after that. Only a dispute nobody answered gets the opener's request at its
deadline (the other party had its chance: Dispute.request_applies_at_deadline). The opener may
withdraw."""

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.fields.json import KT
from django.utils import timezone

from accounts.types import Actor, User
from core.errors import (
    Forbidden,
    InvalidRequest,
    InvalidState,
    NotFound,
)

from .. import ledger
from ..models import (
    ACTIVE_DISPUTE_STATUSES,
    UNANSWERED_DISPUTE_STATUSES,
    Dispute,
    DisputeAnswer,
    DisputeEvidence,
    DisputeOutcome,
    DisputeStatus,
    Escrow,
    EscrowStatus,
    Event,
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
    _give_back,
    _lock_escrow,
    _milestones,
    _refuse_if_blocked,
    _refuse_if_frozen,
    _require_party,
    _schedule_payout,
    _settle_milestone,
)
from .review_clock import _review_clock_start

EVIDENCE_CONTENT_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/zip": ".zip",
}


DISPUTE_TEXT_MAX = 5000


@dataclass(frozen=True)
class EvidenceInput:
    text: str = ""
    url: str = ""
    file: Any = None  # an UploadedFile (name, size, content_type, chunks())

    @property
    def empty(self) -> bool:
        return not (self.text.strip() or self.url.strip() or self.file is not None)


def _split_amounts(
    outcome: str, amount: int, seller_amount: Any, buyer_amount: Any, currency: str
) -> tuple[int, int]:
    """(seller part, buyer part) of a disputed amount for an outcome; a split's parts must be
    whole minor units, neither negative, summing to the disputed amount."""
    if outcome == DisputeOutcome.RELEASE:
        return amount, 0
    if outcome == DisputeOutcome.REFUND:
        return 0, amount
    if outcome != DisputeOutcome.SPLIT:
        raise InvalidRequest(f"outcome must be one of: {', '.join(DisputeOutcome.values)}", field="outcome")
    if seller_amount is None and buyer_amount is None:
        seller = amount // 2
        return seller, amount - seller
    for name, value, who in (
        ("sellerAmount", seller_amount, "seller"),
        ("buyerAmount", buyer_amount, "buyer"),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(
                f"A split needs {name} in minor units",
                field=name,
                for_person="A split needs both amounts: what the seller gets and what the buyer gets.",
            )
        if value < 0:
            raise InvalidRequest(
                f"{name} cannot be negative",
                field=name,
                for_person=f"What the {who} gets cannot be negative.",
            )
    if seller_amount + buyer_amount != amount:
        raise InvalidRequest(
            f"The split must add up to the disputed amount, {format_money(amount, currency)}: "
            f"{format_money(seller_amount, currency)} + {format_money(buyer_amount, currency)} "
            f"is {format_money(seller_amount + buyer_amount, currency)}",
            field="sellerAmount",
            code="split_mismatch",
        )
    return seller_amount, buyer_amount


_HTTP_URL = URLValidator(schemes=["http", "https"])


def _is_http_url(url: str) -> bool:
    try:
        _HTTP_URL(url)
    except ValidationError:
        return False
    return True


def _media_type(upload: Any) -> str:
    """The upload's declared type without its parameters: "Text/CSV; charset=utf-8" is text/csv."""
    return (upload.content_type or "").split(";")[0].strip().lower()


def _clean_evidence(evidence: EvidenceInput) -> EvidenceInput:
    text = (evidence.text or "").strip()
    url = (evidence.url or "").strip()
    if len(text) > DISPUTE_TEXT_MAX:
        raise InvalidRequest(f"Evidence text must be at most {DISPUTE_TEXT_MAX} characters", field="text")
    if "\x00" in text:
        raise InvalidRequest("Evidence text contains characters that cannot be stored", field="text")
    if url and (len(url) > 2000 or not _is_http_url(url)):
        raise InvalidRequest("url must be an http(s) address of at most 2000 characters", field="url")
    upload = evidence.file
    if upload is not None:
        size = upload.size
        if not size:
            raise InvalidRequest("The evidence file is empty", field="file")
        if size > settings.ESCROW_EVIDENCE_MAX_BYTES:
            raise InvalidRequest(
                f"The evidence file is larger than {settings.ESCROW_EVIDENCE_MAX_BYTES // (1024 * 1024)} MB",
                field="file",
                code="file_too_large",
            )
        if _media_type(upload) not in EVIDENCE_CONTENT_TYPES:
            raise InvalidRequest(
                "The evidence file must be a PDF, an image (PNG, JPEG, GIF, WebP), text, CSV or ZIP",
                field="file",
                code="unsupported_file_type",
            )
    return EvidenceInput(text=text, url=url, file=upload)


def _store_evidence(dispute: Dispute, *, by: User, role: str, evidence: EvidenceInput) -> DisputeEvidence:
    row = DisputeEvidence(
        dispute=dispute, submitted_by=by, submitter_role=role, text=evidence.text, url=evidence.url
    )
    upload = evidence.file
    if upload is not None:
        digest = hashlib.sha256()
        size = 0
        for chunk in upload.chunks():  # from the start, wherever the file was left
            digest.update(chunk)
            size += len(chunk)
        if size > settings.ESCROW_EVIDENCE_MAX_BYTES:  # the declared size may lie
            raise InvalidRequest("The evidence file is too large", field="file", code="file_too_large")
        content_type = _media_type(upload)
        row.file_sha256 = digest.hexdigest()
        row.file_size = size
        row.content_type = content_type
        row.file_name = os.path.basename(upload.name or "evidence")[:200]
        # Stored under a name of our choosing: the submitted name is kept only as a label.
        row.file.save(f"{row.public_id}{EVIDENCE_CONTENT_TYPES[content_type]}", upload, save=False)
    row.save()
    return row


def _lock_dispute(
    dispute: Dispute, by: User, *, staff_ok: bool = False
) -> tuple[Escrow, Dispute, str | None]:
    """Lock the dispute's escrow (the one lock every change to it takes), then re-read the
    dispute. A stranger gets NotFound; staff and the platform that arbitrates between the
    parties (Escrow.arbitrated_by) pass with role None when `staff_ok`."""
    _refuse_if_blocked(by)
    escrow = _lock_escrow(dispute.escrow)
    role = escrow.party_role(by)
    if role is None and not (staff_ok and (by.is_staff or escrow.arbitrated_by(by))):
        raise NotFound("Escrow not found")
    dispute = Dispute.objects.select_related("milestone", "opened_by").get(pk=dispute.pk)
    return escrow, dispute, role


def dispute_request_amounts(
    *,
    escrow: Escrow,
    milestone: Milestone | None,
    outcome: str | None,
    seller_amount: int | None,
    buyer_amount: int | None,
) -> tuple[str, int, int, int]:
    """(outcome, disputed amount, seller part, buyer part) that opening a dispute records as the
    opener's request; raises what dispute_open would about them. Writes nothing: the page shows
    it before asking to confirm."""
    amount = milestone.remaining_amount if escrow.is_milestone and milestone is not None else escrow.amount
    outcome = outcome or settings.ESCROW_DISPUTE_DEFAULT_OUTCOME
    seller_part, buyer_part = _split_amounts(outcome, amount, seller_amount, buyer_amount, escrow.currency)
    return outcome, amount, seller_part, buyer_part


@transaction.atomic(durable=True)
def dispute_open(
    *,
    escrow: Escrow,
    by: User,
    reason: str,
    milestone: Milestone | None = None,
    evidence: EvidenceInput | None = None,
    default_outcome: str | None = None,
    default_seller_amount: int | None = None,
    default_buyer_amount: int | None = None,
) -> Dispute:
    """The buyer or the seller disputes one milestone (milestone escrow) or the whole escrow
    (standard escrow). Only the disputed amount is frozen. `default_*`: the opener's request,
    which applies only if the other party never answers by the deadline."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    return _dispute_opened(
        escrow,
        by=by,
        role=role,
        reason=reason,
        milestone=milestone,
        evidence=evidence,
        default_outcome=default_outcome,
        default_seller_amount=default_seller_amount,
        default_buyer_amount=default_buyer_amount,
    )


def _dispute_opened(
    escrow: Escrow,
    *,
    by: User,
    role: str,
    reason: str,
    milestone: Milestone | None = None,
    evidence: EvidenceInput | None = None,
    default_outcome: str | None = None,
    default_seller_amount: int | None = None,
    default_buyer_amount: int | None = None,
    resolution_period: timedelta | None = None,
    opener_reference: str = "",
) -> Dispute:
    """dispute_open's change, the (locked) escrow's party `role` opening it. The other party has
    `resolution_period` to answer (default ESCROW_DISPUTE_RESOLUTION_PERIOD); `opener_reference`
    is what the opener calls themselves on an API that asks (Finternet's raisedBy)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("A dispute needs a reason", field="reason")
    if len(reason) > DISPUTE_TEXT_MAX or "\x00" in reason:
        raise InvalidRequest(f"reason must be at most {DISPUTE_TEXT_MAX} characters", field="reason")
    evidence = _clean_evidence(evidence) if evidence is not None and not evidence.empty else None
    milestones = _milestones(escrow)
    if escrow.is_milestone:
        if milestone is None:
            raise InvalidRequest(
                "A milestone escrow is disputed one milestone at a time: name the milestone",
                field="milestoneId",
            )
        milestone = _get_milestone(escrow, milestone, milestones)
        if escrow.status != EscrowStatus.OPENED:
            _check_actionable(escrow, allow_unfunded=False)
        if milestone.status == MilestoneStatus.DISPUTED:
            raise InvalidState("This milestone is already disputed", code="already_disputed")
        if milestone.is_settled:
            raise InvalidState(
                f"This milestone is already {milestone.get_status_display().lower()}",
                code="milestone_settled",
            )
        # A part the buyer already released is theirs no more to dispute: only what is left.
        amount = milestone.remaining_amount
    else:
        if milestone is not None:
            raise InvalidRequest("A standard escrow has no milestones to dispute", field="milestoneId")
        if escrow.status == EscrowStatus.DISPUTED:
            raise InvalidState("This escrow is already disputed", code="already_disputed")
        if escrow.status != EscrowStatus.OPENED:
            _check_actionable(escrow, allow_unfunded=False)
        amount = escrow.amount
    outcome, _, seller_part, buyer_part = dispute_request_amounts(
        escrow=escrow,
        milestone=milestone,
        outcome=default_outcome,
        seller_amount=default_seller_amount,
        buyer_amount=default_buyer_amount,
    )
    now = timezone.now()
    dispute = Dispute.objects.create(
        escrow=escrow,
        milestone=milestone,
        opened_by=by,
        opener_role=role,
        reason=reason,
        amount=amount,
        deadline=now + (resolution_period or settings.ESCROW_DISPUTE_RESOLUTION_PERIOD),
        opener_reference=opener_reference[:200],
        default_outcome=outcome,
        default_seller_amount=seller_part,
        default_buyer_amount=buyer_part,
    )
    if milestone is not None:
        before = milestone.status
        milestone.dispute()
        milestone.save(update_fields=["status"])
        _event(
            "milestone.disputed",
            by=by,
            escrow=escrow,
            milestone=milestone,
            from_status=before,
            to_status=milestone.status,
            details={
                "dispute": dispute.public_id,
                "index": milestone.index,
                "amount": amount,
                "reason": reason[:2000],
            },
        )
    else:
        before = escrow.status
        escrow.open_dispute()
        escrow.save()
        _event(
            "escrow.disputed",
            by=by,
            escrow=escrow,
            from_status=before,
            to_status=escrow.status,
            details={"dispute": dispute.public_id, "reason": reason[:2000]},
        )
    _event(
        "dispute.opened",
        by=by,
        escrow=escrow,
        milestone=milestone,
        to_status=dispute.status,
        details={
            "dispute": dispute.public_id,
            "milestone": milestone.public_id if milestone else None,
            "openedBy": role,
            "amount": amount,
            "deadline": dispute.deadline.isoformat(),
            "defaultOutcome": outcome,
            "defaultSellerAmount": seller_part,
            "defaultBuyerAmount": buyer_part,
        },
    )
    if evidence is not None:
        _evidence_added(escrow, dispute, by=by, role=role, evidence=evidence)
    return dispute


def _evidence_added(
    escrow: Escrow, dispute: Dispute, *, by: User, role: str, evidence: EvidenceInput
) -> DisputeEvidence:
    if dispute.evidence.count() >= settings.ESCROW_EVIDENCE_MAX_ITEMS:
        raise InvalidRequest(
            f"A dispute takes at most {settings.ESCROW_EVIDENCE_MAX_ITEMS} pieces of evidence"
        )
    row = _store_evidence(dispute, by=by, role=role, evidence=evidence)
    _event(
        "dispute.evidence_added",
        by=by,
        escrow=escrow,
        milestone=dispute.milestone,
        details={
            "dispute": dispute.public_id,
            "evidence": row.public_id,
            "submittedBy": role,
            "hasText": bool(row.text),
            "url": row.url,
            "fileSha256": row.file_sha256 or None,
            "fileSize": row.file_size,
        },
    )
    return row


@transaction.atomic(durable=True)
def dispute_add_evidence(*, dispute: Dispute, by: User, evidence: EvidenceInput) -> DisputeEvidence:
    """Either party adds text, a link and/or a file while the dispute is unresolved."""
    escrow, dispute, role = _lock_dispute(dispute, by)
    assert role is not None  # without staff_ok only a party gets past the lock
    if evidence.empty:
        raise InvalidRequest("Evidence needs text, a url or a file", field="text")
    evidence = _clean_evidence(evidence)
    if not dispute.is_active:
        raise InvalidState(f"This dispute is {dispute.get_status_display().lower()}", code="dispute_closed")
    return _evidence_added(escrow, dispute, by=by, role=role, evidence=evidence)


@transaction.atomic(durable=True)
def dispute_answer(
    *, dispute: Dispute, by: User, answer: str, text: str = "", evidence: EvidenceInput | None = None
) -> Dispute:
    """The other party answers, with evidence if they like. Accepting the claim settles the
    dispute at once with what the opener asked for (their request, as recorded when they opened
    it: a release, a refund or their split, never more); contesting sends it to an arbiter, and
    the opener's request no longer applies by itself at the deadline."""
    escrow, dispute, role = _lock_dispute(dispute, by)
    return _dispute_answered(escrow, dispute, by=by, role=role, answer=answer, text=text, evidence=evidence)


def _dispute_answered(
    escrow: Escrow,
    dispute: Dispute,
    *,
    by: User,
    role: str | None,
    answer: str,
    text: str,
    evidence: EvidenceInput | None,
) -> Dispute:
    """dispute_answer's change, on the (locked) escrow."""
    if answer not in DisputeAnswer.values:
        raise InvalidRequest(f"answer must be one of: {', '.join(DisputeAnswer.values)}", field="answer")
    text = (text or "").strip()
    if len(text) > DISPUTE_TEXT_MAX or "\x00" in text:
        raise InvalidRequest(f"text must be at most {DISPUTE_TEXT_MAX} characters", field="text")
    if role == dispute.opener_role:
        raise Forbidden(f"Only the {dispute.other_role} can answer this dispute")
    if dispute.status != DisputeStatus.OPEN:
        raise InvalidState(
            f"This dispute is already {dispute.get_status_display().lower()}", code="dispute_not_open"
        )
    if evidence is not None and not evidence.empty:
        assert role is not None  # the opener's role was refused above; a stranger never gets here
        _evidence_added(escrow, dispute, by=by, role=role, evidence=_clean_evidence(evidence))
    dispute.answer_choice = answer
    dispute.answer_text = text
    dispute.answered_by = by
    dispute.answered_at = timezone.now()
    before = dispute.status
    if answer == DisputeAnswer.CONTEST:
        dispute.answer()
    dispute.save()
    _event(
        "dispute.answered",
        by=by,
        escrow=escrow,
        milestone=dispute.milestone,
        from_status=before,
        to_status=dispute.status,
        details={"dispute": dispute.public_id, "answer": answer, "answeredBy": role, "reason": text[:2000]},
    )
    if answer == DisputeAnswer.ACCEPT:
        _dispute_settle(
            escrow,
            dispute,
            outcome=dispute.default_outcome,
            seller_amount=dispute.default_seller_amount,
            buyer_amount=dispute.default_buyer_amount,
            by=by,
            note=f"The {role} accepted the claim",
        )
    return dispute


@transaction.atomic(durable=True)
def dispute_submit(
    *, escrow: Escrow, by: User, message: str, evidence: EvidenceInput | None = None
) -> Dispute:
    """A standard escrow's dispute held as one conversation, as the escrow API's customers hold
    it: the buyer's message opens it (the opener's request is the default outcome); the other
    party's message (the seller's, or the buyer's to a dispute the seller opened elsewhere)
    answers it once, contesting it, and an arbiter decides. Evidence may go with either.
    A milestone escrow is disputed stage by stage instead (dispute_open)."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if escrow.is_milestone:
        raise InvalidRequest("Milestone escrows cannot be disputed", code="milestone_escrow")
    live = Dispute.objects.filter(
        escrow=escrow, milestone__isnull=True, status__in=ACTIVE_DISPUTE_STATUSES
    ).first()
    if live is None:
        if escrow.status != EscrowStatus.OPENED:
            _check_actionable(escrow, allow_unfunded=False)
        if role != "buyer":
            raise Forbidden("Only the buyer can open a dispute; the seller can answer one the buyer opened")
        return _dispute_opened(escrow, by=by, role=role, reason=message, evidence=evidence)
    if role == live.opener_role:
        raise InvalidState("This escrow is already disputed", code="already_disputed")
    return _dispute_answered(
        escrow, live, by=by, role=role, answer=DisputeAnswer.CONTEST, text=message, evidence=evidence
    )


@transaction.atomic(durable=True)
def dispute_withdraw(*, dispute: Dispute, by: User) -> Dispute:
    """The opener drops the dispute: the milestone goes back to where it was (delivered or not),
    a standard escrow resumes."""
    escrow, dispute, role = _lock_dispute(dispute, by)
    if role != dispute.opener_role:
        raise Forbidden("Only the party who opened this dispute can withdraw it")
    if not dispute.is_active:
        raise InvalidState(
            f"This dispute is already {dispute.get_status_display().lower()}", code="dispute_closed"
        )
    before = dispute.status
    dispute.withdraw()
    dispute.withdrawn_at = timezone.now()
    dispute.save()
    milestone = dispute.milestone
    if milestone is not None:
        milestone = _get_milestone(escrow, milestone, _milestones(escrow))
        m_before = milestone.status
        if milestone.completed_at is not None:
            milestone.undispute_delivered()
            # Its old review deadline may have lapsed while it was frozen: the buyer gets a
            # fresh review period from now, or the next timer run would release it at once.
            _review_clock_start(escrow, milestone, timezone.now())
            milestone.save(
                update_fields=["status", "review_deadline", "review_extended_at", "reminder_sent_at"]
            )
        else:
            milestone.undispute_pending()
            milestone.save(update_fields=["status"])
        _event(
            "milestone.undisputed",
            by=by,
            escrow=escrow,
            milestone=milestone,
            from_status=m_before,
            to_status=milestone.status,
            details={"dispute": dispute.public_id, "index": milestone.index},
        )
    else:
        e_before = escrow.status
        escrow.resume()
        escrow.save()
        _event("escrow.resumed", by=by, escrow=escrow, from_status=e_before, to_status=escrow.status)
    _event(
        "dispute.withdrawn",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=before,
        to_status=dispute.status,
        details={"dispute": dispute.public_id, "withdrawnBy": role},
    )
    return dispute


@transaction.atomic(durable=True)
def dispute_resolve(
    *,
    dispute: Dispute,
    by: User,
    outcome: str,
    seller_amount: int | None = None,
    buyer_amount: int | None = None,
    note: str = "",
    evidence: EvidenceInput | None = None,
) -> Dispute:
    """Staff, or the platform both parties are customers of, decide: release to the seller,
    refund to the buyer, or split (the two parts sum to the disputed amount). One ledger posting
    moves the frozen amount out of the hold. `evidence`: a document the arbiter decided on, kept
    with the dispute's evidence."""
    # Whoever may not see the escrow learns nothing (NotFound); a party learns only that
    # resolving is for administrators.
    escrow, dispute, _ = _lock_dispute(dispute, by, staff_ok=True)
    if not (by.is_staff or escrow.arbitrated_by(by)):
        raise Forbidden("Only an administrator can resolve a dispute")
    note = (note or "").strip()[:DISPUTE_TEXT_MAX]
    if not dispute.is_active:
        raise InvalidState(
            f"This dispute is already {dispute.get_status_display().lower()}", code="dispute_closed"
        )
    if outcome == DisputeOutcome.SPLIT and (seller_amount is None or buyer_amount is None):
        raise InvalidRequest("A split needs both sellerAmount and buyerAmount", field="sellerAmount")
    seller_part, buyer_part = _split_amounts(
        outcome, dispute.amount, seller_amount, buyer_amount, escrow.currency
    )
    if evidence is not None and not evidence.empty:
        _evidence_added(escrow, dispute, by=by, role="arbiter", evidence=_clean_evidence(evidence))
    _dispute_settle(
        escrow, dispute, outcome=outcome, seller_amount=seller_part, buyer_amount=buyer_part, by=by, note=note
    )
    return dispute


def dispute_resolution_amounts(
    dispute: Dispute, *, outcome: str, seller_amount: int | None, buyer_amount: int | None
) -> tuple[int, int]:
    """(seller part, buyer part) a resolution would move; raises what dispute_resolve would.
    Writes nothing: the staff page shows it before asking to confirm."""
    if outcome not in DisputeOutcome.values:
        raise InvalidRequest(f"outcome must be one of: {', '.join(DisputeOutcome.values)}", field="outcome")
    if outcome == DisputeOutcome.SPLIT and (seller_amount is None or buyer_amount is None):
        raise InvalidRequest("A split needs both sellerAmount and buyerAmount", field="sellerAmount")
    return _split_amounts(outcome, dispute.amount, seller_amount, buyer_amount, dispute.escrow.currency)


@transaction.atomic(durable=True)
def dispute_apply_default(*, dispute: Dispute) -> Dispute | None:
    """Timer: a dispute the other party never answered gets the opener's request at its deadline
    (they had their chance). A contested one waits for an arbiter. Returns None when it does not
    qualify (any more)."""
    escrow = _lock_escrow(dispute.escrow)
    dispute = Dispute.objects.select_related("milestone").get(pk=dispute.pk)
    if not dispute.request_applies_at_deadline(timezone.now()) or escrow.frozen_by_chargeback:
        # A chargeback's freeze holds the deadline's outcome back until it closes.
        return None
    _dispute_settle(
        escrow,
        dispute,
        outcome=dispute.default_outcome,
        seller_amount=dispute.default_seller_amount,
        buyer_amount=dispute.default_buyer_amount,
        by=None,
        note=f"The {dispute.other_role} did not answer by the deadline: "
        f"the {dispute.opener_role}'s request applied",
    )
    return dispute


def _dispute_settle(
    escrow: Escrow,
    dispute: Dispute,
    *,
    outcome: str,
    seller_amount: int,
    buyer_amount: int,
    by: Actor,
    note: str,
) -> None:
    """Move the disputed amount out of the hold in one posting (payee and/or buyer), settle the
    milestone (or close the standard escrow), record the resolution, schedule the payout."""
    assert seller_amount + buyer_amount == dispute.amount and seller_amount >= 0 and buyer_amount >= 0
    _refuse_if_frozen(escrow)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, dispute.milestone, milestones) if dispute.milestone else None
    if milestone is not None and milestone.status != MilestoneStatus.DISPUTED:
        raise InvalidState("The disputed milestone is no longer frozen", code="dispute_closed")
    if milestone is None and escrow.status != EscrowStatus.DISPUTED:
        raise InvalidState("This escrow is no longer disputed", code="dispute_closed")
    payee = (milestone.payee if milestone is not None else None) or escrow.seller
    hold = ledger.hold_account(escrow)
    entries: list[tuple[Any, int]] = []
    if seller_amount:
        entries += [(hold, -seller_amount), (ledger.customer_account(payee, escrow.currency), seller_amount)]
    if buyer_amount:
        entries.append((hold, -buyer_amount))
    # How the money moved is how the milestone settles.
    settled_as, kind = (
        (DisputeOutcome.RELEASE, TransactionKind.RELEASE)
        if not buyer_amount
        else (DisputeOutcome.REFUND, TransactionKind.REFUND)
        if not seller_amount
        else (DisputeOutcome.SPLIT, TransactionKind.SPLIT)
    )
    _give_back(
        kind, escrow, entries, to_buyer=buyer_amount, milestone=milestone, memo=f"dispute {dispute.public_id}"
    )
    now = timezone.now()
    if milestone is not None:
        _settle_milestone(
            escrow,
            milestone,
            settled_as,
            by=by,
            at=now,
            details={
                "index": milestone.index,
                "amount": milestone.remaining_amount,
                "sellerAmount": seller_amount,
                "buyerAmount": buyer_amount,
                "payee": payee.customer_id,
                "reason": f"dispute resolved: {outcome}",
            },
        )
    before_dispute = dispute.status
    dispute.resolve()
    dispute.outcome = outcome
    dispute.seller_amount = seller_amount
    dispute.buyer_amount = buyer_amount
    dispute.resolved_by = by
    dispute.resolution_note = note
    dispute.resolved_at = now
    dispute.save()
    _event(
        "dispute.resolved",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=before_dispute,
        to_status=dispute.status,
        details={
            "dispute": dispute.public_id,
            "outcome": outcome,
            "sellerAmount": seller_amount,
            "buyerAmount": buyer_amount,
            "note": note[:2000],
        },
    )
    _schedule_payout(escrow, payee=payee, amount=seller_amount, milestone=milestone, by=by)
    if milestone is not None:
        if all(m.is_settled for m in milestones):
            _close_after_last(escrow, milestones, by=by)
        return
    _close_escrow(
        escrow,
        escrow.resolve_complete if seller_amount else escrow.resolve_refund,
        by=by,
        at=now,
        details={"sellerAmount": seller_amount, "buyerAmount": buyer_amount},
    )


DEADLINE_REMINDER = "dispute.deadline_reminder_sent"


def disputes_reminder_due(now: datetime | None = None) -> Any:
    """Unanswered disputes whose opener's request applies within ESCROW_DISPUTE_REMINDER_BEFORE
    and whose parties were not reminded yet (for the timer)."""
    now = now or timezone.now()
    reminded = Event.objects.annotate(dispute_id=KT("details__dispute")).filter(
        escrow=OuterRef("escrow"), kind=DEADLINE_REMINDER, dispute_id=OuterRef("public_id")
    )
    return Dispute.objects.filter(
        status__in=UNANSWERED_DISPUTE_STATUSES,
        deadline__gt=now,
        deadline__lte=now + settings.ESCROW_DISPUTE_REMINDER_BEFORE,
    ).exclude(Exists(reminded))


@transaction.atomic(durable=True)
def dispute_deadline_remind(*, dispute: Dispute) -> Event | None:
    """Timer: tell both parties once, ESCROW_DISPUTE_REMINDER_BEFORE before an unanswered
    dispute's opener's request applies, what it is and when. The escrow row lock serialises
    racing runs; the event itself records that they were told. None when nothing was due."""
    escrow = _lock_escrow(dispute.escrow)
    dispute = Dispute.objects.select_related("milestone").get(pk=dispute.pk)
    now = timezone.now()
    if dispute.status not in UNANSWERED_DISPUTE_STATUSES or not (
        now < dispute.deadline <= now + settings.ESCROW_DISPUTE_REMINDER_BEFORE
    ):
        return None
    if Event.objects.filter(
        escrow=escrow, kind=DEADLINE_REMINDER, details__dispute=dispute.public_id
    ).exists():
        return None
    return _event(
        DEADLINE_REMINDER,
        by=None,
        escrow=escrow,
        milestone=dispute.milestone,
        details={
            "dispute": dispute.public_id,
            "deadline": dispute.deadline.isoformat(),
            "defaultOutcome": dispute.default_outcome,
            "defaultSellerAmount": dispute.default_seller_amount,
            "defaultBuyerAmount": dispute.default_buyer_amount,
        },
    )


def disputes_due(now: datetime | None = None) -> Any:
    """Disputes nobody answered, past their deadline (for the timer): the same rule as
    Dispute.request_applies_at_deadline, as a query."""
    return Dispute.objects.filter(status__in=UNANSWERED_DISPUTE_STATUSES, deadline__lte=now or timezone.now())
