"""Shared test helpers: building escrows through the services, and the ledger invariants of
SPEC §2 that must hold after every operation."""

from django.db.models import Count, Sum

from escrows import services
from escrows.ledger import TRACKED_KINDS
from escrows.models import (
    EXTERNAL_KINDS,
    AccountKind,
    Escrow,
    EscrowStatus,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
)
from escrows.services import EscrowTerms, MilestoneInput


def make_escrow(seller, parts=(30_000, 50_000, 20_000), currency="USD", buyer=None, **terms):
    terms.setdefault("title", "Website build")
    return services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(currency=currency, amount=sum(parts), **terms),
        milestones=[MilestoneInput(amount=p, title=f"Stage {i}") for i, p in enumerate(parts)],
    )


def fund(escrow, buyer, extra=0):
    """Top the buyer up by exactly what the escrow costs (plus `extra`) and fund it."""
    services.wallet_topup(customer=buyer, amount=escrow.total_charge + extra, currency=escrow.currency)
    return services.escrow_fund(escrow=escrow, by=buyer)


def milestones(escrow):
    return list(Milestone.objects.filter(escrow=escrow).order_by("index"))


def refresh(obj):
    # Protected FSM fields refuse refresh_from_db; read a fresh instance instead.
    return type(obj).objects.get(pk=obj.pk)


def ledger_fingerprint():
    """Everything a refused action must leave untouched."""
    return (
        LedgerTransaction.objects.count(),
        LedgerEntry.objects.count(),
        tuple(LedgerAccount.objects.order_by("pk").values_list("pk", "balance")),
        tuple(Escrow.objects.order_by("pk").values_list("pk", "status", "amount", "fee")),
        tuple(Milestone.objects.order_by("pk").values_list("pk", "status")),
    )


def assert_ledger_invariants():
    # Each transaction sums to zero.
    unbalanced = LedgerEntry.objects.values("transaction_id").annotate(total=Sum("amount")).exclude(total=0)
    assert list(unbalanced) == [], f"unbalanced transactions: {list(unbalanced)}"
    # Running balances equal the sum of entries; nothing but the outside world is negative.
    for account in LedgerAccount.objects.all():
        total = account.entries.aggregate(t=Sum("amount"))["t"] or 0
        if account.kind in TRACKED_KINDS:
            assert account.balance == total, f"{account} cached {account.balance} != entries {total}"
        if account.kind not in EXTERNAL_KINDS:
            assert total >= 0, f"{account} is negative: {total}"
    # Holds: open escrows hold exactly their unsettled milestones; closed ones hold nothing.
    for escrow in Escrow.objects.all():
        hold = LedgerAccount.objects.filter(escrow=escrow, kind=AccountKind.ESCROW_HOLD).first()
        held = (hold.entries.aggregate(t=Sum("amount"))["t"] or 0) if hold else 0
        if escrow.status in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
            if escrow.is_milestone:
                expected = (
                    escrow.milestones.exclude(
                        status__in=[MilestoneStatus.RELEASED, MilestoneStatus.REFUNDED]
                    ).aggregate(t=Sum("amount"))["t"]
                    or 0
                )
            else:
                expected = escrow.amount
            assert held == expected, f"{escrow} holds {held}, expected {expected}"
        else:
            assert held == 0, f"{escrow} ({escrow.status}) still holds {held}"
    # Nothing released twice: at most one RELEASE posting per milestone.
    doubles = (
        LedgerTransaction.objects.filter(kind="RELEASE", milestone__isnull=False)
        .values("milestone_id")
        .annotate(n=Count("id"))
        .exclude(n=1)
    )
    assert list(doubles) == [], f"released twice: {list(doubles)}"


def make_settling_escrow(seller, destination="bank_account_123", parts=(30_000, 70_000)):
    """A funded-later milestone escrow whose releases are paid out through the mock off-ramp;
    the destination tells the mock how to behave (see providers.MockOffRamp)."""
    return make_escrow(
        seller,
        parts=parts,
        title="Payout",
        settlement_method="OFF_RAMP_MOCK",
        settlement_destination=destination,
    )
