"""Reads, scoped to the viewer. Anything the viewer may not see is NotFound, never Forbidden."""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, overload

from django.db.models import BigIntegerField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import NotFound

from . import agreements, timeline
from .models import (
    ACTIVE_DISPUTE_STATUSES,
    PART_RELEASE_MEMO,
    REST_RELEASE_MEMO,
    SETTLED_MILESTONE_STATUSES,
    AccountKind,
    CancellationProposal,
    CancellationStatus,
    ChangeProposal,
    ChangeProposalStatus,
    DeliveryProof,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    Escrow,
    EscrowStatus,
    Event,
    FundingSource,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Payment,
    RefundRequest,
    RefundRequestStatus,
    Settlement,
    SettlementStatus,
    SettlementType,
    TermsVersion,
    TransactionKind,
)
from .models.payments import funding_source_label
from .money import format_minor, format_money


def escrows_for_user(
    user: Any, *, role: str | None = None, with_invitations: bool = False
) -> QuerySet[Escrow]:
    """The user's escrows, newest first. `with_invitations` (the dashboard) adds to what they buy
    the escrows waiting for their payment by their email (`Escrow.invited_to`), which they may
    pay but are not a party to yet."""
    qs = Escrow.objects.select_related("seller", "buyer")
    buying = (Q(buyer=user) | Escrow.invited_to(user)) if with_invitations else Q(buyer=user)
    if role == "selling":
        qs = qs.filter(seller=user)
    elif role == "buying":
        qs = qs.filter(buying)
    else:
        qs = qs.filter(Q(seller=user) | buying)
    return qs.order_by("-created_at", "-id")


def escrow_get_for_user(user: Any, public_id: str, *, dispute_state: bool = False) -> Escrow:
    """`dispute_state`: annotate `under_dispute` in the same query, for a page that shows the
    status a person sees (status_shown)."""
    try:
        # The payment comes along (one join): the escrow page says where a refund would go.
        escrows = Escrow.objects.select_related("seller", "buyer", "payment")
        escrow = (with_dispute_state(escrows) if dispute_state else escrows).get(public_id=public_id)
    except Escrow.DoesNotExist:
        raise NotFound("Escrow not found") from None
    if escrow.party_role(user) is None:
        raise NotFound("Escrow not found")
    return escrow


def escrow_get_by_token(payment_token: str) -> Escrow:
    try:
        return Escrow.objects.select_related("seller", "buyer").get(payment_token=payment_token)
    except Escrow.DoesNotExist:
        raise NotFound("Escrow not found") from None


def escrow_get_by_token_for_user(user: Any, payment_token: str) -> Escrow:
    escrow = escrow_get_by_token(payment_token)
    if escrow.party_role(user) is None:
        raise NotFound("Escrow not found")
    return escrow


def milestone_get(escrow: Escrow, milestone_id: str) -> Milestone:
    try:
        return Milestone.objects.select_related("escrow").get(escrow=escrow, public_id=milestone_id)
    except Milestone.DoesNotExist:
        raise NotFound("Milestone not found") from None


def milestone_get_for_user(user: Any, escrow_public_id: str, milestone_public_id: str) -> Milestone:
    """The milestone with its escrow in one query; a miss falls back to the two lookups so the
    error says which of the two was not found."""
    milestone = (
        Milestone.objects.select_related("escrow")
        .filter(public_id=milestone_public_id, escrow__public_id=escrow_public_id)
        .first()
    )
    if milestone is None or milestone.escrow.party_role(user) is None:
        return milestone_get(escrow_get_for_user(user, escrow_public_id), milestone_public_id)
    return milestone


def milestones_of(escrow: Escrow) -> list[Milestone]:
    return list(escrow.milestones.select_related("payee").order_by("index"))


def events_of(escrow: Escrow) -> QuerySet[Event]:
    return escrow.events.select_related("actor", "milestone").order_by("id")


@dataclass(frozen=True)
class LedgerSummary:
    funded: int
    fee: int
    released: int
    refunded: int
    held: int


def escrow_ledger_summary(escrow: Escrow) -> LedgerSummary:
    rows = (
        LedgerEntry.objects.filter(transaction__escrow=escrow, account__kind=AccountKind.ESCROW_HOLD)
        .values("transaction__kind")
        .annotate(total=Sum("amount"), paid_in=Coalesce(Sum("amount", filter=Q(amount__gt=0)), 0))
    )
    by_kind = {r["transaction__kind"]: r["total"] for r in rows}
    # Change orders: an increase the buyer paid in counts as funded, a decrease given back as
    # refunded (each posting moves the hold one way).
    changed_in = sum(r["paid_in"] for r in rows if r["transaction__kind"] == TransactionKind.CHANGE_ORDER)
    changed_out = changed_in - by_kind.get(TransactionKind.CHANGE_ORDER, 0)
    funded = by_kind.get(TransactionKind.FUNDING, 0) + changed_in
    released = -by_kind.get(TransactionKind.RELEASE, 0)
    refunded = -by_kind.get(TransactionKind.REFUND, 0) + changed_out
    if by_kind.get(TransactionKind.SPLIT):
        # A split posting takes both parts out of the hold; its dispute says which went where.
        parts = escrow.disputes.filter(outcome=DisputeOutcome.SPLIT, status=DisputeStatus.RESOLVED).aggregate(
            seller=Sum("seller_amount"), buyer=Sum("buyer_amount")
        )
        released += parts["seller"] or 0
        refunded += parts["buyer"] or 0
    if by_kind.get(TransactionKind.CANCELLATION):
        # A mutual cancellation is one posting out of the hold; the accepted proposal says
        # how it was split.
        split = escrow.cancellation_proposals.filter(status=CancellationStatus.ACCEPTED).first()
        if split is not None:
            released += split.seller_amount
            refunded += split.buyer_amount
    return LedgerSummary(
        funded=funded,
        fee=escrow.fee if funded else 0,
        released=released,
        refunded=refunded,
        held=funded - released - refunded,
    )


