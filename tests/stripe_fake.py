"""A Stripe-compatible HTTP server on 127.0.0.1, for tests: the endpoints the product uses, with
Stripe's request shape (form-encoded bodies, `Authorization: Bearer <secret key>`), its objects
and error shapes, `Idempotency-Key` as Stripe honours it, and the events it would send, signed as
Stripe signs them. The SDK is pointed at it by STRIPE_API_BASE; nothing else is faked.

The test plays the buyer's browser by confirming a PaymentIntent with one of Stripe's test
payment methods: `pm_card_visa` succeeds, `pm_card_chargeDeclined` and
`pm_card_chargeDeclinedInsufficientFunds` are declined."""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DECLINES = {
    "pm_card_chargeDeclined": ("generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": ("insufficient_funds", "Your card has insufficient funds."),
}


class StripeError(Exception):
    def __init__(self, status: int, error: dict[str, Any]):
        super().__init__(error.get("message"))
        self.status, self.error = status, error


def form_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to objects: `metadata[escrow]=x` is {"metadata": {"escrow": "x"}}
    (a list's items are keyed by their index)."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        names = re.split(r"\]?\[", key.rstrip("]"))
        target = params
        for name in names[:-1]:
            target = target.setdefault(name, {})
        target[names[-1]] = value
    return params


class StripeFake:
    def __init__(self, *, api_key: str, webhook_secret: str):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.intents: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        # Every request as it came: method, path, params, headers.
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self._idempotent: dict[str, tuple[str, str, dict[str, Any], int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StripeFake":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- Stripe's side of a webhook --------------------------------------------------------
    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    def signed(
        self, event: dict[str, Any], *, secret: str | None = None, at: int | None = None
    ) -> tuple[bytes, str]:
        """The event's body and its Stripe-Signature header, as Stripe sends them."""
        payload = json.dumps(event, indent=2).encode()
        timestamp = int(time.time()) if at is None else at
        mac = hmac.new(
            (secret if secret is not None else self.webhook_secret).encode(),
            f"{timestamp}.".encode() + payload,
            hashlib.sha256,
        ).hexdigest()
        return payload, f"t={timestamp},v1={mac}"

    # -- the API ---------------------------------------------------------------------------
    def _handle(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any]:
        self.requests.append((method, path, params, headers))
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: " + headers.get("authorization", "")[-4:],
                }
            }
        key = headers.get("idempotency-key")
        if method == "POST" and key:
            with self._lock:
                first = self._idempotent.get(key)
                if first is not None:
                    if first[:3] != (method, path, params):
                        return 400, {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with the same "
                                f"parameters they were first used with. Try using a key other than '{key}' "
                                "if you meant to execute a different request.",
                            }
                        }
                    return first[3], first[4]
                status, body = self._route(method, path, params)
                # What Stripe answered then, not the object as it is now.
                self._idempotent[key] = (method, path, params, status, json.loads(json.dumps(body)))
                return status, body
        with self._lock:
            return self._route(method, path, params)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        try:
            if method == "POST" and parts == ["v1", "payment_intents"]:
                return 200, self._create(params)
            if len(parts) >= 3 and parts[:2] == ["v1", "payment_intents"]:
                intent = self.intents.get(parts[2])
                if intent is None:
                    raise StripeError(
                        404,
                        {
                            "type": "invalid_request_error",
                            "code": "resource_missing",
                            "param": "intent",
                            "message": f"No such payment_intent: '{parts[2]}'",
                        },
                    )
                if method == "GET" and len(parts) == 3:
                    return 200, intent
                if method == "POST" and parts[3:] == ["confirm"]:
                    return 200, self._confirm(intent, params)
            raise StripeError(
                404,
                {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})."},
            )
        except StripeError as exc:
            return exc.status, {"error": exc.error}

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        for name in ("amount", "currency"):
            if name not in params:
                raise StripeError(
                    400,
                    {
                        "type": "invalid_request_error",
                        "code": "parameter_missing",
                        "param": name,
                        "message": f"Missing required param: {name}.",
                    },
                )
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
        intent_id = "pi_" + secrets.token_hex(12)
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params["currency"],
            "capture_method": params.get("capture_method", "automatic_async"),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "created": int(time.time()),
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "payment_method": None,
            "status": "requires_payment_method",
            "transfer_group": params.get("transfer_group"),
        }
        self.intents[intent_id] = intent
        self._event("payment_intent.created", intent)
        return intent

    def _confirm(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_intent_unexpected_state",
                    "message": "You cannot confirm this PaymentIntent because it has a status of "
                    f"{intent['status']}.",
                    "payment_intent": intent,
                },
            )
        method = params.get("payment_method", "")
        intent["payment_method"] = method
        charge = "ch_" + secrets.token_hex(12)
        if method in DECLINES:
            decline_code, message = DECLINES[method]
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline_code,
                "charge": charge,
                "message": message,
            }
            intent.update(status="requires_payment_method", last_payment_error=error, latest_charge=charge)
            self._event("payment_intent.payment_failed", intent)
            raise StripeError(402, {**error, "payment_intent": intent})
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            last_payment_error=None,
            latest_charge=charge,
        )
        self._event("charge.succeeded", {"id": charge, "object": "charge", "amount": intent["amount"]})
        self._event("payment_intent.succeeded", intent)
        return intent

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        self.events.append(
            {
                "id": "evt_" + secrets.token_hex(12),
                "object": "event",
                "api_version": "2026-10-28.clover",
                "created": int(time.time()),
                "data": {"object": json.loads(json.dumps(obj))},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": "req_" + secrets.token_hex(7), "idempotency_key": None},
                "type": kind,
            }
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = form_params(
                    parse_qsl(body if method == "POST" else url.query, keep_blank_values=True)
                )
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = fake._handle(method, url.path, params, headers)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_" + secrets.token_hex(7))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def browser_confirm(fake: StripeFake, intent_id: str, payment_method: str) -> Any:
    """What Stripe's library in the buyer's browser does when they pay: confirm the PaymentIntent
    with their card. A declined card raises stripe.CardError, as it does there."""
    import stripe

    client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.url}, max_network_retries=0)
    return client.v1.payment_intents.confirm(intent_id, {"payment_method": payment_method})


def deliver(client: Any, fake: StripeFake, event: dict[str, Any], **signing: Any) -> Any:
    """Stripe's delivery of one event to our webhook (the Django test client's answer)."""
    payload, signature = fake.signed(event, **signing)
    return client.post(
        "/stripe/webhook", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
