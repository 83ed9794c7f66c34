"""Stripe Refunds, through its official SDK: money going back to the card that paid a PaymentIntent.
Only the calls; services/stripe_refunds.py decides what an answer changes (docs/stripe.md)."""

from dataclasses import dataclass, field
from typing import Any

import stripe

from .models import StripeRefund
from .stripe_api import _client, as_data, stripe_amount


@dataclass(frozen=True)
class RefundAnswer:
    """Stripe's answer: the Refund object when it took the call; otherwise its words and whether
    asking again may go better (the network, a rate limit, Stripe's own fault) or never will (the
    refund itself was refused: more than the charge has left, an unknown payment)."""

    refund: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.refund)


def idempotency_key(refund: StripeRefund) -> str:
    """Every attempt of one refund carries the same key: a retry after a timeout is answered with
    the refund Stripe already made, never a second one."""
    return f"refund-{refund.public_id}"


def refund_create(refund: StripeRefund, *, payment_intent: str) -> RefundAnswer:
    """A Refund of `refund.amount` of the PaymentIntent's charge (part of it or all)."""
    amount, _ = stripe_amount(refund.amount, refund.currency)
    return _call(
        lambda client: client.v1.refunds.create(
            {
                "payment_intent": payment_intent,
                "amount": amount,
                "reason": "requested_by_customer",
                "metadata": {
                    "escrow": refund.escrow.public_id,
                    "payment": refund.card_payment.public_id,
                    "refund": refund.public_id,
                },
            },
            {"idempotency_key": idempotency_key(refund)},
        )
    )


def refund_retrieve(reference: str) -> RefundAnswer:
    return _call(lambda client: client.v1.refunds.retrieve(reference))


def _call(request: Any) -> RefundAnswer:
    try:
        return RefundAnswer(refund=as_data(request(_client())))
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        # The SDK already retried it (same idempotency key); whether Stripe made the refund is
        # unknown, so only the same key may ask again.
        return RefundAnswer(error=_words(exc), retryable=True)
    except stripe.IdempotencyError as exc:
        return RefundAnswer(error=_words(exc))
    except stripe.StripeError as exc:
        # Refused for good: invalid request (amount_too_large, resource_missing,
        # charge_already_refunded), permissions, authentication.
        return RefundAnswer(error=_words(exc), retryable=isinstance(exc, stripe.AuthenticationError))


def _words(exc: stripe.StripeError) -> str:
    code = getattr(exc, "code", None)
    message = exc.user_message or str(exc) or type(exc).__name__
    return f"{message} ({code})" if code else message
