"""Stripe Connect, through its official SDK: sellers' Express accounts, their onboarding links,
and Transfers of their payouts from the platform's Stripe balance ("separate charges and
transfers"). Only what the services call; they decide what an answer changes (docs/stripe.md,
"Connect").

On while STRIPE_CONNECT is set and Stripe is configured (STRIPE_SECRET_KEY); off, payouts go
through the mock off-ramp as before."""

from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from stripe.params import TransferCreateParams

from core.errors import InvalidRequest, PaymentFailed

from . import stripe_api
from .models import Settlement, StripeTransfer
from .providers import OffRamp, PayoutHeldUp, PayoutResult


def enabled() -> bool:
    return bool(settings.STRIPE_CONNECT) and stripe_api.enabled()


def _unreachable() -> PaymentFailed:
    return PaymentFailed(
        "Stripe could not be reached; nothing was changed. Please try again.",
        code="stripe_unavailable",
    )


def _refused(exc: stripe.StripeError) -> InvalidRequest:
    return InvalidRequest(
        f"Stripe refused: {exc.user_message or 'the request was not accepted'}", code="stripe_refused"
    )


_NETWORK = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def account_create(*, customer_id: str, email: str) -> dict[str, Any]:
    """A new Express account for this person, able to receive transfers. The key is the person's
    own id: a second click (or a retry after a timeout) gets the same account back."""
    try:
        account = stripe_api._client().v1.accounts.create(
            {
                "type": "express",
                "email": email,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"customer": customer_id},
            },
            {"idempotency_key": f"stripe-account-{customer_id}"},
        )
    except _NETWORK as exc:
        raise _unreachable() from exc
    except stripe.InvalidRequestError as exc:
        raise _refused(exc) from exc
    return stripe_api.as_data(account)


def account_retrieve(account_id: str) -> dict[str, Any]:
    try:
        account = stripe_api._client().v1.accounts.retrieve(account_id)
    except _NETWORK as exc:
        raise _unreachable() from exc
    except stripe.InvalidRequestError as exc:
        raise _refused(exc) from exc
    return stripe_api.as_data(account)


def account_link_create(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """The one-time address of Stripe's onboarding for this account (it expires in minutes:
    Stripe sends the person to refresh_url for a new one)."""
    try:
        link = stripe_api._client().v1.account_links.create(
            {
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            }
        )
    except _NETWORK as exc:
        raise _unreachable() from exc
    except stripe.InvalidRequestError as exc:
        raise _refused(exc) from exc
    return str(link.url)


def account_state(account: dict[str, Any]) -> dict[str, Any]:
    """What we keep of a Stripe account object (models.StripeAccount's fields)."""
    requirements = account.get("requirements") or {}
    due = list(requirements.get("past_due") or []) + [
        r for r in requirements.get("currently_due") or [] if r not in (requirements.get("past_due") or [])
    ]
    return {
        "details_submitted": bool(account.get("details_submitted")),
        "charges_enabled": bool(account.get("charges_enabled")),
        "payouts_enabled": bool(account.get("payouts_enabled")),
        "requirements_due": [str(r) for r in due],
        "disabled_reason": str(requirements.get("disabled_reason") or "")[:255],
    }


def transfer_create(
    *, key: str, amount: int, currency: str, destination: str, transfer_group: str, metadata: dict[str, str]
) -> tuple[PayoutResult, bool]:
    """Move `amount` (our minor units) from the platform's Stripe balance to a connected account,
    and whether Stripe answered with a refusal (it made nothing, and keeps that answer for the
    key). A network error is retried later with the same key; a platform balance too short to
    cover it, or our own keys refused, is retried later and staff are told (PayoutHeldUp); any
    other refusal is final, in Stripe's words."""
    try:
        stripe_units, stripe_currency = stripe_api.stripe_amount(amount, currency)
    except InvalidRequest:
        return PayoutResult(
            ok=False, error=f"Stripe cannot pay out {currency.upper()}", retryable=False
        ), False
    params: TransferCreateParams = {
        "amount": stripe_units,
        "currency": stripe_currency,
        "destination": destination,
        "metadata": metadata,
    }
    if transfer_group:
        params["transfer_group"] = transfer_group
    try:
        transfer = stripe_api._client().v1.transfers.create(params, {"idempotency_key": key})
    except _NETWORK as exc:
        unreachable = f"Stripe could not be reached ({type(exc).__name__}); it is asked again later"
        return PayoutResult(ok=False, error=unreachable, retryable=True), False
    except stripe.InvalidRequestError as exc:
        reason = exc.user_message or "Stripe refused the transfer."
        if exc.code == "balance_insufficient":
            held_up = f"The platform's Stripe balance cannot cover this transfer yet: {reason}"
            return PayoutHeldUp(ok=False, error=held_up, retryable=True), True
        return PayoutResult(ok=False, error=f"Stripe refused the transfer: {reason}", retryable=False), True
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        reason = exc.user_message or str(exc)
        return PayoutHeldUp(ok=False, error=f"Stripe refused our keys: {reason}", retryable=True), True
    except stripe.StripeError as exc:
        reason = exc.user_message or str(exc)
        return PayoutResult(ok=False, error=f"Stripe refused the transfer: {reason}", retryable=False), True
    return PayoutResult(ok=True, reference=str(transfer.id)), False


class StripeTransferOffRamp(OffRamp):
    """Settlements of the Stripe transfer method (settlements.settlement_process picks it by the
    settlement's method): the destination is the person's connected account. A release's
    transfer carries its escrow's id as the transfer group, as the buyer's charge did."""

    def payout(self, *, idempotency_key: str, amount: int, currency: str, destination: str) -> PayoutResult:
        settlement = Settlement.objects.select_related("escrow").get(public_id=idempotency_key)
        # Its own transaction, committed before Stripe is asked: the key a request carries is on
        # record before the request leaves.
        with transaction.atomic():
            record, _ = StripeTransfer.objects.select_for_update().get_or_create(settlement=settlement)
        metadata = {"settlement": settlement.public_id}
        if settlement.escrow is not None:
            metadata["escrow"] = settlement.escrow.public_id
        result, refused = transfer_create(
            key=record.idempotency_key,
            amount=amount,
            currency=currency,
            destination=destination,
            transfer_group=settlement.escrow.public_id if settlement.escrow is not None else "",
            metadata=metadata,
        )
        if refused:
            # Stripe made nothing and keeps its refusal for the key: the next attempt asks anew.
            StripeTransfer.objects.filter(pk=record.pk).update(refusals=record.refusals + 1)
        return result
