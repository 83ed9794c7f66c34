"""Agreed terms: each version of an escrow's terms is recorded in the transaction that makes it
(creation, an edit, a stage added, an accepted change order), with who proposed it and when each
party agreed; funding records the buyer's agreement to the version they paid for. One function
snapshots the terms for all of them."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.types import Actor

from ..models import ChangeProposal, Escrow, Milestone, TermsReason, TermsVersion


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _terms_snapshot(escrow: Escrow, milestones: Iterable[Milestone]) -> dict[str, Any]:
    """The terms as they stand: what a party agrees to. Amounts in minor units; each stage's
    payee by their customer id (None: the seller)."""
    stages = sorted(milestones, key=lambda m: m.index)
    payee_ids = {m.payee_id for m in stages if m.payee_id is not None}
    customers = (
        dict(get_user_model().objects.filter(pk__in=payee_ids).values_list("pk", "customer_id"))
        if payee_ids
        else {}
    )
    return {
        "title": escrow.title,
        "currency": escrow.currency,
        "amount": escrow.amount,
        "fee": escrow.fee,
        "feeSchedule": escrow.fee_schedule_version,
        "whoPays": escrow.who_pays,
        "inspectionPeriodDays": escrow.inspection_days,
        "milestones": [
            {
                "id": m.public_id,
                "index": m.index,
                "title": m.title,
                "description": m.description,
                "amount": m.amount,
                "dueDate": _iso(m.due_date),
                "payee": customers.get(m.payee_id) if m.payee_id is not None else None,
            }
            for m in stages
        ],
    }


def _record_terms(
    escrow: Escrow,
    milestones: Iterable[Milestone],
    *,
    reason: str,
    proposed_by: Actor,
    proposer_role: str,
    proposed_at: datetime | None = None,
    agreed: dict[str, datetime] | None = None,
    changes: list[dict[str, Any]] | None = None,
    change_proposal: ChangeProposal | None = None,
) -> TermsVersion:
    """Record the escrow's current terms as version `escrow.terms_version` (the caller has moved
        the number on when the terms changed). The proposer agrees by proposing, at `proposed_at`
        (default now); `agreed` adds the other party's agreement ({"buyer": when}); a change order's
    acceptance names the proposal."""
    now = timezone.now()
    proposed_at = proposed_at or now
    agreements = {proposer_role: proposed_at, **(agreed or {})}
    return TermsVersion.objects.create(
        escrow=escrow,
        number=escrow.terms_version,
        reason=reason,
        terms=_terms_snapshot(escrow, milestones),
        changes=changes or [],
        proposed_by=proposed_by,
        proposer_role=proposer_role,
        proposed_at=proposed_at,
        seller_agreed_at=agreements.get("seller"),
        buyer_agreed_at=agreements.get("buyer"),
        change_proposal=change_proposal,
    )


def _record_buyer_agreement(escrow: Escrow, milestones: Iterable[Milestone], *, at: datetime) -> None:
    """Funding: the buyer agreed to the version they paid for (the escrow's current one, the
    payment having been checked against it). One UPDATE; an escrow whose version was never
    recorded (written before versions were) gets it recorded now, agreed by both."""
    updated = TermsVersion.objects.filter(
        escrow=escrow, number=escrow.terms_version, buyer_agreed_at__isnull=True
    ).update(buyer_agreed_at=at)
    if updated or TermsVersion.objects.filter(escrow=escrow, number=escrow.terms_version).exists():
        return
    _record_terms(
        escrow,
        milestones,
        reason=TermsReason.CREATED if escrow.terms_version == 1 else TermsReason.EDITED,
        proposed_by=escrow.seller,
        proposer_role="seller",
        proposed_at=escrow.created_at,
        agreed={"buyer": at},
    )
