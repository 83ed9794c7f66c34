"""Stripe Connect on the local Stripe-compatible server (tests/stripe_fake.py): Express accounts,
their onboarding links, the platform's balance, Transfers and their reversals, with Stripe's
shapes and error messages; Idempotency-Key is honoured by the base server as Stripe honours it.

The test plays Stripe's side of what people do there: `complete_onboarding` is the person
finishing Stripe's onboarding (payouts enabled, account.updated sent), `reverse_transfer` is the
platform reversing a transfer in its dashboard (transfer.reversed), `fail_payout` is the
person's bank refusing Stripe's payout (payout.failed, sent with the connected account's id).
`available` is the platform's available balance per currency: a transfer it cannot cover is
refused with Stripe's balance_insufficient. `lose_answers` makes the server do a request and
drop its answer, as a timeout does."""

import secrets
import time
from typing import Any

from tests.stripe_fake import StripeError, StripeFake

BALANCE_INSUFFICIENT = (
    "You have insufficient funds in your Stripe account for this transfer. Your card balance is too "
    "low.  You can use the /v1/balance endpoint to view your Stripe balance (for more details, see "
    "stripe.com/docs/api#balance)."
)
# What Stripe asks of a new Express account before it pays out.
ONBOARDING_DUE = ["business_type", "external_account", "tos_acceptance.date", "tos_acceptance.ip"]


def _missing(name: str) -> StripeError:
    return StripeError(
        400,
        {
            "type": "invalid_request_error",
            "code": "parameter_missing",
            "param": name,
            "message": f"Missing required param: {name}.",
        },
    )


