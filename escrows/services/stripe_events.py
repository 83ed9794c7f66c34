"""The events Stripe signs and sends to /stripe/webhook, each applied once by the service that
owns what it reports (docs/stripe.md). An event of a type not listed here is acknowledged and
left: Stripe sends many we do not use."""

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from ..models import StripeEvent
from .card_payments import apply_payment_intent
from .connect import stripe_account_apply, stripe_payout_failed, stripe_transfer_reversed
from .stripe_refunds import apply_charge_refunded, apply_dispute_closed, apply_dispute_created

# Each runs inside the transaction that records the event's id, with the event's data object.
HANDLERS: dict[str, Callable[[dict[str, Any]], object]] = {
    "payment_intent.succeeded": apply_payment_intent,
    "payment_intent.payment_failed": apply_payment_intent,
    "charge.refunded": apply_charge_refunded,
    "charge.dispute.created": apply_dispute_created,
    "charge.dispute.closed": apply_dispute_closed,
    "account.updated": stripe_account_apply,
    "transfer.reversed": stripe_transfer_reversed,
}

# Events of a connected account's own money (its payouts to its bank), which Stripe names in the
# event's `account`: each runs with that account's id as well.
ACCOUNT_HANDLERS: dict[str, Callable[[dict[str, Any], str], object]] = {
    "payout.failed": stripe_payout_failed,
}


def stripe_event_handle(*, event_id: str, kind: str, obj: dict[str, Any], account: str = "") -> bool:
    """Apply one event Stripe signed, once: its id is recorded in the transaction that applies it,
    so a second delivery changes nothing. False when it was handled before."""
    try:
        with transaction.atomic(durable=True):
            StripeEvent.objects.create(event_id=event_id, kind=kind)
            handler = HANDLERS.get(kind)
            if handler is not None:
                handler(obj)
            on_account = ACCOUNT_HANDLERS.get(kind)
            if on_account is not None and account:
                on_account(obj, account)
    except IntegrityError:
        if StripeEvent.objects.filter(event_id=event_id).exists():
            return False
        raise
    return True