def balances_for_user(user: Any) -> dict[str, dict[str, int]]:
    """{currency: {"available": main balance, "in_flight": payouts being paid}}"""
    out: dict[str, dict[str, int]] = {}
    for account in LedgerAccount.objects.filter(owner=user, escrow__isnull=True):
        slot = out.setdefault(account.currency, {"available": 0, "in_flight": 0})
        if account.kind == AccountKind.CUSTOMER_MAIN:
            slot["available"] = account.balance
        elif account.kind == AccountKind.PAYOUT_CLEARING:
            slot["in_flight"] = account.balance
    return out


def wallet_balance(user: Any, currency: str) -> int:
    account = LedgerAccount.objects.filter(
        owner=user, kind=AccountKind.CUSTOMER_MAIN, currency=currency, escrow__isnull=True
    ).first()
    return account.balance if account else 0


def settlements_for_user(user: Any) -> QuerySet[Settlement]:
    return Settlement.objects.filter(customer=user).select_related("escrow").order_by("-created_at", "-id")


def with_progress(qs: QuerySet[Escrow]) -> QuerySet[Escrow]:
    """Annotate `released_total` (minor units) so a list shows progress bars in one query: what
    the ledger paid out of the hold to the seller's side (payees' balances) by releases,
    dispute splits and mutual cancellations — the escrow page's "Released" figure. Counting
    RELEASED milestones missed standard escrows (no milestones) and split stages. And
    `refunded_total`, the page's "Refunded": what went back to the buyer."""
    released = (
        LedgerEntry.objects.filter(
            transaction__escrow=OuterRef("pk"),
            transaction__kind__in=[
                TransactionKind.RELEASE,
                TransactionKind.SPLIT,
                TransactionKind.CANCELLATION,
            ],
            account__kind=AccountKind.CUSTOMER_MAIN,
            amount__gt=0,
        )
        .exclude(account__owner=OuterRef("buyer_id"))
        .values("transaction__escrow")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    # What went back to the buyer: to the wallet the escrow was paid from, or out to the card.
    refunded = (
        LedgerEntry.objects.filter(
            Q(account__kind=AccountKind.EXTERNAL_REFUNDS)
            | Q(account__kind=AccountKind.CUSTOMER_MAIN, account__owner=OuterRef("buyer_id")),
            transaction__escrow=OuterRef("pk"),
            transaction__kind__in=[
                TransactionKind.REFUND,
                TransactionKind.SPLIT,
                TransactionKind.CANCELLATION,
                TransactionKind.CHANGE_ORDER,
            ],
            amount__gt=0,
        )
        .values("transaction__escrow")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    return qs.annotate(
        released_total=Coalesce(Subquery(released), Value(0), output_field=BigIntegerField()),
        refunded_total=Coalesce(Subquery(refunded), Value(0), output_field=BigIntegerField()),
    )


# -- disputes and evidence ------------------------------------------------------------------


def disputes_of(escrow: Escrow) -> QuerySet[Dispute]:
    return escrow.disputes.select_related("milestone", "opened_by", "answered_by", "resolved_by").order_by(
        "-id"
    )


def dispute_get(escrow: Escrow, dispute_id: str) -> Dispute:
    try:
        return disputes_of(escrow).get(public_id=dispute_id)
    except Dispute.DoesNotExist:
        raise NotFound("Dispute not found") from None


def escrow_get_for_viewer(user: Any, public_id: str) -> Escrow:
    """A party, or staff (arbiters see every escrow, for disputes and the evidence export)."""
    if getattr(user, "is_staff", False) and getattr(user, "is_active", False):
        try:
            return Escrow.objects.select_related("seller", "buyer").get(public_id=public_id)
        except Escrow.DoesNotExist:
            raise NotFound("Escrow not found") from None
    return escrow_get_for_user(user, public_id)


# -- Finternet's conditional payment (the order of a paid intent) ------------------------------


@dataclass(frozen=True)
class OrderState:
    """What the conditional payment read shows beside the escrow: its milestones, the latest
    proof of delivery, the dispute it shows (the live one, else the last one raised) and its
    payouts' statuses."""

    milestones: list[Milestone]
    proof: DeliveryProof | None
    dispute: Dispute | None
    payouts: list[str]


def order_state(escrow: Escrow) -> OrderState:
    disputes = Dispute.objects.filter(escrow=escrow).select_related("opened_by").order_by("-id")
    return OrderState(
        milestones=milestones_of(escrow),
        proof=DeliveryProof.objects.filter(escrow=escrow).select_related("milestone").order_by("-id").first(),
        dispute=disputes.filter(status__in=ACTIVE_DISPUTE_STATUSES).first() or disputes.first(),
        payouts=list(Settlement.objects.filter(escrow=escrow).values_list("status", flat=True)),
    )


def escrow_get_public(public_id: str) -> Escrow:
    """Any escrow by its id, for the payment page's read that needs no key (it shows nothing
    secret)."""
    try:
        return Escrow.objects.get(public_id=public_id)
    except Escrow.DoesNotExist:
        raise NotFound("Escrow not found") from None


def open_disputes() -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(status__in=[DisputeStatus.OPEN, DisputeStatus.ANSWERED])
        .select_related("escrow", "milestone")
        .order_by("deadline")
    )


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.customer_id, "name": user.display_name, "email": user.email}


def evidence_text_sha256(evidence: Any) -> str:
    """A fingerprint of what was written (text and link), so the export proves it unchanged."""
    return hashlib.sha256(f"{evidence.text}\n{evidence.url}".encode()).hexdigest()


