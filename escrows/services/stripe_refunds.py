"""Money going back to a card that paid through Stripe, and chargebacks (docs/stripe.md, "Refunds
and chargebacks").

A refund is recorded as a pending StripeRefund in the transaction whose ledger posting gave the
money back (_internal._give_back), or that gave back a card payment the escrow could not take
(card_payment_give_back); after the commit it is sent to Stripe with its own id as the
idempotency key, retried with the payouts' backoff and lease, and marked succeeded or, for good,
failed (staff are told). Stripe's charge.refunded confirms ours and reveals a refund made
outside the product (staff are told; no money changes). A chargeback freezes the money still
held for its escrow until Stripe closes it."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.types import Actor, User
from core.errors import InvalidState, NotFound

from .. import ledger, stripe_api, stripe_refunds
from ..models import (
    AccountKind,
    CardPayment,
    CardPaymentStatus,
    ChargebackStatus,
    Escrow,
    Event,
    StripeChargeback,
    StripeRefund,
    StripeRefundPurpose,
    StripeRefundStatus,
    TransactionKind,
)
from ._internal import _card_refund_scheduled, _enqueue_card_refund, _event, _lock_escrow
from .settlements import settlement_backoff, settlement_max_attempts

# -- sending a refund to Stripe ------------------------------------------------------------


@dataclass(frozen=True)
class CardRefundOutcome:
    status: str
    retry_in: timedelta | None = None


def card_refund_process(*, refund_id: int) -> CardRefundOutcome:
    """Send one pending refund to Stripe (or ask how one it already took went). Safe to run twice
    or to die halfway: every attempt carries the refund's idempotency key, and a run holds a
    lease so a second one leaves it alone."""
    with transaction.atomic(durable=True):
        refund = (
            StripeRefund.objects.select_for_update(of=("self",))
            .select_related("card_payment", "escrow")
            .get(pk=refund_id)
        )
        if refund.status != StripeRefundStatus.PENDING:
            return CardRefundOutcome(refund.status)
        now = timezone.now()
        if refund.next_attempt_at is not None and refund.next_attempt_at > now:
            # Another run holds the lease, or the next attempt is not due yet.
            return CardRefundOutcome(refund.status)
        refund.attempts += 1
        refund.next_attempt_at = now + timedelta(seconds=settings.ESCROW_SETTLEMENT_LEASE_SECONDS)
        refund.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    # The call to Stripe holds no row lock.
    if refund.provider_reference:
        answer = stripe_refunds.refund_retrieve(refund.provider_reference)
    else:
        answer = stripe_refunds.refund_create(refund, payment_intent=refund.card_payment.provider_reference)
    with transaction.atomic(durable=True):
        refund = StripeRefund.objects.select_for_update().get(pk=refund_id)
        if refund.status != StripeRefundStatus.PENDING:
            # charge.refunded told us first.
            return CardRefundOutcome(refund.status)
        data = answer.refund
        if data:
            refund.provider_reference = refund.provider_reference or str(data.get("id") or "")
            stripe_status = data.get("status")
            if stripe_status == "succeeded":
                _card_refund_succeeded(refund)
                return CardRefundOutcome(refund.status)
            if stripe_status in ("failed", "canceled"):
                why = data.get("failure_reason") or stripe_status
                refund.last_error = f"Stripe could not return the money to the card ({why})"
                _card_refund_failed(refund)
                return CardRefundOutcome(refund.status)
            # Stripe took it and is still returning the money (pending, requires_action): ask
            # again later; a refund on its way is no failed attempt.
            refund.attempts = max(refund.attempts - 1, 0)
            refund.last_error = ""
            return _card_refund_later(refund, settlement_backoff(1))
        refund.last_error = answer.error[:2000]
        if answer.retryable and refund.attempts < settlement_max_attempts():
            return _card_refund_later(refund, settlement_backoff(refund.attempts))
        _card_refund_failed(refund)
        return CardRefundOutcome(refund.status)


def _card_refund_later(refund: StripeRefund, delay: timedelta) -> CardRefundOutcome:
    refund.next_attempt_at = timezone.now() + delay
    refund.save(
        update_fields=["provider_reference", "attempts", "last_error", "next_attempt_at", "updated_at"]
    )
    return CardRefundOutcome(refund.status, retry_in=delay)


def _card_refund_succeeded(refund: StripeRefund) -> None:
    before = refund.status
    refund.succeed()
    refund.succeeded_at = timezone.now()
    refund.next_attempt_at = None
    refund.last_error = ""
    refund.save()
    _event(
        "card_refund.succeeded",
        by=None,
        escrow=refund.escrow,
        customer=refund.card_payment.payer,
        from_status=before,
        to_status=refund.status,
        details={"refund": refund.public_id, "amount": refund.amount, "reference": refund.provider_reference},
    )


def _card_refund_failed(refund: StripeRefund) -> None:
    """Given up: staff are told. The ledger already says the money went back to the card; it is
    owed to the buyer until staff send the refund again or settle it another way."""
    before = refund.status
    refund.fail()
    refund.next_attempt_at = None
    refund.save()
    _event(
        "card_refund.failed",
        by=None,
        escrow=refund.escrow,
        customer=refund.card_payment.payer,
        from_status=before,
        to_status=refund.status,
        details={"refund": refund.public_id, "amount": refund.amount, "error": refund.last_error},
    )


@transaction.atomic(durable=True)
def card_refund_retry(*, refund: StripeRefund, by: User) -> StripeRefund:
    """Staff send a failed refund again, with the same idempotency key (a refund Stripe made in
    the meantime is answered, never made twice)."""
    if not by.is_staff:
        raise NotFound("Refund not found")
    refund = (
        StripeRefund.objects.select_for_update(of=("self",))
        .select_related("card_payment", "escrow")
        .get(pk=refund.pk)
    )
    if refund.status != StripeRefundStatus.FAILED:
        raise InvalidState("Only a failed card refund can be sent again", code="card_refund_not_failed")
    refund.retry()
    refund.attempts = 0
    refund.last_error = ""
    refund.next_attempt_at = timezone.now()
    refund.save()
    _card_refund_scheduled(refund, by=by)
    return refund


def card_refunds_due(now: datetime) -> QuerySet[StripeRefund]:
    """Pending refunds whose attempt is due: never sent (a broker outage), a backoff run out, or a
    lease whose run died."""
    return StripeRefund.objects.filter(status=StripeRefundStatus.PENDING, next_attempt_at__lte=now)


# -- a card payment the escrow could not take, given back -----------------------------------


@transaction.atomic(durable=True)
def card_payment_give_back(*, card_payment: CardPayment, by: Actor) -> StripeRefund:
    """Give a card payment set aside as not applied back to the card, whole (staff, or the
    setting-aside itself: card_payments._card_payment_succeeded)."""
    escrow = _lock_escrow(card_payment.escrow)
    card_payment = CardPayment.objects.select_for_update().get(pk=card_payment.pk)
    return _card_payment_give_back(card_payment, escrow, by=by)


def _card_payment_give_back(card_payment: CardPayment, escrow: Escrow, *, by: Actor) -> StripeRefund:
    """Inside the transaction that holds the escrow's lock: the card payment is REFUNDED, its
    money in from the card network and straight back out (one posting, the fee too: the escrow
    never took it), and a pending Stripe refund of the whole charge, sent after the commit."""
    if card_payment.status != CardPaymentStatus.NOT_APPLIED:
        raise InvalidState(
            "Only a card payment the escrow could not take can be given back",
            code="card_payment_not_set_aside",
        )
    before = card_payment.status
    card_payment.give_back()
    card_payment.save(update_fields=["status", "updated_at"])
    txn = ledger.post(
        TransactionKind.CARD_GIVEN_BACK,
        card_payment.currency,
        [
            (
                ledger.platform_account(AccountKind.EXTERNAL_FUNDING, card_payment.currency),
                -card_payment.total,
            ),
            (
                ledger.platform_account(AccountKind.EXTERNAL_REFUNDS, card_payment.currency),
                card_payment.total,
            ),
        ],
        memo=card_payment.public_id,
    )
    reason = _not_applied_reason(card_payment)
    refund = StripeRefund.objects.create(
        card_payment=card_payment,
        escrow=escrow,
        amount=card_payment.total,
        currency=card_payment.currency,
        purpose=StripeRefundPurpose.NOT_APPLIED,
        reason=reason,
        ledger_transaction=txn,
        next_attempt_at=timezone.now(),
    )
    _event(
        "card_payment.given_back",
        by=by,
        escrow=escrow,
        customer=card_payment.payer,
        from_status=before,
        to_status=card_payment.status,
        details={
            "payment": card_payment.public_id,
            "refund": refund.public_id,
            "amount": refund.amount,
            "reason": reason,
        },
    )
    _card_refund_scheduled(refund, by=by)
    return refund


def _not_applied_reason(card_payment: CardPayment) -> str:
    """Why the payment was set aside, as recorded when it was (card_payment.not_applied)."""
    event = (
        Event.objects.filter(kind="card_payment.not_applied", details__payment=card_payment.public_id)
        .order_by("-id")
        .first()
    )
    reason = (event.details or {}).get("reason") if event is not None else None
    return str(reason or "The escrow could not take this payment")[:300]


# -- Stripe's events ------------------------------------------------------------------------


def _card_payment_of(obj: dict[str, Any]) -> CardPayment | None:
    """The card payment a charge or a dispute names: by its PaymentIntent, else by its charge."""
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    charge = obj.get("charge") if obj.get("object") != "charge" else obj.get("id")
    if isinstance(charge, dict):
        charge = charge.get("id")
    if intent:
        found = CardPayment.objects.filter(provider_reference=str(intent)).first()
        if found is not None:
            return found
    if charge:
        return CardPayment.objects.filter(charge_reference=str(charge)).first()
    return None


def _lock_card_payment(obj: dict[str, Any]) -> tuple[CardPayment, Escrow] | None:
    card_payment = _card_payment_of(obj)
    if card_payment is None:
        return None
    escrow = _lock_escrow(card_payment.escrow)
    card_payment = CardPayment.objects.select_for_update().get(pk=card_payment.pk)
    charge = obj.get("id") if obj.get("object") == "charge" else obj.get("charge")
    if isinstance(charge, str) and charge and not card_payment.charge_reference:
        card_payment.charge_reference = charge
        card_payment.save(update_fields=["charge_reference", "updated_at"])
    return card_payment, escrow


def apply_charge_refunded(charge: dict[str, Any]) -> CardPayment | None:
    """Stripe's charge.refunded: each refund of ours it lists as succeeded is marked so (once,
    whatever order the events come in); money Stripe gave back beyond every refund we asked for
    (one made in Stripe's dashboard) is told to staff once, and changes no money here."""
    found = _lock_card_payment(charge)
    if found is None:
        return None
    card_payment, escrow = found
    ours = list(StripeRefund.objects.select_for_update().filter(card_payment=card_payment).order_by("pk"))
    by_reference = {r.provider_reference: r for r in ours if r.provider_reference}
    by_id = {r.public_id: r for r in ours}
    listed = (charge.get("refunds") or {}).get("data")
    if listed is None:
        # Stripe's Charge does not list its refunds (newer API versions): ours that Stripe took
        # are asked about at once instead.
        for refund in ours:
            if refund.status == StripeRefundStatus.PENDING and refund.provider_reference:
                refund.next_attempt_at = timezone.now()
                refund.save(update_fields=["next_attempt_at", "updated_at"])
                transaction.on_commit(partial(_enqueue_card_refund, refund.pk), robust=True)
    for data in listed or []:
        named = str((data.get("metadata") or {}).get("refund") or "")
        mine = by_reference.get(str(data.get("id") or "")) or by_id.get(named)
        if mine is None or data.get("status") != "succeeded" or mine.status == StripeRefundStatus.SUCCEEDED:
            continue
        mine.provider_reference = mine.provider_reference or str(data.get("id"))
        _card_refund_succeeded(mine)
    refunded = _ours(int(charge.get("amount_refunded") or 0), card_payment)
    asked = sum(r.amount for r in ours if r.status != StripeRefundStatus.FAILED)
    unexplained = refunded - asked
    # Told once per amount: a repeat, or an older event arriving late, finds it told already.
    told = max(
        (
            int((e.details or {}).get("amount") or 0)
            for e in Event.objects.filter(
                kind="card_refund.unrecognised", details__payment=card_payment.public_id
            ).only("details")
        ),
        default=0,
    )
    if unexplained > told:
        _event(
            "card_refund.unrecognised",
            by=None,
            escrow=escrow,
            customer=card_payment.payer,
            details={
                "payment": card_payment.public_id,
                "charge": card_payment.charge_reference,
                "amount": unexplained,
                "amountRefunded": refunded,
            },
        )
    return card_payment


def apply_dispute_created(dispute: dict[str, Any]) -> StripeChargeback | None:
    """Stripe's charge.dispute.created: the buyer's bank disputes the card payment (a
    chargeback). The money still held for the escrow it funded is frozen until Stripe closes the
    dispute; staff and both parties are told."""
    found = _lock_card_payment(dispute)
    if found is None:
        return None
    card_payment, escrow = found
    chargeback, created = StripeChargeback.objects.select_for_update().get_or_create(
        provider_reference=str(dispute.get("id")),
        defaults={
            "card_payment": card_payment,
            "escrow": escrow,
            "amount": _ours(int(dispute.get("amount") or 0), card_payment),
            "currency": card_payment.currency,
            "reason": str(dispute.get("reason") or "")[:100],
        },
    )
    if not created:
        # Its close came first, or a repeat under another event id: nothing more to freeze.
        return chargeback
    if card_payment.status == CardPaymentStatus.SUCCEEDED and not escrow.frozen_by_chargeback:
        escrow.frozen_by_chargeback = True
        escrow.save(update_fields=["frozen_by_chargeback", "updated_at"])
    _event(
        "chargeback.opened",
        by=None,
        escrow=escrow,
        customer=card_payment.payer,
        to_status=chargeback.status,
        details=_chargeback_details(chargeback, card_payment, escrow),
    )
    return chargeback


def apply_dispute_closed(dispute: dict[str, Any]) -> StripeChargeback | None:
    """Stripe's charge.dispute.closed: won (or an inquiry closed) unfreezes the escrow; lost too,
    and the platform bore it: the card network gave the amount back to the buyer's card out of
    the platform's Stripe balance, while the escrow's money stays as its ledger says (staff
    decide what, if anything, to recover). Staff and both parties are told."""
    found = _lock_card_payment(dispute)
    if found is None:
        return None
    card_payment, escrow = found
    chargeback = (
        StripeChargeback.objects.select_for_update().filter(provider_reference=str(dispute.get("id"))).first()
    )
    if chargeback is None:
        # The close came before the opening: record it, closed, and freeze nothing.
        chargeback = StripeChargeback.objects.create(
            provider_reference=str(dispute.get("id")),
            card_payment=card_payment,
            escrow=escrow,
            amount=_ours(int(dispute.get("amount") or 0), card_payment),
            currency=card_payment.currency,
            reason=str(dispute.get("reason") or "")[:100],
        )
    if chargeback.status != ChargebackStatus.OPEN:
        return chargeback
    before = chargeback.status
    if dispute.get("status") == "lost":
        chargeback.lose()
    else:
        chargeback.win()
    chargeback.closed_at = timezone.now()
    chargeback.save(update_fields=["status", "closed_at"])
    still_open = StripeChargeback.objects.filter(escrow=escrow, status=ChargebackStatus.OPEN).exists()
    if escrow.frozen_by_chargeback and not still_open:
        escrow.frozen_by_chargeback = False
        escrow.save(update_fields=["frozen_by_chargeback", "updated_at"])
    _event(
        "chargeback.closed",
        by=None,
        escrow=escrow,
        customer=card_payment.payer,
        from_status=before,
        to_status=chargeback.status,
        details=_chargeback_details(chargeback, card_payment, escrow),
    )
    return chargeback


def _chargeback_details(
    chargeback: StripeChargeback, card_payment: CardPayment, escrow: Escrow
) -> dict[str, Any]:
    return {
        "chargeback": chargeback.provider_reference,
        "payment": card_payment.public_id,
        "amount": chargeback.amount,
        "reason": chargeback.reason,
        "outcome": chargeback.status,
        "frozen": escrow.frozen_by_chargeback,
    }


def _ours(amount: int, card_payment: CardPayment) -> int:
    """Stripe's amount of this card payment's charge in our minor units (its currency is always
    one we keep)."""
    return stripe_api.our_amount(amount, card_payment.currency) or 0
