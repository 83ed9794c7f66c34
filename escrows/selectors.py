"""Reads, scoped to the viewer. Anything the viewer may not see is NotFound, never Forbidden."""

from dataclasses import dataclass
from typing import Any

from django.db.models import BigIntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .errors import NotFound
from .models import (
    AccountKind,
    Escrow,
    Event,
    LedgerAccount,
    LedgerEntry,
    Milestone,
    MilestoneStatus,
    Settlement,
    TransactionKind,
)


def escrows_for_user(user: Any, *, role: str | None = None) -> QuerySet[Escrow]:
    qs = Escrow.objects.select_related("seller", "buyer")
    if role == "selling":
        qs = qs.filter(seller=user)
    elif role == "buying":
        qs = qs.filter(buyer=user)
    else:
        qs = qs.filter(Q(seller=user) | Q(buyer=user))
    return qs.order_by("-created_at", "-id")


def escrow_get_for_user(user: Any, public_id: str) -> Escrow:
    try:
        escrow = Escrow.objects.select_related("seller", "buyer").get(public_id=public_id)
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
    """The milestone with its escrow (seller, buyer) in one query; a miss falls back to the two
    lookups so the error says which of the two was not found."""
    milestone = (
        Milestone.objects.select_related("escrow__seller", "escrow__buyer")
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
        .annotate(total=Sum("amount"))
    )
    by_kind = {r["transaction__kind"]: r["total"] for r in rows}
    funded = by_kind.get(TransactionKind.FUNDING, 0)
    released = -by_kind.get(TransactionKind.RELEASE, 0)
    refunded = -by_kind.get(TransactionKind.REFUND, 0)
    return LedgerSummary(
        funded=funded,
        fee=escrow.fee if funded else 0,
        released=released,
        refunded=refunded,
        held=funded - released - refunded,
    )


def released_amount(escrow: Escrow) -> int:
    return escrow.milestones.filter(status=MilestoneStatus.RELEASED).aggregate(t=Sum("amount"))["t"] or 0


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
    """Annotate `released_total` (minor units) so a list shows progress bars in one query."""
    released = (
        Milestone.objects.filter(escrow=OuterRef("pk"), status=MilestoneStatus.RELEASED)
        .values("escrow")
        .annotate(t=Sum("amount"))
        .values("t")
    )
    return qs.annotate(released_total=Coalesce(Subquery(released), Value(0), output_field=BigIntegerField()))


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