def dispute_record(dispute: Dispute, *, currency: str) -> dict[str, Any]:
    def money(v: int | None) -> str | None:
        return None if v is None else format_minor(v, currency)

    return {
        "id": dispute.public_id,
        "object": "dispute",
        "escrowId": dispute.escrow.public_id,
        "milestoneId": dispute.milestone.public_id if dispute.milestone else None,
        "status": dispute.status,
        "openedBy": dispute.opener_role,
        "openedById": dispute.opened_by.customer_id,
        "reason": dispute.reason,
        "amount": money(dispute.amount),
        "currency": currency,
        "deadline": _iso(dispute.deadline),
        "defaultOutcome": {
            "outcome": dispute.default_outcome,
            "sellerAmount": money(dispute.default_seller_amount),
            "buyerAmount": money(dispute.default_buyer_amount),
        },
        "answer": (
            {
                "choice": dispute.answer_choice,
                "text": dispute.answer_text,
                "answeredBy": dispute.answered_by.customer_id if dispute.answered_by else None,
                "answeredAt": _iso(dispute.answered_at),
            }
            if dispute.answer_choice
            else None
        ),
        "resolution": (
            {
                "outcome": dispute.outcome,
                "sellerAmount": money(dispute.seller_amount),
                "buyerAmount": money(dispute.buyer_amount),
                "resolvedBy": "staff"
                if dispute.resolved_by and dispute.resolved_by.is_staff
                else (dispute.resolved_by.customer_id if dispute.resolved_by else "system"),
                "note": dispute.resolution_note,
                "resolvedAt": _iso(dispute.resolved_at),
            }
            if dispute.outcome
            else None
        ),
        "withdrawnAt": _iso(dispute.withdrawn_at),
        "createdAt": _iso(dispute.created_at),
        "evidence": [
            {
                "id": e.public_id,
                "submittedBy": e.submitter_role,
                "submittedById": e.submitted_by.customer_id,
                "text": e.text,
                "url": e.url or None,
                "textSha256": evidence_text_sha256(e),
                "file": (
                    {
                        "name": e.file_name,
                        "size": e.file_size,
                        "contentType": e.content_type,
                        "sha256": e.file_sha256,
                    }
                    if e.file_sha256
                    else None
                ),
                "createdAt": _iso(e.created_at),
            }
            for e in dispute.evidence.all()
        ],
    }


def _account_label(account: LedgerAccount, escrow: Escrow) -> dict[str, Any]:
    if account.kind == AccountKind.ESCROW_HOLD:
        return {"kind": account.kind, "owner": escrow.public_id}
    return {"kind": account.kind, "owner": account.owner.customer_id if account.owner else "platform"}


def _event_actor(event: Event, escrow: Escrow) -> dict[str, Any]:
    """Who acted, as the record names them: a party by name and customer id; staff only as
    Milestone Escrow staff (the parties read this record, and a staff member's name or email is
    not theirs to see); nobody for what happened by itself."""
    if event.actor is None:
        return {"kind": event.actor_kind, "id": None, "name": None}
    if timeline.actor_words(event, escrow, None) == f"by {timeline.STAFF_NAME}":
        return {"kind": "staff", "id": None, "name": timeline.STAFF_NAME}
    return {"kind": event.actor_kind, "id": event.actor.customer_id, "name": event.actor.display_name}


def evidence_export(escrow: Escrow) -> dict[str, Any]:
    """The whole record of an escrow for either party or an arbiter: parties, milestones, every
    event with its actor and time, every ledger posting with its entries, and the disputes with
    their evidence and its SHA-256 hashes. `recordSha256` fingerprints the rest."""
    currency = escrow.currency
    milestones = milestones_of(escrow)
    transactions = list(
        escrow.ledger_transactions.select_related("milestone")
        .prefetch_related("entries__account__owner")
        .order_by("id")
    )
    disputes = list(
        escrow.disputes.select_related("escrow", "milestone", "opened_by", "answered_by", "resolved_by")
        .prefetch_related("evidence__submitted_by")
        .order_by("id")
    )
    versions = list(terms_versions_of(escrow))
    record: dict[str, Any] = {
        "object": "evidence_export",
        "escrow": {
            "id": escrow.public_id,
            "title": escrow.title,
            "description": escrow.description,
            "status": escrow.status,
            "settlementType": escrow.settlement_type,
            "currency": currency,
            "amount": format_minor(escrow.amount, currency),
            "fee": format_minor(escrow.fee, currency),
            "feeScheduleVersion": escrow.fee_schedule_version,
            "inspectionPeriodDays": escrow.inspection_days,
            "createdAt": _iso(escrow.created_at),
            "fundedAt": _iso(escrow.funded_at),
            "closedAt": _iso(escrow.closed_at),
        },
        "parties": {"seller": _person(escrow.seller), "buyer": _person(escrow.buyer)},
        "milestones": [
            {
                "id": m.public_id,
                "index": m.index,
                "title": m.title,
                "amount": format_minor(m.amount, currency),
                "releasedPart": format_minor(m.released_part, currency),
                "status": m.status,
                "payee": m.payee.customer_id if m.payee else None,
                "dueDate": _iso(m.due_date),
                "dueReminderSentAt": _iso(m.due_reminder_sent_at),
                "overdueNotifiedAt": _iso(m.overdue_notified_at),
                "completionProof": m.completion_proof or None,
                "completionProofURI": m.completion_proof_uri or None,
                "completedAt": _iso(m.completed_at),
                "releasedAt": _iso(m.released_at),
                "refundedAt": _iso(m.refunded_at),
            }
            for m in milestones
        ],
        "events": [
            {
                "id": ev.public_id,
                "type": ev.kind,
                "at": _iso(ev.created_at),
                "actor": _event_actor(ev, escrow),
                "milestoneId": ev.milestone.public_id if ev.milestone else None,
                "fromStatus": ev.from_status or None,
                "toStatus": ev.to_status or None,
                "details": ev.details,
            }
            for ev in events_of(escrow)
        ],
        "ledger": [
            {
                "id": t.pk,
                "kind": t.kind,
                "at": _iso(t.created_at),
                "memo": t.memo,
                "milestoneId": t.milestone.public_id if t.milestone else None,
                "entries": [
                    {**_account_label(e.account, escrow), "amount": format_minor(e.amount, currency)}
                    for e in t.entries.all()
                ],
            }
            for t in transactions
        ],
        "disputes": [dispute_record(d, currency=currency) for d in disputes],
        "termsVersions": [terms_version_record(v) for v in versions],
    }
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    record["recordSha256"] = hashlib.sha256(canonical.encode()).hexdigest()
    record["generatedAt"] = _iso(timezone.now())
    return record


