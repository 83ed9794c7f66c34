"""The outside money networks, as pluggable classes chosen in settings. These are the only
mocks in the product: tests provoke their failures through the values they are given."""

import re
import secrets
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from core.errors import PaymentFailed


class CardGateway:
    def charge(self, *, reference: str, amount: int, currency: str, card_token: str) -> str:
        """Charge the card; return the gateway's reference or raise PaymentFailed."""
        raise NotImplementedError


class MockCardGateway(CardGateway):
    """Test cards: `tok_visa` (or any `tok_…`) succeeds; `tok_decline` is declined;
    `tok_insufficient` fails for lack of funds."""

    def charge(self, *, reference: str, amount: int, currency: str, card_token: str) -> str:
        token = (card_token or "").strip()
        if not token:
            raise PaymentFailed("A card token is required for card payments", code="card_required")
        if token == "tok_decline":
            raise PaymentFailed("Your card was declined", code="card_declined")
        if token == "tok_insufficient":
            raise PaymentFailed("Your card has insufficient funds", code="card_declined")
        if not token.startswith("tok_"):
            raise PaymentFailed("Unknown card token", code="card_invalid")
        return "ch_" + secrets.token_hex(10)


@dataclass(frozen=True)
class PayoutResult:
    ok: bool
    reference: str = ""
    error: str = ""
    retryable: bool = True


@dataclass(frozen=True)
class PayoutHeldUp(PayoutResult):
    """A failed attempt only staff can clear (the platform's own balance at the network cannot
    cover the payout): retried as any other, and staff are told."""


class OffRamp:
    def payout(self, *, idempotency_key: str, amount: int, currency: str, destination: str) -> PayoutResult:
        raise NotImplementedError


_FLAKY = re.compile(r"^flaky-(\d+)")


class MockOffRamp(OffRamp):
    """Destinations provoke outcomes: `fail…` always fails (retryable), `reject…` fails for
    good at once, `flaky-N…` fails the first N attempts then pays, `slow…` pays at once but
    answers only after ESCROW_MOCK_OFF_RAMP_SLOW_SECONDS (a caller that dies meanwhile has been
    paid without knowing it), `unreachable…` raises a network error; anything else pays.
    A repeat call with the same key never pays twice: it returns the first payout."""

    def payout(self, *, idempotency_key: str, amount: int, currency: str, destination: str) -> PayoutResult:
        if destination.startswith("unreachable"):
            raise ConnectionError("off-ramp unreachable")
        result, repeat = self._payout(
            idempotency_key=idempotency_key, amount=amount, currency=currency, destination=destination
        )
        if destination.startswith("slow") and not repeat:
            time.sleep(settings.ESCROW_MOCK_OFF_RAMP_SLOW_SECONDS)
        return result

    def _payout(
        self, *, idempotency_key: str, amount: int, currency: str, destination: str
    ) -> tuple[PayoutResult, bool]:
        """The payout and whether it is the answer to a repeated, already paid request."""
        from .models import MockOffRampPayout

        # Its own transaction, committed before answering, like a remote network would.
        with transaction.atomic():
            record, _ = MockOffRampPayout.objects.select_for_update().get_or_create(
                idempotency_key=idempotency_key,
                defaults={"amount": amount, "currency": currency, "destination": destination},
            )
            if record.reference:
                return PayoutResult(ok=True, reference=record.reference), True
            record.attempts += 1
            flaky = _FLAKY.match(destination)
            if destination.startswith("reject"):
                record.save()
                return PayoutResult(
                    ok=False, error="Destination rejected by the off-ramp", retryable=False
                ), False
            if destination.startswith("fail") or (flaky and record.attempts <= int(flaky.group(1))):
                record.save()
                return PayoutResult(ok=False, error="Off-ramp temporarily unavailable", retryable=True), False
            record.reference = "po_" + secrets.token_hex(10)
            record.save()
            return PayoutResult(ok=True, reference=record.reference), False


@cache
def _load(path: str) -> object:
    return import_string(path)()


def card_gateway() -> CardGateway:
    return _load(settings.ESCROW_CARD_GATEWAY)  # type: ignore[return-value]


def off_ramp() -> OffRamp:
    return _load(settings.ESCROW_OFF_RAMP)  # type: ignore[return-value]


def payout_network(method: str) -> OffRamp:
    """Where a settlement of this method is paid out: a Stripe transfer to the person's
    connected account, or the off-ramp."""
    from .models import SettlementMethod

    if method == SettlementMethod.STRIPE_TRANSFER:
        return _load("escrows.stripe_connect.StripeTransferOffRamp")  # type: ignore[return-value]
    return off_ramp()
