"""The local Stripe-compatible server with Refunds (tests/stripe_refunds_fake.py) and Connect
transfers (tests/stripe_connect_fake.py), and the platform balance's history:
GET /v1/balance_transactions, Stripe's list (`object: list`, `data`, `has_more`, `url`), newest
first, with `created[gte|gt|lte|lt]`, `limit` (1 to 100, 10 by default) and `starting_after`, and
`expand[]=data.source` for the charge, refund or transfer itself. Built from what the server did:
a charge of each succeeded PaymentIntent (Stripe's processing fee taken from it, 2.9% + 30 cents
in USD), each refund and each transfer (no fee, money out of the balance)."""

import hashlib
from typing import Any

from tests.stripe_connect_fake import StripeConnectFake
from tests.stripe_fake import StripeError
from tests.stripe_refunds_fake import StripeRefundsFake


def _txn_id(source: str) -> str:
    return "txn_" + hashlib.sha256(source.encode()).hexdigest()[:24]


def processing_fee(amount: int, currency: str) -> int:
    """Stripe's fee on a card charge in this fake: 2.9% + 30 of the currency's smallest unit
    (cents) in a two-decimal currency."""
    return round(amount * 29 / 1000) + (30 if currency not in ("jpy", "krw") else 0)


class StripeBalanceFake(StripeRefundsFake, StripeConnectFake):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # Balance transactions the test adds as Stripe's dashboard or another integration would
        # (an adjustment, a charge of another product): listed with the rest.
        self.other_transactions: list[dict[str, Any]] = []

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        if method == "GET" and path.strip("/").split("/") == ["v1", "balance_transactions"]:
            try:
                return 200, self._balance_transactions(params)
            except StripeError as exc:
                return exc.status, {"error": exc.error}
        return super()._route(method, path, params)

    def balance_transactions(self) -> list[dict[str, Any]]:
        """Every balance transaction, newest first, each with its source expanded."""
        found: list[dict[str, Any]] = []
        for intent_id, intent in self.intents.items():
            if intent["status"] == "succeeded":
                charge = self.charge_of(intent_id)
                fee = processing_fee(charge["amount"], charge["currency"])
                found.append(self._txn("charge", charge, charge["amount"], fee, intent["created"]))
        for refund in self.refunds.values():
            found.append(self._txn("refund", refund, -refund["amount"], 0, refund["created"]))
        for transfer in self.transfers.values():
            found.append(self._txn("transfer", transfer, -transfer["amount"], 0, transfer["created"]))
        found.extend(self.other_transactions)
        return sorted(found, key=lambda t: (t["created"], t["id"]), reverse=True)

    def _txn(self, kind: str, source: dict[str, Any], amount: int, fee: int, created: int) -> dict[str, Any]:
        fee_details = (
            [
                {
                    "amount": fee,
                    "application": None,
                    "currency": source["currency"],
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                }
            ]
            if fee
            else []
        )
        return {
            "id": _txn_id(source["id"]),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": created + 2 * 86_400,
            "created": created,
            "currency": source["currency"],
            "description": None,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": fee_details,
            "net": amount - fee,
            "reporting_category": kind,
            "source": source,
            "status": "pending",
            "type": kind,
        }

    def _balance_transactions(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = self.balance_transactions()
        created = params.get("created") or {}
        if not isinstance(created, dict):
            created = {"eq": created}
        tests = {
            "gte": lambda a, b: a >= b,
            "gt": lambda a, b: a > b,
            "lte": lambda a, b: a <= b,
            "lt": lambda a, b: a < b,
            "eq": lambda a, b: a == b,
        }
        for op, bound in created.items():
            if op not in tests or not str(bound).isdigit():
                raise StripeError(
                    400,
                    {
                        "type": "invalid_request_error",
                        "param": f"created[{op}]",
                        "message": f"Invalid integer: {bound}",
                    },
                )
            rows = [r for r in rows if tests[op](r["created"], int(bound))]
        limit = params.get("limit", "10")
        if not str(limit).isdigit() or not 1 <= int(limit) <= 100:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "param": "limit",
                    "message": "This value must be between 1 and 100 (it currently is " + str(limit) + ").",
                },
            )
        after = params.get("starting_after")
        if after:
            ids = [r["id"] for r in rows]
            if after not in ids:
                raise StripeError(
                    400,
                    {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "param": "starting_after",
                        "message": f"No such balance transaction: '{after}'",
                    },
                )
            rows = rows[ids.index(after) + 1 :]
        page = rows[: int(limit)]
        expand = params.get("expand") or {}
        expanded = "data.source" in (expand.values() if isinstance(expand, dict) else [expand])
        data = [r if expanded else {**r, "source": r["source"]["id"]} for r in page]
        return {
            "object": "list",
            "data": data,
            "has_more": len(rows) > len(page),
            "url": "/v1/balance_transactions",
        }


def started(settings: Any) -> StripeBalanceFake:
    """The fake on 127.0.0.1 and the settings that point the product at it, Connect on."""
    fake = StripeBalanceFake(api_key="sk_test_local", webhook_secret="whsec_local")
    fake.start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_CONNECT = True
    return fake