# Words for the evidence record's page: event details and ledger accounts as a person reads them.
EVIDENCE_DETAIL_LABELS = {
    "amount": "Amount",
    "charged": "Charged",
    "fee": "Fee",
    "held": "Held",
    "buyerAmount": "To the buyer",
    "sellerAmount": "To the seller",
    "buyerShare": "Buyer's share",
    "sellerShare": "Seller's share",
    "released": "Released of the stage so far",
    "remaining": "Still held for the stage",
    "releasedBefore": "Released of the stage before",
    "defaultOutcome": "Default outcome",
    "defaultSellerAmount": "Default to the seller",
    "defaultBuyerAmount": "Default to the buyer",
    "source": "Paid from",
    "terms_version": "Terms version",
    "feeSchedule": "Fee schedule",
    "destination": "Destination",
    "reference": "Payout reference",
    "error": "Error",
    "index": "Stage",
    "title": "Title",
    "answer": "Answer",
    "answeredBy": "Answered by",
    "openedBy": "Opened by",
    "submittedBy": "From",
    "withdrawnBy": "Withdrawn by",
    "role": "Proposed by",
    "outcome": "Outcome",
    "hasText": "With a written statement",
    "fileSize": "File size (bytes)",
    "url": "Link",
    "round": "Round",
    "requestedBy": "Requested by",
    "proof": "Delivery note",
    "proofUri": "Link to the work",
    "completedBy": "Delivered by",
    "buyerEmail": "Buyer email",
    "buyer_email": "Buyer email",
    "buyerEmailBefore": "Buyer email before",
    "before": "Before",
    "deadline": "Deadline",
    "previousDeadline": "Previous deadline",
    "reviewDeadline": "Review ends",
    "dueDate": "Due by",
    "expiresAt": "Link expires",
    "extensionSeconds": "Extended by",
    "currency": "Currency",
    "amountBefore": "Total before",
    "amountAfter": "Total after",
    "difference": "Difference",
    "paid": "Paid in by the buyer",
    "paidFrom": "Paid from",
    "refunded": "Back to the buyer",
    "refundedTo": "Back to",
    "termsVersion": "Terms version",
    "lapsesAt": "Lapses",
}
EVIDENCE_MONEY_KEYS = {
    "amount",
    "charged",
    "fee",
    "held",
    "buyerAmount",
    "sellerAmount",
    "buyerShare",
    "sellerShare",
    "released",
    "remaining",
    "releasedBefore",
    "defaultSellerAmount",
    "defaultBuyerAmount",
    "amountBefore",
    "amountAfter",
    "difference",
    "paid",
    "refunded",
}
EVIDENCE_TIME_KEYS = {"deadline", "previousDeadline", "reviewDeadline", "expiresAt", "dueDate", "lapsesAt"}
# The event's own words already say these, or they are references between records (each
# dispute's id is in its own section below).
EVIDENCE_SKIPPED_KEYS = {
    "reason",
    "note",
    "payment",
    "proposal",
    "refundRequest",
    "dispute",
    "evidence",
    "milestone",
    "milestones",
    "payee",
    # A change order's own id, and its changes (the event's words list them).
    "changeOrder",
    "changes",
}


def _status_words(*, of_milestone: bool = False) -> dict[str, str]:
    """Each status in the words its page uses. Escrows and milestones share some names and not
    their words: a milestone's COMPLETED is "Delivered", an escrow's "Completed"."""
    words: dict[str, str] = {}
    for choices in (
        SettlementStatus,
        RefundRequestStatus,
        CancellationStatus,
        ChangeProposalStatus,
        DisputeStatus,
    ):
        words.update({c.value: str(c.label) for c in choices})
    # The later one's words win where both name a status.
    for shared in (EscrowStatus, MilestoneStatus) if of_milestone else (MilestoneStatus, EscrowStatus):
        words.update({c.value: str(c.label) for c in shared})
    return words


# Details that name a party by role ("buyer"), read as "the buyer".
EVIDENCE_ROLE_KEYS = {"answeredBy", "openedBy", "submittedBy", "withdrawnBy", "role", "requestedBy"}


def _detail_value(key: str, value: Any, currency: str) -> str:
    if key in EVIDENCE_ROLE_KEYS and value in ("buyer", "seller"):
        return f"the {value}"
    if key in EVIDENCE_MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return format_money(value, currency)
    if key == "index" and isinstance(value, int):
        return str(value + 1)
    if key == "refundedTo" and value in ("wallet", "card"):
        return "the buyer's balance" if value == "wallet" else "the card the buyer paid with"
    if key in ("source", "paidFrom") and value in FundingSource.values:
        return funding_source_label(value)
    if key == "extensionSeconds" and isinstance(value, int):
        return f"{value // 86400} days" if value % 86400 == 0 else f"{value // 3600} hours"
    if key in EVIDENCE_TIME_KEYS and isinstance(value, str):
        try:
            return f"{datetime.fromisoformat(value.replace('Z', '+00:00')):%-d %b %Y, %H:%M} UTC"
        except ValueError:
            return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def evidence_export_readable(escrow: Escrow, viewer: Any, record: dict[str, Any]) -> dict[str, Any]:
    """The evidence record's events and ledger postings in words for its page: who acted (staff
    as Milestone Escrow staff), what happened, details as labelled values with money in its
    currency; each posting's entries as whose account and how much."""
    currency = escrow.currency
    statuses = _status_words()
    stage_statuses = _status_words(of_milestone=True)
    events = []
    for entry in timeline.timeline_entries(events_of(escrow), escrow=escrow, viewer=viewer):
        ev = entry.event
        details = ev.details if isinstance(ev.details, dict) else {}
        lines = [entry.note] if entry.note else []
        if entry.quote:
            lines.append(f"“{entry.quote}”")
        lines += [
            f"{EVIDENCE_DETAIL_LABELS.get(k, k[:1].upper() + k[1:])}: {_detail_value(k, v, currency)}"
            for k, v in details.items()
            if k not in EVIDENCE_SKIPPED_KEYS and v not in (None, "", [])
        ]
        change = ""
        if ev.from_status or ev.to_status:
            words = stage_statuses if ev.kind.startswith("milestone.") else statuses
            change = " → ".join(words.get(x, x) for x in (ev.from_status, ev.to_status) if x)
        events.append(
            {
                "at": ev.created_at,
                "what": entry.headline
                + (f" · {ev.milestone.title or f'Stage {ev.milestone.index + 1}'}" if ev.milestone else ""),
                "who": entry.who.removeprefix("by ") or "—",
                "change": change,
                "details": lines,
            }
        )
    postings = []
    for t in (
        escrow.ledger_transactions.select_related("milestone")
        .prefetch_related("entries__account__owner")
        .order_by("id")
    ):
        postings.append(
            {
                "number": t.pk,
                "at": t.created_at,
                "what": t.get_kind_display(),
                "entries": [
                    (_account_words(e.account, escrow), format_money(e.amount, currency))
                    for e in t.entries.all()
                ],
            }
        )
    stages = {
        m["id"]: f"Stage {m['index'] + 1}" + (f" · {m['title']}" if m["title"] else "")
        for m in record["milestones"]
    }
    disputes = [
        {
            "record": d,
            "stage": stages.get(d["milestoneId"], ""),
            "status": statuses.get(d["status"], d["status"]),
        }
        for d in record["disputes"]
    ]
    terms = agreements.terms_history(escrow, list(terms_versions_of(escrow)), viewer)
    return {"events": events, "postings": postings, "disputes": disputes, "terms": terms}


