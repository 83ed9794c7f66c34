"""The local Stripe-compatible server (tests/stripe_fake.py) with Stripe's Refunds and disputes:
POST /v1/refunds of a PaymentIntent's charge (all of what is left, or part of it) and
GET /v1/refunds/<id>, with Stripe's refusals (more than the charge has left: amount_too_large;
an unknown PaymentIntent: resource_missing; a charge refunded whole already:
charge_already_refunded; a charged-back charge: charge_disputed) and its events: charge.refunded
with the Charge (listing its refunds, as an account whose API version includes them does),
refund.created. The test plays the card network and Stripe's dashboard: it opens and closes a
dispute (charge.dispute.created / closed), refunds in the dashboard, or has a refund's answer
lost to a timeout after Stripe made it."""

import secrets
import time
from typing import Any

from tests.stripe_fake import StripeError, StripeFake


def _missing(kind: str, name: str, param: str) -> StripeError:
    return StripeError(
        400 if param else 404,
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": param or "id",
            "message": f"No such {kind}: '{name}'",
        },
    )


def _money(amount: int, currency: str) -> str:
    """Stripe's way of saying an amount in its messages: "$25.00" for USD, else "25.00 EUR"."""
    whole = f"{amount / 100:,.2f}" if currency not in ("jpy", "krw") else f"{amount:,}"
    return f"${whole}" if currency == "usd" else f"{whole} {currency.upper()}"


class StripeRefundsFake(StripeFake):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        # How many answers to POST /v1/refunds are lost after the refund was made (the client
        # times out); `hang_seconds` is how long each lost answer keeps it waiting.
        self.lose_refund_answers = 0
        self.hang_seconds = 1.0
        # The Charge in charge.refunded lists its refunds (API versions that include them).
        self.list_refunds_on_charge = True

    # -- the API ---------------------------------------------------------------------------
    def _handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any]:
        answer = super()._handle(method, path, params, headers)
        if method == "POST" and path.rstrip("/") == "/v1/refunds" and self.lose_refund_answers:
            self.lose_refund_answers -= 1
            time.sleep(self.hang_seconds)
        return answer

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:2] != ["v1", "refunds"]:
            return super()._route(method, path, params)
        try:
            if method == "POST" and len(parts) == 2:
                return 200, self._refund_create(params)
            if method == "GET" and len(parts) == 3:
                refund = self.refunds.get(parts[2])
                if refund is None:
                    raise _missing("refund", parts[2], "")
                return 200, refund
            raise StripeError(
                404,
                {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})."},
            )
        except StripeError as exc:
            return exc.status, {"error": exc.error}

    def charge_of(self, intent_id: str) -> dict[str, Any]:
        """The Charge of a succeeded PaymentIntent, as Stripe keeps it."""
        intent = self.intents[intent_id]
        charge_id = intent["latest_charge"]
        if charge_id not in self.charges:
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": intent["amount_received"],
                "amount_captured": intent["amount_received"],
                "amount_refunded": 0,
                "currency": intent["currency"],
                "disputed": False,
                "paid": True,
                "payment_intent": intent_id,
                "refunded": False,
                "status": "succeeded",
                "refunds": {"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"},
            }
        return self.charges[charge_id]

    def _refund_create(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "message": "One of the following params should be provided for this request: "
                    "payment_intent or charge.",
                },
            )
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, "payment_intent")
        if intent["status"] != "succeeded":
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "charge_not_refundable",
                    "message": "This PaymentIntent does not have a successful charge to refund.",
                },
            )
        return self.refund(intent_id, params.get("amount"), metadata=params.get("metadata", {}))

    def refund(
        self, intent_id: str, amount: Any = None, *, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A refund of the PaymentIntent's charge (the API's, or one made in the dashboard), and
        its events."""
        charge = self.charge_of(intent_id)
        left = charge["amount"] - charge["amount_refunded"]
        if any(d["charge"] == charge["id"] and d["status"] != "won" for d in self.disputes.values()):
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "charge_disputed",
                    "message": f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                },
            )
        if left <= 0:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": f"Charge {charge['id']} has already been refunded.",
                },
            )
        value = left if amount is None else int(amount)
        if value > left:
            currency = charge["currency"]
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "amount_too_large",
                    "param": "amount",
                    "message": f"Refund amount ({_money(value, currency)}) is greater than unrefunded "
                    f"amount on charge ({_money(left, currency)})",
                },
            )
        refund = {
            "id": "re_" + secrets.token_hex(12),
            "object": "refund",
            "amount": value,
            "balance_transaction": "txn_" + secrets.token_hex(12),
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "metadata": metadata or {},
            "payment_intent": intent_id,
            "reason": "requested_by_customer",
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += value
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        self._event("refund.created", refund)
        self._event("charge.refunded", self._charge_as_sent(charge))
        return refund

    def _charge_as_sent(self, charge: dict[str, Any]) -> dict[str, Any]:
        if self.list_refunds_on_charge:
            return charge
        return {k: v for k, v in charge.items() if k != "refunds"}

    # -- the card network ------------------------------------------------------------------
    def open_dispute(self, intent_id: str, *, reason: str = "fraudulent") -> dict[str, Any]:
        """The buyer's bank disputes the charge (a chargeback): Stripe takes the amount from the
        platform's balance and sends charge.dispute.created."""
        charge = self.charge_of(intent_id)
        dispute = {
            "id": "du_" + secrets.token_hex(12),
            "object": "dispute",
            "amount": charge["amount"] - charge["amount_refunded"],
            "charge": charge["id"],
            "created": int(time.time()),
            "currency": charge["currency"],
            "is_charge_refundable": False,
            "payment_intent": intent_id,
            "reason": reason,
            "status": "needs_response",
        }
        self.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        self._event("charge.dispute.created", dispute)
        return dispute

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict[str, Any]:
        dispute = self.disputes[dispute_id]
        dispute["status"] = "won" if won else "lost"
        self._event("charge.dispute.closed", dispute)
        return dispute


def started(settings: Any) -> StripeRefundsFake:
    """The fake on 127.0.0.1 and the settings that point the product at it (each test module's
    fixture: `fake = started(settings); yield fake; fake.stop()`)."""
    fake = StripeRefundsFake(api_key="sk_test_local", webhook_secret="whsec_local")
    fake.start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    return fake
