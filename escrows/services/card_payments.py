"""Card payments through Stripe: a payment starts as a PaymentIntent the buyer's browser confirms,
and funds the escrow once, when Stripe says it succeeded: by its webhook or when we ask,
whichever comes first; the other then changes nothing. A decline leaves the escrow unpaid and
tells the buyer why (docs/stripe.md)."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.types import User
from core.errors import InvalidState

from .. import ledger, stripe_api
from ..models import (
    AccountKind,
    CardPayment,
    CardPaymentStatus,
    Escrow,
    EscrowStatus,
    FundingSource,
)
from ._internal import _event, _lock_escrow
from .funding import (
    _funding_posted,
    _payable_milestones,
    _payment_recorded,
    _refuse_changed_terms,
    _refuse_unpayable,
)

OPEN_STATUSES = (CardPaymentStatus.PENDING, CardPaymentStatus.DECLINED)


@dataclass(frozen=True)
class CardPaymentStarted:
    card_payment: CardPayment
    # What Stripe's library in the buyer's browser confirms the payment with.
    client_secret: str


def card_payment_start(
    *, escrow: Escrow, by: User, terms_version: int | None = None, expected_total: int | None = None
) -> CardPaymentStarted:
    """The buyer starts paying by card: the escrow's amount + fee as a Stripe PaymentIntent.
    Starting again (a reload, a retry after a timeout, another card after a decline) continues
    the same payment while the terms are the same; nothing is charged until the browser
    confirms it."""
    if not stripe_api.enabled():
        raise InvalidState("Card payments through Stripe are not configured", code="card_payments_off")
    stripe_api.check_currency(escrow.currency)
    card_payment = _card_payment_open(
        escrow=escrow, by=by, terms_version=terms_version, expected_total=expected_total
    )
    # The network calls hold no lock: the record is committed first, and its id is the
    # idempotency key, so a crash or a timeout here is repaired by starting again.
    if card_payment.provider_reference:
        intent = stripe_api.payment_intent_retrieve(card_payment.provider_reference)
    else:
        intent = stripe_api.payment_intent_create(card_payment, escrow)
        CardPayment.objects.filter(pk=card_payment.pk, provider_reference="").update(
            provider_reference=intent["id"]
        )
        card_payment.provider_reference = intent["id"]
    return CardPaymentStarted(card_payment=card_payment, client_secret=intent.get("client_secret") or "")


@transaction.atomic(durable=True)
def _card_payment_open(
    *, escrow: Escrow, by: User, terms_version: int | None, expected_total: int | None
) -> CardPayment:
    escrow = _lock_escrow(escrow)
    _refuse_unpayable(escrow, by)
    _refuse_changed_terms(escrow, terms_version=terms_version, expected_total=expected_total)
    _payable_milestones(escrow)
    stripe_api.stripe_amount(escrow.total_charge, escrow.currency)
    current = CardPayment.objects.filter(
        escrow=escrow,
        payer=by,
        status__in=OPEN_STATUSES,
        terms_version=escrow.terms_version,
        amount=escrow.amount,
        fee=escrow.fee,
    ).first()
    if current is not None:
        return current
    card_payment = CardPayment.objects.create(
        escrow=escrow,
        payer=by,
        amount=escrow.amount,
        fee=escrow.fee,
        currency=escrow.currency,
        terms_version=escrow.terms_version,
    )
    _event(
        "card_payment.started",
        by=by,
        escrow=escrow,
        customer=by,
        to_status=card_payment.status,
        details={"payment": card_payment.public_id, "amount": card_payment.total},
    )
    return card_payment


def card_payment_refresh(*, card_payment: CardPayment) -> CardPayment:
    """Ask Stripe how the payment went (the buyer is back from confirming it) and apply the
    answer, as its webhook would: a success funds the escrow unless that already happened."""
    if not card_payment.provider_reference:
        return card_payment
    intent = stripe_api.payment_intent_retrieve(card_payment.provider_reference)
    with transaction.atomic(durable=True):
        return apply_payment_intent(intent) or card_payment


def apply_payment_intent(intent: dict[str, Any]) -> CardPayment | None:
    """A PaymentIntent as Stripe reports it, applied to its card payment: succeeded funds the
    escrow (once), a refusal records the decline. An intent that is none of ours changes nothing."""
    card_payment = _card_payment_for(intent)
    if card_payment is None:
        return None
    escrow = _lock_escrow(card_payment.escrow)
    card_payment = CardPayment.objects.select_for_update().get(pk=card_payment.pk)
    if card_payment.status not in OPEN_STATUSES:
        # Funded or set aside already: a repeat, or news older than what we know.
        return card_payment
    if intent.get("status") == "succeeded":
        _card_payment_succeeded(card_payment, escrow, intent)
    elif intent.get("status") == "requires_payment_method" and intent.get("last_payment_error"):
        _card_payment_declined(card_payment, escrow, intent)
    return card_payment


def _card_payment_for(intent: dict[str, Any]) -> CardPayment | None:
    reference = str(intent.get("id") or "")
    card_payment = CardPayment.objects.filter(provider_reference=reference).first() if reference else None
    if card_payment is None:
        # Stripe's answer came before the PaymentIntent's id was stored: the metadata names it.
        public_id = (intent.get("metadata") or {}).get("payment")
        card_payment = CardPayment.objects.filter(public_id=public_id).first() if public_id else None
        if card_payment is None or card_payment.provider_reference not in ("", reference):
            return None
    return card_payment


def _card_payment_succeeded(card_payment: CardPayment, escrow: Escrow, intent: dict[str, Any]) -> None:
    """The card was charged: fund the escrow with it, when the escrow still takes exactly this
    payment; otherwise the money is set aside as owed back to the buyer."""
    received, currency = intent.get("amount_received"), intent.get("currency")
    refusal = _why_not_applied(card_payment, escrow, received=received, currency=currency)
    before = card_payment.status
    if refusal:
        card_payment.set_aside()
        card_payment.provider_reference = str(intent.get("id"))
        card_payment.save(update_fields=["status", "provider_reference", "updated_at"])
        _event(
            "card_payment.not_applied",
            by=None,
            escrow=escrow,
            customer=card_payment.payer,
            from_status=before,
            to_status=card_payment.status,
            details={"payment": card_payment.public_id, "reason": refusal, "received": received},
        )
        return
    card_payment.succeed()
    card_payment.provider_reference = str(intent.get("id"))
    card_payment.save(update_fields=["status", "provider_reference", "updated_at"])
    # _why_not_applied made sure the escrow's terms are the ones this card paid.
    payment = _payment_recorded(
        escrow,
        by=card_payment.payer,
        source=FundingSource.CARD,
        public_id=card_payment.public_id,
        reference=card_payment.public_id,
        gateway_reference=card_payment.provider_reference,
    )
    _funding_posted(
        escrow,
        _payable_milestones(escrow),
        by=card_payment.payer,
        payment=payment,
        payer_account=ledger.platform_account(AccountKind.EXTERNAL_FUNDING, escrow.currency),
    )


def _why_not_applied(card_payment: CardPayment, escrow: Escrow, *, received: Any, currency: Any) -> str:
    """Why a charged card cannot fund its escrow, or "" when it can."""
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        return "The escrow was already paid or closed"
    if escrow.payment_expired():
        return "The escrow's time to pay ran out"
    if card_payment.terms_version != escrow.terms_version or card_payment.total != escrow.total_charge:
        return "The escrow's terms changed after the payment started"
    if (received, currency) != stripe_api.stripe_amount(card_payment.total, card_payment.currency):
        return "Stripe received another amount than the payment was for"
    return ""


def _card_payment_declined(card_payment: CardPayment, escrow: Escrow, intent: dict[str, Any]) -> None:
    before = card_payment.status
    card_payment.decline()
    card_payment.decline_reason, card_payment.decline_code = stripe_api.decline_of(intent)
    card_payment.save(update_fields=["status", "decline_reason", "decline_code", "updated_at"])
    _event(
        "card_payment.declined",
        by=None,
        escrow=escrow,
        customer=card_payment.payer,
        from_status=before,
        to_status=card_payment.status,
        details={
            "payment": card_payment.public_id,
            "reason": card_payment.decline_reason,
            "declineCode": card_payment.decline_code,
        },
    )
