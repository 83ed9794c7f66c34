"""Shared test helpers: building escrows through the services, and the ledger invariants of
the product's ledger rules that must hold after every operation."""

from contextlib import contextmanager
from unittest import mock

from django.db.models import F, Sum

from escrows import services
from escrows.ledger import TRACKED_KINDS
from escrows.models import (
    EXTERNAL_KINDS,
    SETTLED_MILESTONE_STATUSES,
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


def statuses(escrow):
    return [m.status for m in milestones(escrow)]


def make_standard(seller, amount=50_000):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=amount, settlement_type="STANDARD"),
        milestones=[],
    )


def _dispute(milestone):
    """Freeze one milestone as a dispute would, without going through the dispute service."""
    Milestone.objects.filter(pk=milestone.pk).update(status=MilestoneStatus.DISPUTED)


@contextmanager
def at(moment):
    """The clock reads `moment` for everything inside (services, auto_now fields)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


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
        tuple(Milestone.objects.order_by("pk").values_list("pk", "status", "released_part")),
    )


def assert_ledger_invariants():
    # Each transaction sums to zero.
    unbalanced = LedgerEntry.objects.values("transaction_id").annotate(total=Sum("amount")).exclude(total=0)
    assert list(unbalanced) == [], f"unbalanced transactions: {list(unbalanced)}"
    # Running balances equal the sum of entries; nothing but the outside world is negative.
    # (A few grouped queries, not one per row: state-machine tests call this after every step.)
    sums = dict(
        LedgerEntry.objects.order_by()
        .values("account_id")
        .annotate(t=Sum("amount"))
        .values_list("account_id", "t")
    )
    for account in LedgerAccount.objects.all():
        total = sums.get(account.pk, 0)
        if account.kind in TRACKED_KINDS:
            assert account.balance == total, f"{account} cached {account.balance} != entries {total}"
        if account.kind not in EXTERNAL_KINDS:
            assert total >= 0, f"{account} is negative: {total}"
    # Holds: open escrows hold exactly what is left of their unsettled milestones (a part the buyer
    # released is not held); closed ones hold nothing.
    held_by_escrow = {
        escrow_id: sums.get(pk, 0)
        for escrow_id, pk in LedgerAccount.objects.filter(kind=AccountKind.ESCROW_HOLD).values_list(
            "escrow_id", "pk"
        )
    }
    unsettled = dict(
        Milestone.objects.exclude(status__in=sorted(SETTLED_MILESTONE_STATUSES))
        .order_by()
        .values("escrow_id")
        .annotate(t=Sum(F("amount") - F("released_part")))
        .values_list("escrow_id", "t")
    )
    for escrow in Escrow.objects.all():
        held = held_by_escrow.get(escrow.pk, 0)
        if escrow.status in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
            expected = unsettled.get(escrow.pk, 0) if escrow.is_milestone else escrow.amount
            assert held == expected, f"{escrow} holds {held}, expected {expected}"
        else:
            assert held == 0, f"{escrow} ({escrow.status}) still holds {held}"
    # Nothing released twice, never more than a stage: a stage's RELEASE postings take at most its
    # amount out of the hold, and while it is unsettled exactly the part recorded as released.
    released = dict(
        LedgerEntry.objects.filter(
            transaction__kind="RELEASE",
            transaction__milestone__isnull=False,
            account__kind=AccountKind.ESCROW_HOLD,
        )
        .order_by()
        .values("transaction__milestone_id")
        .annotate(t=Sum("amount"))
        .values_list("transaction__milestone_id", "t")
    )
    for m in Milestone.objects.filter(pk__in=released).values("pk", "amount", "released_part", "status"):
        out = -released[m["pk"]]
        assert out <= m["amount"], f"milestone {m['pk']} released {out} of {m['amount']}"
        if m["status"] not in SETTLED_MILESTONE_STATUSES:
            assert out == m["released_part"], f"milestone {m['pk']} released {out} of {m['released_part']}"


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


def clear_ledger_before_flush():
    """For tests on a real (flushed, not rolled back) database. PostgreSQL flushes with
    TRUNCATE, which the append-only ledger triggers allow; SQLite DELETEs row by row, which
    they refuse. So on SQLite the ledger rows are removed here, each delete guard lifted only
    for that statement and put back at once."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for table in ("escrows_ledgerentry", "escrows_ledgertransaction"):
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                "AND sql LIKE '%%BEFORE DELETE%%'",
                [table],
            )
            guards = cursor.fetchall()
            for name, _ in guards:
                cursor.execute(f'DROP TRIGGER "{name}"')
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            for _, sql in guards:
                cursor.execute(sql)


def mailed_code(email):
    """The code in the last email sent to `email` to confirm that address (its subject ends
    with it), as a person would copy it from their mailbox."""
    from django.core import mail

    sent = [m for m in mail.outbox if m.to == [email] and "code to confirm" in m.subject]
    assert sent, f"no confirmation code was emailed to {email}"
    return sent[-1].subject.rsplit(": ", 1)[1].strip()


def totp_code(secret, at=None):
    """The 6-digit code an authenticator app shows for `secret` now (or at `at`, a Unix time),
    computed by django-allauth's own TOTP functions."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    counter = int(time.time() if at is None else at) // app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


def refusal(error_class, call):
    """What a refused call says: its code, the field it names, its message and the words a
    person reads."""
    import pytest

    with pytest.raises(error_class) as caught:
        call()
    exc = caught.value
    return exc.code, exc.field, exc.message, exc.for_person


def refused_proposal(escrow, by, changes, error_class=None, **kwargs):
    """The refusal of a change order proposed with these changes (see `refusal`)."""
    from core.errors import InvalidRequest

    def propose():
        return services.change_order_propose(escrow=escrow, by=by, changes=changes, **kwargs)

    return refusal(error_class or InvalidRequest, propose)


def drafted(escrow, by, changes):
    """The rows a change order would record (the review step: the same checks, nothing written)."""
    return services.change_order_check(escrow=escrow, by=by, changes=changes).rows


def change_order_postings(escrow):
    """Each change-order posting as (memo, {account: amount}), accounts named by kind and owner."""
    from escrows.models import LedgerTransaction, TransactionKind

    out = []
    for txn in LedgerTransaction.objects.filter(escrow=escrow, kind=TransactionKind.CHANGE_ORDER).order_by(
        "pk"
    ):
        legs = {}
        for e in txn.entries.select_related("account"):
            name = e.account.kind if e.account.owner_id is None else f"{e.account.kind}:{e.account.owner_id}"
            legs[name] = e.amount
        out.append((txn.memo, legs))
    return out
