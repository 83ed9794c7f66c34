"""Payouts through the off-ramp, or as Stripe transfers to a person's connected account while
Stripe Connect is on: withdrawals, paying a settlement out with retries and a lease, retrying a
failed one, giving up on a stuck one."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.types import User
from core.errors import (
    InvalidRequest,
    InvalidState,
    NotFound,
)

from .. import ledger, stripe_connect
from ..models import (
    AccountKind,
    Event,
    Settlement,
    SettlementMethod,
    SettlementStatus,
    TransactionKind,
)
from ..money import check_minor, normalize_currency
from ..providers import OffRamp, PayoutHeldUp, PayoutResult, off_ramp, payout_network
from ._internal import _enqueue_settlement, _event, _refuse_if_blocked, _settlement_schedule
from .connect import CONNECT_TO_WITHDRAW, connect_transfer_destination


@transaction.atomic(durable=True)
def wallet_withdraw(*, customer: User, amount: int, currency: str, destination: str) -> Settlement:
    """The customer asks for part of their balance to be paid out to a destination; while Stripe
    Connect is on, always to their connected account (the destination asked for is not read)."""
    _refuse_if_blocked(customer)
    currency = normalize_currency(currency)
    check_minor(amount, currency)
    if stripe_connect.enabled():
        account_id = connect_transfer_destination(customer, currency)
        if not account_id:
            raise InvalidState(
                "A connected Stripe account with payouts enabled is required to withdraw",
                code="stripe_account_required",
                for_person=CONNECT_TO_WITHDRAW,
            )
        return _settlement_schedule(
            customer=customer,
            amount=amount,
            currency=currency,
            method=SettlementMethod.STRIPE_TRANSFER,
            destination=account_id,
            escrow=None,
            milestone=None,
            by=customer,
        )
    destination = (destination or "").strip()
    if not destination or len(destination) > 200:
        raise InvalidRequest("destination is required (at most 200 characters)", field="destination")
    return _settlement_schedule(
        customer=customer,
        amount=amount,
        currency=currency,
        method=SettlementMethod.OFF_RAMP_MOCK,
        destination=destination,
        escrow=None,
        milestone=None,
        by=customer,
    )


# Read once for callers that only need the default; the services read settings at call time.
SETTLEMENT_MAX_ATTEMPTS = settings.ESCROW_SETTLEMENT_MAX_ATTEMPTS


def settlement_max_attempts() -> int:
    return settings.ESCROW_SETTLEMENT_MAX_ATTEMPTS


def settlement_backoff(attempts: int) -> timedelta:
    """Exponential: base, 2x base, 4x base ... after attempts 1, 2, 3 ..., capped."""
    seconds = settings.ESCROW_SETTLEMENT_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.ESCROW_SETTLEMENT_BACKOFF_MAX_SECONDS))


def _payout_network(method: str) -> OffRamp:
    """A Stripe transfer goes through Stripe (providers.payout_network), the rest through the
    configured off-ramp."""
    return payout_network(method) if method == SettlementMethod.STRIPE_TRANSFER else off_ramp()


@dataclass(frozen=True)
class SettlementOutcome:
    status: str
    retry_in: timedelta | None = None


def settlement_process(*, settlement_id: int) -> SettlementOutcome:
    """Pay a settlement out through its method's network (_payout_network). Safe to run
    twice or to die halfway: the network is called with the settlement's id as its idempotency
    key, so a repeat returns the same payout."""
    with transaction.atomic(durable=True):
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        if settlement.status in (SettlementStatus.PAID, SettlementStatus.FAILED):
            return SettlementOutcome(settlement.status)
        now = timezone.now()
        if settlement.status == SettlementStatus.PROCESSING and (
            settlement.next_attempt_at is not None and settlement.next_attempt_at > now
        ):
            # Another run holds the lease (a duplicate or redelivered task): leave it to that run;
            # if that run died, the process_due sweep picks the settlement up when the lease ends.
            return SettlementOutcome(settlement.status)
        settlement.start()
        settlement.attempts += 1
        # A lease: if this process dies mid-payout, the timer picks the settlement up again.
        settlement.next_attempt_at = now + timedelta(seconds=settings.ESCROW_SETTLEMENT_LEASE_SECONDS)
        settlement.save()
    # The outside call runs outside any transaction: no row lock is held while we wait on it.
    try:
        result = _payout_network(settlement.method).payout(
            idempotency_key=settlement.public_id,
            amount=settlement.amount,
            currency=settlement.currency,
            destination=settlement.destination,
        )
    except Exception as exc:  # a network error is one more failed attempt, not a stuck payout
        result = PayoutResult(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=True)
    with transaction.atomic(durable=True):
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        if settlement.status != SettlementStatus.PROCESSING:
            return SettlementOutcome(settlement.status)
        if result.ok:
            settlement.mark_paid()
            settlement.provider_reference = result.reference
            settlement.paid_at = timezone.now()
            settlement.last_error = ""
            settlement.save()
            ledger.post(
                TransactionKind.PAYOUT_PAID,
                settlement.currency,
                [
                    (ledger.clearing_account(settlement.customer, settlement.currency), -settlement.amount),
                    (
                        ledger.platform_account(AccountKind.EXTERNAL_PAYOUTS, settlement.currency),
                        settlement.amount,
                    ),
                ],
                escrow=settlement.escrow,
                settlement=settlement,
            )
            _event(
                "settlement.paid",
                by=None,
                customer=settlement.customer,
                escrow=settlement.escrow,
                settlement=settlement,
                from_status=SettlementStatus.PROCESSING,
                to_status=settlement.status,
                details={"reference": result.reference},
            )
            return SettlementOutcome(settlement.status)
        settlement.last_error = result.error[:2000]
        if isinstance(result, PayoutHeldUp):
            _settlement_held_up(settlement)
        if result.retryable and settlement.attempts < settlement_max_attempts():
            delay = settlement_backoff(settlement.attempts)
            settlement.reschedule()
            settlement.next_attempt_at = timezone.now() + delay
            settlement.save()
            return SettlementOutcome(settlement.status, retry_in=delay)
        _settlement_fail(settlement)
        return SettlementOutcome(settlement.status)


def _settlement_held_up(settlement: Settlement) -> None:
    """Staff are told, once per settlement, of a payout only they can clear (the platform's own
    balance at the network cannot cover it); it is retried meanwhile."""
    if Event.objects.filter(settlement=settlement, kind="settlement.held_up").exists():
        return
    _event(
        "settlement.held_up",
        by=None,
        customer=settlement.customer,
        escrow=settlement.escrow,
        settlement=settlement,
        details={"error": settlement.last_error},
    )


def _settlement_fail(settlement: Settlement) -> None:
    """Give the reserved money back to the customer's balance."""
    before = settlement.status
    settlement.fail()
    settlement.next_attempt_at = None
    settlement.save()
    ledger.post(
        TransactionKind.PAYOUT_RETURN,
        settlement.currency,
        [
            (ledger.clearing_account(settlement.customer, settlement.currency), -settlement.amount),
            (ledger.customer_account(settlement.customer, settlement.currency), settlement.amount),
        ],
        escrow=settlement.escrow,
        settlement=settlement,
    )
    _event(
        "settlement.failed",
        by=None,
        customer=settlement.customer,
        escrow=settlement.escrow,
        settlement=settlement,
        from_status=before,
        to_status=settlement.status,
        details={"error": settlement.last_error},
    )