def _account_words(account: LedgerAccount, escrow: Escrow) -> str:
    if account.kind == AccountKind.ESCROW_HOLD:
        return "Held in this escrow"
    if account.kind == AccountKind.CUSTOMER_MAIN and account.owner is not None:
        return f"{account.owner.display_name}'s balance"
    if account.kind == AccountKind.PAYOUT_CLEARING and account.owner is not None:
        return f"{account.owner.display_name}'s payouts in flight"
    return str(account.get_kind_display())


# -- refunds and mutual cancellation --------------------------------------------------------


def refund_requests_of(escrow: Escrow) -> QuerySet[RefundRequest]:
    return escrow.refund_requests.select_related("requested_by", "decided_by").order_by("-created_at", "-id")


def refund_request_get(escrow: Escrow, public_id: str) -> RefundRequest:
    try:
        return RefundRequest.objects.select_related("escrow").get(escrow=escrow, public_id=public_id)
    except RefundRequest.DoesNotExist:
        raise NotFound("Refund request not found") from None


def open_refund_request(escrow: Escrow) -> RefundRequest | None:
    return escrow.refund_requests.filter(status=RefundRequestStatus.REQUESTED).first()


def cancellation_proposals_of(escrow: Escrow) -> QuerySet[CancellationProposal]:
    return escrow.cancellation_proposals.select_related("proposed_by", "decided_by").order_by(
        "-created_at", "-id"
    )


def cancellation_proposal_get(escrow: Escrow, public_id: str) -> CancellationProposal:
    try:
        return CancellationProposal.objects.select_related("escrow").get(escrow=escrow, public_id=public_id)
    except CancellationProposal.DoesNotExist:
        raise NotFound("Cancellation proposal not found") from None


# -- agreed terms and change orders -----------------------------------------------------------


def terms_versions_of(escrow: Escrow) -> QuerySet[TermsVersion]:
    """Every recorded version of the escrow's terms, oldest first."""
    return escrow.terms_versions.order_by("number")


def terms_version_record(version: TermsVersion) -> dict[str, Any]:
    """A version of the terms for the evidence record: the snapshot with money as decimal
    strings, who proposed it and when each party agreed."""
    currency = version.currency
    terms = dict(version.terms)

    def money(value: Any) -> str:
        return format_minor(int(value or 0), currency)

    terms["amount"], terms["fee"] = money(terms.get("amount")), money(terms.get("fee"))
    terms["milestones"] = [{**m, "amount": money(m.get("amount"))} for m in version.stages]
    return {
        "number": version.number,
        "reason": version.reason,
        "proposedBy": version.proposer_role,
        "proposedAt": _iso(version.proposed_at),
        "sellerAgreedAt": _iso(version.seller_agreed_at),
        "buyerAgreedAt": _iso(version.buyer_agreed_at),
        "terms": terms,
        "changes": [change_record(c, currency) for c in version.changes],
    }


def change_record(change: dict[str, Any], currency: str) -> dict[str, Any]:
    """One change of a change order (or a stage added) with its amounts as decimal strings."""
    out = dict(change)
    if isinstance(out.get("amount"), int):
        out["amount"] = format_minor(out["amount"], currency)
    for side in ("before", "after"):
        values = out.get(side)
        if isinstance(values, dict) and isinstance(values.get("amount"), int):
            out[side] = {**values, "amount": format_minor(values["amount"], currency)}
    return out


def change_proposals_of(escrow: Escrow) -> QuerySet[ChangeProposal]:
    """The escrow's change orders, newest first (at most one is open)."""
    return escrow.change_proposals.select_related("proposed_by", "decided_by").order_by("-created_at", "-id")


def change_proposal_get(escrow: Escrow, public_id: str) -> ChangeProposal:
    try:
        return change_proposals_of(escrow).get(public_id=public_id)
    except ChangeProposal.DoesNotExist:
        raise NotFound("Change order not found") from None


def open_change_proposal(escrow: Escrow) -> ChangeProposal | None:
    return change_proposals_of(escrow).filter(status=ChangeProposalStatus.OPEN).first()


def open_cancellation_proposal(escrow: Escrow) -> CancellationProposal | None:
    return escrow.cancellation_proposals.filter(status=CancellationStatus.PROPOSED).first()


def with_review_clock(qs: QuerySet[Escrow]) -> QuerySet[Escrow]:
    """Annotate `next_review_deadline`: the earliest review deadline among the escrow's
    delivered milestones (None when nothing awaits the buyer's review)."""
    deadline = (
        Milestone.objects.filter(
            escrow=OuterRef("pk"), status=MilestoneStatus.COMPLETED, review_deadline__isnull=False
        )
        .order_by("review_deadline")
        .values("review_deadline")[:1]
    )
    return qs.annotate(next_review_deadline=Subquery(deadline))


def with_overdue(qs: QuerySet[Escrow], now: datetime | None = None) -> QuerySet[Escrow]:
    """Annotate `overdue_since`: the earliest due date among the escrow's overdue stages
    (Milestone.is_overdue), None when none is late; in the list's own query."""
    due = (
        Milestone.objects.filter(Milestone.overdue_q(now or timezone.now()), escrow=OuterRef("pk"))
        .order_by("due_date")
        .values("due_date")[:1]
    )
    return qs.annotate(overdue_since=Subquery(due))


