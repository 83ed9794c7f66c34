"""Double-entry ledger: every movement of money is one transaction whose entries sum to zero.
Entries are append-only. Only call `post` inside the transaction of the state change."""

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Subquery, Sum
from django.utils import timezone

from core.errors import InsufficientFunds

from . import hot
from .models import (
    EXTERNAL_KINDS,
    AccountKind,
    Escrow,
    LedgerAccount,
    LedgerTransaction,
    Milestone,
    Settlement,
)
from .money import format_money

# Accounts whose running balance is kept on the row (so overdraft checks are one locked row).
# Platform and external accounts are touched by every funding; keeping their balance on one
# row would serialise all fundings, so their balance is always the sum of their entries.
TRACKED_KINDS = {AccountKind.CUSTOMER_MAIN, AccountKind.ESCROW_HOLD, AccountKind.PAYOUT_CLEARING}


class UnbalancedTransaction(Exception):
    """A programming error: a posting whose entries do not sum to zero."""


def _account(kind: str, currency: str, owner: Any = None) -> LedgerAccount:
    found = (
        hot.PLATFORM_ACCOUNT.first(kind, currency)
        if owner is None
        else hot.OWNED_ACCOUNT.first(kind, currency, owner.pk)
    )
    if found is not None:
        return found
    account, _ = LedgerAccount.objects.get_or_create(kind=kind, currency=currency, owner=owner, escrow=None)
    return account


def customer_account(user: Any, currency: str, *, known_id: int | None = None) -> LedgerAccount:
    """`known_id`: the account's id, already read with the escrow (customer_account_id), saves
    the lookup round trip; posting needs only its id, kind and currency."""
    if known_id is not None:
        account = LedgerAccount(pk=known_id, kind=AccountKind.CUSTOMER_MAIN, currency=currency, owner=user)
        account._state.adding = False
        return account
    return _account(AccountKind.CUSTOMER_MAIN, currency, user)


def customer_account_id(owner: Any, currency: Any) -> Subquery:
    """The id of a customer's main account, as a subquery to annotate another query with
    (None when the account does not exist yet: customer_account then creates it)."""
    return Subquery(
        LedgerAccount.objects.filter(
            kind=AccountKind.CUSTOMER_MAIN, currency=currency, owner=owner, escrow__isnull=True
        ).values("pk")[:1]
    )


def clearing_account(user: Any, currency: str) -> LedgerAccount:
    return _account(AccountKind.PAYOUT_CLEARING, currency, user)


def platform_account(kind: str, currency: str) -> LedgerAccount:
    return _account(kind, currency, None)


def hold_account(escrow: Escrow) -> LedgerAccount:
    try:
        return escrow.hold_account
    except LedgerAccount.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return hot.INSERT_ACCOUNT.create(
                LedgerAccount(kind=AccountKind.ESCROW_HOLD, currency=escrow.currency, escrow=escrow)
            )
    except IntegrityError:
        return LedgerAccount.objects.get(escrow=escrow)


def lock_account(account: LedgerAccount) -> LedgerAccount:
    locked = hot.LOCK_ACCOUNT.first(account.pk)
    if locked is None:
        raise LedgerAccount.DoesNotExist(f"ledger account {account.pk}")
    return locked


def post(
    kind: str,
    currency: str,
    entries: Sequence[tuple[LedgerAccount, int]],
    *,
    escrow: Escrow | None = None,
    milestone: Milestone | None = None,
    settlement: Settlement | None = None,
    memo: str = "",
) -> LedgerTransaction:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.post must run inside the transaction of its state change")
    if sum(amount for _, amount in entries) != 0 or len(entries) < 2:
        raise UnbalancedTransaction(f"{kind} entries do not sum to zero: {entries}")
    if any(account.currency != currency for account, _ in entries):
        raise UnbalancedTransaction(f"{kind} mixes currencies")
    txn = LedgerTransaction(
        kind=kind,
        currency=currency,
        escrow=escrow,
        milestone=milestone,
        settlement=settlement,
        memo=memo,
        created_at=timezone.now(),
    )
    legs = [(account, amount) for account, amount in entries if amount]
    deltas: dict[int, int] = {}
    for account, amount in legs:
        if account.kind in TRACKED_KINDS:
            deltas[account.pk] = deltas.get(account.pk, 0) + amount
    # In primary-key order, so two postings touching the same accounts never deadlock.
    tracked = sorted((pk, amount) for pk, amount in deltas.items() if amount)
    hot.post_ledger(txn, legs, tracked)
    return txn


def require_funds(account: LedgerAccount, needed: int, *, what: str = "wallet balance") -> None:
    """Lock the account row and refuse if it cannot cover `needed`."""
    locked = lock_account(account)
    if locked.balance < needed:
        raise InsufficientFunds(
            f"Insufficient {what}: {format_money(needed, account.currency)} needed, "
            f"{format_money(locked.balance, account.currency)} available"
        )


def balance_of(account: LedgerAccount) -> int:
    """The truth: the sum of the account's entries."""
    return account.entries.aggregate(total=Sum("amount"))["total"] or 0


def cached_balance(account: LedgerAccount) -> int:
    if account.kind in EXTERNAL_KINDS or account.kind == AccountKind.PLATFORM_FEES:
        return balance_of(account)
    return LedgerAccount.objects.values_list("balance", flat=True).get(pk=account.pk)