@transaction.atomic(durable=True)
def settlement_retry(*, settlement: Settlement, by: User) -> Settlement:
    """Staff (or the owner) retries a FAILED settlement: reserve again and enqueue."""
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if not by.is_staff and by.pk != settlement.customer_id:
        raise NotFound("Settlement not found")
    if settlement.status != SettlementStatus.FAILED:
        raise InvalidState("Only a failed settlement can be retried")
    main = ledger.customer_account(settlement.customer, settlement.currency)
    ledger.require_funds(main, settlement.amount)
    ledger.post(
        TransactionKind.PAYOUT_RESERVE,
        settlement.currency,
        [
            (main, -settlement.amount),
            (ledger.clearing_account(settlement.customer, settlement.currency), settlement.amount),
        ],
        escrow=settlement.escrow,
        settlement=settlement,
    )
    settlement.retry()
    settlement.attempts = 0
    settlement.next_attempt_at = timezone.now()
    settlement.save()
    _event(
        "settlement.retried",
        by=by,
        customer=settlement.customer,
        settlement=settlement,
        from_status=SettlementStatus.FAILED,
        to_status=settlement.status,
    )
    transaction.on_commit(lambda: _enqueue_settlement(settlement.pk), robust=True)
    return settlement


@transaction.atomic(durable=True)
def settlement_give_up_stuck(*, settlement: Settlement) -> Settlement | None:
    """Timer: a settlement whose retries are exhausted but was left SCHEDULED is failed."""
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if settlement.status != SettlementStatus.SCHEDULED or settlement.attempts < settlement_max_attempts():
        return None
    _settlement_fail(settlement)
    return settlement