# -- the balance statement and receipts -----------------------------------------------------

OPEN_STATUSES = (EscrowStatus.OPENED, EscrowStatus.DISPUTED)
# Postings a receipt is written for: the buyer's payment, and what left the hold for a seller
# or payee (a release, the seller's part of a dispute split or of an agreed cancellation).
RECEIPT_KINDS = (
    TransactionKind.FUNDING,
    TransactionKind.RELEASE,
    TransactionKind.SPLIT,
    TransactionKind.CANCELLATION,
)
STATEMENT_KIND_WORDS: dict[str, str] = {
    TransactionKind.TOPUP: "Top-up",
    TransactionKind.FUNDING: "Payment",
    TransactionKind.RELEASE: "Release",
    TransactionKind.REFUND: "Refund",
    TransactionKind.SPLIT: "Dispute split",
    TransactionKind.CANCELLATION: "Cancellation",
    TransactionKind.CHANGE_ORDER: "Change order",
    TransactionKind.PAYOUT_RESERVE: "Payout",
    TransactionKind.PAYOUT_RETURN: "Payout returned",
}


@dataclass(frozen=True)
class StatementRow:
    """One movement of a customer's available balance. `amount` is signed minor units (money in
    is positive); `balance` is the available balance right after it; `fee` the part of a
    payment that was the escrow fee."""

    at: datetime
    kind: str
    kind_words: str
    description: str
    currency: str
    amount: int
    fee: int
    balance: int
    escrow: Escrow | None
    escrow_visible: bool
    receipt: int | None
    payout_status: str
    payout_words: str


@dataclass(frozen=True)
class StatementTotals:
    """A customer's money in one currency. `held_for_you`: paid by buyers into the customer's
    open escrows (as seller, or as payee of a stage) and not yet released to them, stages under
    dispute included; `held_for_purchases`: what the customer paid into open escrows they buy
    and that is neither released to the seller nor refunded yet; `being_paid_out`: payouts
    scheduled or in flight."""

    currency: str
    available: int
    held_for_you: int
    held_for_purchases: int
    being_paid_out: int


class StatementRows:
    """The statement's rows for a period, read a slice at a time (a page, or the CSV in chunks):
    each slice reads its entries and, per currency, the balance before its first entry, so the
    running balance is right on every page and in either order."""

    CHUNK = 500

    def __init__(self, user: Any, entries: QuerySet[LedgerEntry], *, newest_first: bool) -> None:
        self.user = user
        self.entries = entries.order_by("-id" if newest_first else "id")
        self.newest_first = newest_first
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self.entries.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> StatementRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[StatementRow]: ...

    def __getitem__(self, index: int | slice) -> StatementRow | list[StatementRow]:
        if not isinstance(index, slice):
            found = self[index : index + 1] if index >= 0 else []
            if not found:
                raise IndexError(index)
            return found[0]
        entries = list(
            self.entries.select_related(
                "account", "transaction__escrow", "transaction__milestone", "transaction__settlement"
            )[index]
        )
        if not entries:
            return []
        # Each account's balance just before the oldest entry of this slice.
        oldest: dict[int, int] = {}
        for e in entries:
            oldest[e.account_id] = min(e.pk, oldest.get(e.account_id, e.pk))
        running = {
            account_id: LedgerEntry.objects.filter(account_id=account_id, pk__lt=first).aggregate(
                t=Coalesce(Sum("amount"), 0)
            )["t"]
            for account_id, first in oldest.items()
        }
        rows = []
        for e in sorted(entries, key=lambda e: e.pk):
            running[e.account_id] += e.amount
            rows.append(self._row(e, running[e.account_id]))
        return rows[::-1] if self.newest_first else rows

    def __iter__(self) -> Iterator[StatementRow]:
        for start in range(0, self.count(), self.CHUNK):
            yield from self[start : start + self.CHUNK]

    def _row(self, entry: LedgerEntry, balance: int) -> StatementRow:
        txn = entry.transaction
        escrow = txn.escrow
        fee = escrow.fee if escrow is not None and txn.kind == TransactionKind.FUNDING else 0
        visible = escrow is not None and escrow.party_role(self.user) is not None
        payout = txn.settlement if txn.kind == TransactionKind.PAYOUT_RESERVE else None
        return StatementRow(
            at=txn.created_at,
            kind=txn.kind,
            kind_words=STATEMENT_KIND_WORDS.get(txn.kind, txn.get_kind_display()),
            description=_statement_words(txn, entry, self.user),
            currency=entry.account.currency,
            amount=entry.amount,
            fee=fee,
            balance=balance,
            escrow=escrow,
            escrow_visible=visible,
            receipt=txn.pk if visible and txn.kind in RECEIPT_KINDS else None,
            payout_status=payout.status if payout is not None else "",
            payout_words=payout.get_status_display() if payout is not None else "",
        )


def _statement_words(txn: LedgerTransaction, entry: LedgerEntry, user: Any) -> str:
    escrow = txn.escrow
    title = f"“{escrow.title}”" if escrow is not None else ""
    stage = f"“{txn.milestone.title or 'Stage ' + str(txn.milestone.index + 1)}” of " if txn.milestone else ""
    currency = entry.account.currency
    if txn.kind == TransactionKind.TOPUP:
        return "Test funds added to your balance"
    if txn.kind == TransactionKind.FUNDING and escrow is not None:
        paid = format_money(escrow.amount, currency)
        return f"You paid {title} from your balance: {paid} + {format_money(escrow.fee, currency)} fee"
    if txn.kind == TransactionKind.RELEASE and txn.memo == PART_RELEASE_MEMO:
        return f"Part released to you: {stage}{title} (the rest stays held)"
    if txn.kind == TransactionKind.RELEASE and txn.memo == REST_RELEASE_MEMO:
        return f"The rest released to you: {stage}{title}"
    if txn.kind == TransactionKind.RELEASE:
        return f"Released to you: {stage}{title}"
    if txn.kind == TransactionKind.REFUND:
        return f"Refunded to you from {stage}{title}"
    if txn.kind == TransactionKind.SPLIT:
        side = "refunded to you" if escrow is not None and escrow.buyer_id == user.pk else "released to you"
        return f"Your part of the dispute ruling on {stage}{title}, {side}"
    if txn.kind == TransactionKind.CANCELLATION:
        side = "refunded to you" if escrow is not None and escrow.buyer_id == user.pk else "released to you"
        return f"Your part of the agreed cancellation of {title}, {side}"
    if txn.kind == TransactionKind.CHANGE_ORDER:
        if entry.amount < 0:
            return f"You paid the increase of an agreed change to {title} from your balance, fee included"
        return f"Refunded to you: the decrease of an agreed change to {title}"
    settlement = txn.settlement
    where = f" to {settlement.destination}" if settlement is not None else ""
    if txn.kind == TransactionKind.PAYOUT_RESERVE:
        source = f" of your money from {title}" if escrow is not None else ""
        return f"Payout{source}{where}"
    if txn.kind == TransactionKind.PAYOUT_RETURN:
        return f"Payout{where} failed: the money is back in your balance"
    return str(txn.get_kind_display())


