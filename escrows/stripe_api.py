"""Stripe, through its official SDK: card payments as PaymentIntents, and the signed events Stripe
sends back. Only what the services call; they decide what a payment changes (docs/stripe.md).

Off unless STRIPE_SECRET_KEY is set. Tests point STRIPE_API_BASE at a local Stripe-compatible
server; nothing here knows the difference."""

from typing import Any

import stripe
from django.conf import settings

from core.errors import InvalidRequest, PaymentFailed

from .models import CardPayment, Escrow

# Currencies Stripe counts in whole units (its "zero-decimal" list) and in thousandths (whose
# last digit must be 0); every other currency it counts in hundredths.
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def cards_through_stripe() -> bool:
    """Whether a buyer's card is charged through Stripe rather than the mock gateway: the server
    can create PaymentIntents and the payer's browser can be given the publishable key."""
    return enabled() and bool(settings.STRIPE_PUBLISHABLE_KEY)


def stripe_amount(amount: int, currency: str) -> tuple[int, str]:
    """Our integer minor units as Stripe's amount and currency code. A currency Stripe has no
    code for (USDC) is refused, as is an amount Stripe's unit cannot say exactly."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise _not_available(code)
    ours = settings.ESCROW_CURRENCIES[code]
    theirs = 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2
    if theirs >= ours:
        converted = amount * 10 ** (theirs - ours)
    else:
        converted, rest = divmod(amount, 10 ** (ours - theirs))
        if rest:
            raise InvalidRequest(
                f"Stripe cannot charge this amount in {code} exactly", code="currency_not_supported"
            )
    return converted, code.lower()


def our_amount(amount: int, currency: str) -> int | None:
    """Stripe's amount in our integer minor units (stripe_amount the other way); None for a
    currency we do not keep."""
    code = currency.upper()
    digits = settings.ESCROW_CURRENCIES.get(code)
    if digits is None:
        return None
    one_unit, _ = stripe_amount(10**digits, code)
    return amount * 10**digits // one_unit


def _not_available(code: str) -> InvalidRequest:
    return InvalidRequest(
        f"Card payments through Stripe are not available in {code}", code="currency_not_supported"
    )


# The currencies each platform account may charge in, asked of Stripe once per process.
_supported: dict[tuple[str, str], frozenset[str]] = {}


def supported_currencies() -> frozenset[str]:
    """What the platform's Stripe account may charge cards in: the supported payment currencies
    of its country, as Stripe's country spec lists them."""
    key = (settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)
    if key not in _supported:
        client = _client()
        try:
            account = client.v1.accounts.retrieve_current()
            spec = client.v1.country_specs.retrieve(str(account.country))
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise _unavailable(exc) from exc
        _supported[key] = frozenset(c.upper() for c in spec.supported_payment_currencies)
    return _supported[key]


def check_currency(currency: str) -> None:
    """Refuse a currency the platform's Stripe account cannot charge in, before anything is
    recorded."""
    code = currency.upper()
    if code not in supported_currencies():
        raise _not_available(code)


def _client() -> stripe.StripeClient:
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": base} if base else None,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        # A retry carries the same idempotency key, so it never charges twice.
        max_network_retries=settings.STRIPE_NETWORK_RETRIES,
    )


def _unavailable(exc: stripe.StripeError) -> PaymentFailed:
    return PaymentFailed(
        "The card network could not be reached; nothing was charged. Please try again.",
        code="card_network_unavailable",
        for_person="We could not reach the card network, so nothing was charged. Please try again.",
    )


def payment_intent_create(card_payment: CardPayment, escrow: Escrow) -> dict[str, Any]:
    """The PaymentIntent for this card payment's amount + fee, captured as soon as the buyer's
    card is confirmed (an authorisation would lapse after about 7 days, long before a release).
    The idempotency key is the card payment's own id: asking again returns the same
    PaymentIntent, never a second one."""
    amount, currency = stripe_amount(card_payment.total, card_payment.currency)
    try:
        intent = _client().v1.payment_intents.create(
            {
                "amount": amount,
                "currency": currency,
                "capture_method": "automatic",
                "automatic_payment_methods": {"enabled": True},
                "transfer_group": escrow.public_id,
                "description": f"Escrow {escrow.public_id}",
                "metadata": {"escrow": escrow.public_id, "payment": card_payment.public_id},
            },
            {"idempotency_key": f"card-payment-{card_payment.public_id}"},
        )
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise _unavailable(exc) from exc
    except stripe.InvalidRequestError as exc:
        # Stripe refuses what it cannot charge (an amount under its minimum, a currency the
        # account does not take): its own words, nothing charged.
        reason = (exc.user_message or "Stripe refused the payment").rstrip(".") + "."
        raise PaymentFailed(
            f"Stripe refused the card payment: {reason}",
            code="card_payment_refused",
            for_person=f"This escrow cannot be paid by card: {reason} Nothing was charged.",
        ) from exc
    return as_data(intent)


def payment_intent_retrieve(reference: str) -> dict[str, Any]:
    try:
        intent = _client().v1.payment_intents.retrieve(reference)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise _unavailable(exc) from exc
    return as_data(intent)


def as_data(obj: stripe.StripeObject) -> dict[str, Any]:
    """A Stripe object as the plain JSON data Stripe sent (what the services read)."""
    return obj.to_dict()


def decline_of(intent: dict[str, Any]) -> tuple[str, str]:
    """Why the card was refused, in Stripe's words (shown to the payer), and its decline code."""
    error = intent.get("last_payment_error") or {}
    reason = error.get("message") or "Your card was declined."
    return str(reason), str(error.get("decline_code") or error.get("code") or "")


def event_from_request(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event Stripe signed, as its data, or stripe.SignatureVerificationError (a wrong or missing
    signature, one older than the tolerance, a body that is not Stripe's event). Stripe signs the
    events of the platform's own account and those of its connected accounts at two endpoints,
    each with its own secret; both may point here."""
    secrets = [s for s in (settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET) if s]
    refusal: stripe.SignatureVerificationError | None = None
    for secret in secrets:
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            refusal = exc
            continue
        except (ValueError, AttributeError, TypeError) as exc:
            raise stripe.SignatureVerificationError("The body is not a Stripe event", signature) from exc
        return as_data(event)
    raise refusal or stripe.SignatureVerificationError("No webhook secret is set", signature)