class StripeConnectFake(StripeFake):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.account_links: list[dict[str, Any]] = []
        self.transfers: dict[str, dict[str, Any]] = {}
        self.available: dict[str, int] = {"usd": 10_000_000}

    # -- what people do on Stripe's side ----------------------------------------------------
    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """The person finished Stripe's onboarding: payouts enabled. Returns account.updated."""
        account = self.accounts[account_id]
        account.update(details_submitted=True, charges_enabled=True, payouts_enabled=True)
        account["capabilities"] = {"transfers": "active"}
        account["requirements"].update(currently_due=[], eventually_due=[], past_due=[], disabled_reason=None)
        return self._emit("account.updated", account)

    def require_more(self, account_id: str, *fields: str) -> dict[str, Any]:
        """Stripe needs more before it pays out again: payouts stop. Returns account.updated."""
        account = self.accounts[account_id]
        account.update(payouts_enabled=False)
        account["requirements"].update(
            currently_due=list(fields), past_due=list(fields), disabled_reason="requirements.past_due"
        )
        return self._emit("account.updated", account)

    def reverse_transfer(self, transfer_id: str, amount: int | None = None) -> dict[str, Any]:
        """The platform reverses a transfer (all of what is left, or `amount`). Returns
        transfer.reversed."""
        with self._lock:
            self._reverse(transfer_id, {} if amount is None else {"amount": str(amount)})
        return self.events_of("transfer.reversed")[-1]

    def fail_payout(
        self,
        account_id: str,
        amount: int,
        currency: str = "usd",
        message: str = "The bank account has been closed.",
    ) -> dict[str, Any]:
        """The connected account's bank refused Stripe's payout. Returns payout.failed."""
        payout = {
            "id": "po_" + secrets.token_hex(12),
            "object": "payout",
            "amount": amount,
            "arrival_date": int(time.time()),
            "automatic": True,
            "currency": currency,
            "destination": "ba_" + secrets.token_hex(12),
            "failure_code": "account_closed",
            "failure_message": message,
            "livemode": False,
            "metadata": {},
            "method": "standard",
            "status": "failed",
            "type": "bank_account",
        }
        event = self._emit("payout.failed", payout)
        event["account"] = account_id
        return event

    def _emit(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self._event(kind, obj)
        return self.events[-1]

    # -- the API ---------------------------------------------------------------------------
    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        try:
            if parts == ["v1", "accounts"] and method == "POST":
                return 200, self._account_create(params)
            if len(parts) == 3 and parts[:2] == ["v1", "accounts"] and method == "GET":
                return 200, self._account(parts[2])
            if parts == ["v1", "account_links"] and method == "POST":
                return 200, self._account_link(params)
            if parts == ["v1", "balance"] and method == "GET":
                return 200, self._balance()
            if parts == ["v1", "transfers"] and method == "POST":
                return 200, self._transfer(params)
            reversals = len(parts) == 4 and parts[:2] == ["v1", "transfers"] and parts[3] == "reversals"
            if reversals and method == "POST":
                return 200, self._reverse(parts[2], params)
        except StripeError as exc:
            return exc.status, {"error": exc.error}
        return super()._route(method, path, params)

    def _account(self, account_id: str, param: str = "account") -> dict[str, Any]:
        account = self.accounts.get(account_id)
        if account is None:
            raise StripeError(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": param,
                    "message": f"No such {param}: '{account_id}'",
                },
            )
        return account

    def _account_create(self, params: dict[str, Any]) -> dict[str, Any]:
        if "type" not in params:
            raise _missing("type")
        if params["type"] not in ("custom", "express", "standard"):
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "parameter_invalid_empty" if not params["type"] else "parameter_unknown",
                    "param": "type",
                    "message": "Invalid type: must be one of custom, express, or standard",
                },
            )
        account_id = "acct_" + secrets.token_hex(8)
        requested = {
            name
            for name, wish in (params.get("capabilities") or {}).items()
            if wish.get("requested") == "true"
        }
        account = {
            "id": account_id,
            "object": "account",
            "business_type": None,
            "capabilities": dict.fromkeys(sorted(requested), "inactive"),
            "charges_enabled": False,
            "country": params.get("country", "US"),
            "created": int(time.time()),
            "default_currency": "usd",
            "details_submitted": False,
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
            "payouts_enabled": False,
            "requirements": {
                "alternatives": [],
                "current_deadline": None,
                "currently_due": list(ONBOARDING_DUE),
                "disabled_reason": "requirements.past_due",
                "errors": [],
                "eventually_due": list(ONBOARDING_DUE),
                "past_due": list(ONBOARDING_DUE),
                "pending_verification": [],
            },
            "type": params["type"],
        }
        self.accounts[account_id] = account
        return account

    def _account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("account", "type"):
            if name not in params:
                raise _missing(name)
        account = self._account(params["account"])
        if params["type"] not in ("account_onboarding", "account_update"):
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "param": "type",
                    "message": "Invalid type: must be one of account_onboarding or account_update",
                },
            )
        if "refresh_url" not in params:
            raise _missing("refresh_url")
        if "return_url" not in params:
            raise _missing("return_url")
        now = int(time.time())
        link = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": f"https://connect.stripe.com/setup/e/{account['id']}/{secrets.token_urlsafe(12)}",
        }
        self.account_links.append({**link, **params})
        return link

    def _balance(self) -> dict[str, Any]:
        return {
            "object": "balance",
            "available": [
                {"amount": amount, "currency": currency, "source_types": {"card": amount}}
                for currency, amount in sorted(self.available.items())
            ],
            "livemode": False,
            "pending": [
                {"amount": 0, "currency": currency, "source_types": {"card": 0}}
                for currency in sorted(self.available)
            ],
        }

    def _transfer(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("amount", "currency", "destination"):
            if name not in params:
                raise _missing(name)
        if not params["amount"].isdigit() or int(params["amount"]) < 1:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "parameter_invalid_integer",
                    "param": "amount",
                    "message": "This value must be greater than or equal to 1.",
                },
            )
        account = self._account(params["destination"], param="destination")
        if account["capabilities"].get("transfers") != "active":
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "insufficient_capabilities_for_transfer",
                    "param": "destination",
                    "message": "Your destination account needs to have at least one of the following "
                    "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                },
            )
        amount, currency = int(params["amount"]), params["currency"]
        if self.available.get(currency, 0) < amount:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "balance_insufficient",
                    "message": BALANCE_INSUFFICIENT,
                },
            )
        self.available[currency] -= amount
        transfer_id = "tr_" + secrets.token_hex(12)
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": "txn_" + secrets.token_hex(12),
            "created": int(time.time()),
            "currency": currency,
            "description": params.get("description"),
            "destination": account["id"],
            "destination_payment": "py_" + secrets.token_hex(12),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": params.get("transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        self._event("transfer.created", transfer)
        return transfer

    def _reverse(self, transfer_id: str, params: dict[str, Any]) -> dict[str, Any]:
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            raise StripeError(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "id",
                    "message": f"No such transfer: '{transfer_id}'",
                },
            )
        left = transfer["amount"] - transfer["amount_reversed"]
        amount = int(params.get("amount", left))
        if amount > left or amount < 1:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "param": "amount",
                    "message": f"Refund amount ({amount}) is greater than unrefunded amount on "
                    f"transfer ({left})",
                },
            )
        reversal = {
            "id": "trr_" + secrets.token_hex(12),
            "object": "transfer_reversal",
            "amount": amount,
            "balance_transaction": "txn_" + secrets.token_hex(12),
            "created": int(time.time()),
            "currency": transfer["currency"],
            "destination_payment_refund": "pyr_" + secrets.token_hex(12),
            "metadata": params.get("metadata", {}),
            "source_refund": None,
            "transfer": transfer_id,
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].insert(0, reversal)
        transfer["reversals"]["total_count"] += 1
        self.available[transfer["currency"]] = self.available.get(transfer["currency"], 0) + amount
        self._event("transfer.reversed", transfer)
        return reversal