@dataclass(frozen=True)
class Statement:
    rows: StatementRows
    totals: list[StatementTotals]
    date_from: date | None
    date_to: date | None
    newest_first: bool


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def balance_statement(
    user: Any, *, date_from: date | None = None, date_to: date | None = None, newest_first: bool = True
) -> Statement:
    """Every movement of the user's available balances (top-ups, payments made from the balance
    with their fee, releases and refunds in, payouts and payouts returned) between two dates,
    both included, with the balance after each; and the user's totals per currency. The balance
    page and its CSV export both read this."""
    entries = LedgerEntry.objects.filter(
        account__owner=user, account__kind=AccountKind.CUSTOMER_MAIN, account__escrow__isnull=True
    )
    if date_from is not None:
        entries = entries.filter(transaction__created_at__gte=_day_start(date_from))
    if date_to is not None and date_to < date.max:
        entries = entries.filter(transaction__created_at__lt=_day_start(date_to + timedelta(days=1)))
    return Statement(
        rows=StatementRows(user, entries, newest_first=newest_first),
        totals=statement_totals(user),
        date_from=date_from,
        date_to=date_to,
        newest_first=newest_first,
    )


def statement_totals(user: Any) -> list[StatementTotals]:
    """Per currency: available, held for the user as seller or payee, held for the user's
    purchases, being paid out (see StatementTotals)."""
    figures: dict[str, dict[str, int]] = {}

    def add(currency: str, name: str, value: int | None) -> None:
        slot = figures.setdefault(currency, dict.fromkeys(("available", "held", "purchases", "payout"), 0))
        slot[name] += value or 0

    for currency, kind, balance in LedgerAccount.objects.filter(
        owner=user, escrow__isnull=True, kind__in=[AccountKind.CUSTOMER_MAIN, AccountKind.PAYOUT_CLEARING]
    ).values_list("currency", "kind", "balance"):
        add(currency, "available" if kind == AccountKind.CUSTOMER_MAIN else "payout", balance)
    stages = (
        Milestone.objects.filter(escrow__status__in=OPEN_STATUSES)
        .exclude(status__in=sorted(SETTLED_MILESTONE_STATUSES))
        .filter(Q(payee=user) | Q(payee__isnull=True, escrow__seller=user))
        .values_list("escrow__currency")
        # What is left of each stage: a part the buyer released is in the balance already.
        .annotate(t=Sum(F("amount") - F("released_part")))
        .order_by()
    )
    for currency, total in stages:
        add(currency, "held", total)
    standard = (
        Escrow.objects.filter(seller=user, status__in=OPEN_STATUSES, settlement_type=SettlementType.STANDARD)
        .values_list("currency")
        .annotate(t=Sum("amount"))
        .order_by()
    )
    for currency, total in standard:
        add(currency, "held", total)
    purchases = (
        LedgerAccount.objects.filter(
            kind=AccountKind.ESCROW_HOLD, escrow__buyer=user, escrow__status__in=OPEN_STATUSES
        )
        .values_list("currency")
        .annotate(t=Sum("balance"))
        .order_by()
    )
    for currency, total in purchases:
        add(currency, "purchases", total)
    return [
        StatementTotals(
            currency=currency,
            available=f["available"],
            held_for_you=f["held"],
            held_for_purchases=f["purchases"],
            being_paid_out=f["payout"],
        )
        for currency, f in sorted(figures.items())
    ]


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    amount: int


@dataclass(frozen=True)
class Receipt:
    """A receipt for a payment into escrow or for money released out of it."""

    number: str
    posting: int  # the ledger transaction, as the receipt's address names it
    kind: str  # "payment" or "release"
    title: str
    at: datetime
    escrow: Escrow
    milestone: Milestone | None
    currency: str
    lines: list[ReceiptLine]
    total_label: str
    total: int
    facts: list[tuple[str, str]]
    note: str


@dataclass(frozen=True)
class ReceiptLink:
    """A receipt as the escrow page lists it: its posting, kind, stage, time and amount."""

    pk: int
    kind: str
    milestone: Milestone | None
    created_at: datetime
    receipt_amount: int
    # A release of part of a stage ("part") or of the rest of such a stage ("rest"); else "".
    part: str = ""


def receipts_of(escrow: Escrow) -> list[ReceiptLink]:
    """The escrow's postings that have a receipt, oldest first: its payment (what the buyer was
    charged) and each release (a split or an agreed cancellation that paid the seller's side
    anything: that part). One query."""
    entries = (
        LedgerEntry.objects.filter(
            transaction__escrow=escrow, transaction__kind__in=RECEIPT_KINDS, amount__gt=0
        )
        .select_related("account", "transaction__milestone")
        .order_by("transaction_id", "id")
    )
    found: dict[int, tuple[LedgerTransaction, int]] = {}
    for e in entries:
        txn = e.transaction
        paid = txn.kind == TransactionKind.FUNDING or _pays_seller_side(e, escrow)
        if paid:
            found[txn.pk] = (txn, found.get(txn.pk, (txn, 0))[1] + e.amount)
    return [
        ReceiptLink(
            pk=txn.pk,
            kind=txn.kind,
            milestone=txn.milestone,
            created_at=txn.created_at,
            receipt_amount=total,
            part=_release_part(txn),
        )
        for txn, total in found.values()
    ]


def _release_part(txn: LedgerTransaction) -> str:
    """Whether a release paid part of a stage ("part"), the rest of one ("rest"), or neither."""
    if txn.kind != TransactionKind.RELEASE:
        return ""
    return {PART_RELEASE_MEMO: "part", REST_RELEASE_MEMO: "rest"}.get(txn.memo, "")


def _pays_seller_side(entry: LedgerEntry, escrow: Escrow) -> bool:
    return (
        entry.amount > 0
        and entry.account.kind == AccountKind.CUSTOMER_MAIN
        and entry.account.owner_id != escrow.buyer_id
    )


def _released_entries(txn: LedgerTransaction, escrow: Escrow) -> list[LedgerEntry]:
    """The entries that paid a seller or payee (a customer balance other than the buyer's)."""
    if txn.kind == TransactionKind.FUNDING:
        return []
    return [e for e in txn.entries.all() if _pays_seller_side(e, escrow)]


def _taken_from_hold(txn: LedgerTransaction) -> int:
    return -sum(e.amount for e in txn.entries.all() if e.account.kind == AccountKind.ESCROW_HOLD)


def receipt_get(user: Any, escrow_public_id: str, number: int) -> Receipt:
    """A receipt, for the escrow's parties and staff only; NotFound for anyone else, and for a
    posting of another escrow or without a receipt."""
    escrow = escrow_get_for_viewer(user, escrow_public_id)
    txn = (
        escrow.ledger_transactions.filter(pk=number, kind__in=RECEIPT_KINDS)
        .select_related("milestone__payee")
        .prefetch_related("entries__account__owner")
        .first()
    )
    if txn is None:
        raise NotFound("Receipt not found")
    currency = escrow.currency
    receipt_number = f"{escrow.public_id}-{txn.pk}"
    if txn.kind == TransactionKind.FUNDING:
        payment = Payment.objects.select_related("payer").filter(escrow=escrow).first()
        if payment is None:
            raise NotFound("Receipt not found")
        return Receipt(
            number=receipt_number,
            posting=txn.pk,
            kind="payment",
            title="Payment receipt",
            at=txn.created_at,
            escrow=escrow,
            milestone=None,
            currency=currency,
            lines=[ReceiptLine("Escrow amount", payment.amount), ReceiptLine("Escrow fee", payment.fee)],
            total_label="Total paid",
            total=payment.total,
            facts=[
                ("Paid by", payment.payer.display_name),
                ("Paid to", f"Milestone Escrow, held in escrow for {escrow.seller.display_name}"),
                ("Paid from", funding_source_label(payment.source)),
                ("Payment reference", payment.reference),
                ("Escrow", f"{escrow.title} ({escrow.public_id})"),
            ],
            note=(
                "The escrow amount is held until the buyer confirms each stage (or a stage's review "
                "period ends); the fee is not refunded."
            ),
        )
    released = _released_entries(txn, escrow)
    if not released:
        raise NotFound("Receipt not found")
    stage = txn.milestone
    what = (stage.title or f"Stage {stage.index + 1}") if stage is not None else escrow.title
    lines = [
        ReceiptLine(
            f"Released to {e.account.owner.display_name if e.account.owner else 'the payee'}", e.amount
        )
        for e in released
    ]
    taken = _taken_from_hold(txn)
    returned = taken - sum(e.amount for e in released)
    if returned:
        lines.append(ReceiptLine(f"Refunded to {_buyer_name(escrow)}", returned))
    how = {
        TransactionKind.RELEASE: "Released",
        TransactionKind.SPLIT: "Split by the dispute's ruling",
        TransactionKind.CANCELLATION: "Split by the agreed cancellation",
    }[TransactionKind(txn.kind)]
    part = _release_part(txn)
    if part == "part":
        how = "Part of the stage released; the rest stayed held for it"
    elif part == "rest":
        how = "The rest of the stage released (a part was released before)"
    of_stage = [("Stage amount", format_money(stage.amount, currency))] if part and stage is not None else []
    return Receipt(
        number=receipt_number,
        posting=txn.pk,
        kind="release",
        title="Release receipt",
        at=txn.created_at,
        escrow=escrow,
        milestone=stage,
        currency=currency,
        lines=lines,
        total_label="Released",
        total=sum(e.amount for e in released),
        facts=[
            ("For", what),
            ("How", how),
            *of_stage,
            ("Paid by", _buyer_name(escrow)),
            ("Escrow", f"{escrow.title} ({escrow.public_id})"),
        ],
        note="Released money is in the payee's Milestone Escrow balance, from where it is paid out.",
    )


def _buyer_name(escrow: Escrow) -> str:
    return escrow.buyer.display_name if escrow.buyer is not None else "the buyer"


def under_dispute() -> Exists:
    """The escrow or one of its stages is under a live dispute, as an expression on escrows. A
    milestone escrow stays OPENED while one stage is frozen, yet a person sees it as Disputed
    and finds it under that filter (filters.EscrowFilter)."""
    return Exists(Dispute.objects.filter(escrow=OuterRef("pk"), status__in=ACTIVE_DISPUTE_STATUSES))


def with_dispute_state(qs: QuerySet[Escrow]) -> QuerySet[Escrow]:
    """Annotate `under_dispute` (above) for a list or a page to show."""
    return qs.annotate(under_dispute=under_dispute())


def status_shown(escrow: Escrow) -> tuple[str, str]:
    """The status a person sees, as its code and its words: Disputed while the escrow or one of
    its stages is under a live dispute, else the escrow's own. The dashboard, its Disputed filter
    (filters.EscrowFilter) and the escrow page agree. The escrow must be read with
    with_dispute_state (or escrow_get_for_user(..., dispute_state=True))."""
    live = getattr(escrow, "under_dispute", None)
    if live is None:
        raise ValueError("status_shown needs an escrow read with with_dispute_state")
    if live or escrow.status == EscrowStatus.DISPUTED:
        return EscrowStatus.DISPUTED, EscrowStatus.DISPUTED.label
    return escrow.status, escrow.get_status_display()
