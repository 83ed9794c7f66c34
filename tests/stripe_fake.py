"""A Stripe-compatible HTTP server on 127.0.0.1, for tests: the endpoints the product uses, with
Stripe's request shape (form-encoded bodies, `Authorization: Bearer <secret key>`), its objects
and error shapes, `Idempotency-Key` as Stripe honours it, and the events it would send, signed as
Stripe signs them. The SDK is pointed at it by STRIPE_API_BASE; nothing else is faked.

The test plays the buyer's browser by confirming a PaymentIntent with one of Stripe's test
payment methods: `pm_card_visa` succeeds, `pm_card_chargeDeclined` and
`pm_card_chargeDeclinedInsufficientFunds` are declined. A real browser does the same through the
stand-in for Stripe.js served at GET /v3/ (tests/stripe_js_fake.js): it confirms with the
publishable key and the PaymentIntent's client secret, as Stripe.js does, across origins (CORS)."""

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

STRIPE_JS = Path(__file__).with_name("stripe_js_fake.js")
PUBLISHABLE_KEY_FORBIDDEN = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You can "
    "find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)

# Stripe's smallest charge in a few currencies: (in its unit, as its message says it).
MINIMUM_CHARGE = {"usd": (50, "$0.50"), "eur": (50, "€0.50"), "gbp": (30, "£0.30"), "jpy": (50, "¥50")}

DECLINES = {
    "pm_card_chargeDeclined": ("generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": ("insufficient_funds", "Your card has insufficient funds."),
}


# A few countries' supported payment currencies (Stripe's country specs list about 135 each).
COUNTRY_CURRENCIES = {
    "US": ("usd", "eur", "gbp", "jpy", "cad", "aud", "chf", "ngn", "kes", "kwd", "bhd"),
    "NG": ("ngn", "usd"),
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


class AnswerLost(Exception):
    """The request was done, and its answer never reaches the caller (a timeout after the fact)."""


class StripeFake:
    def __init__(self, *, api_key: str, webhook_secret: str, publishable_key: str = "pk_test_local"):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        # What a browser holds: it may only confirm or read a PaymentIntent whose client secret
        # it was given.
        self.publishable_key = publishable_key
        self.intents: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        # Every request as it came: method, path, params, headers.
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self._idempotent: dict[str, tuple[str, str, dict[str, Any], int, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # How many of the next POSTs are done and their answers then lost; the connection is
        # closed quietly, as a timeout leaves it.
        self.lose_answers = 0
        # The platform account's country: its country spec says which currencies cards pay in.
        self.country = "US"
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        # stop() waits for the serving loop to notice, which looks every poll_interval (half a
        # second unless told): a quarter of a second of every test using the fake, on average.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def js_url(self) -> str:
        """Where the page loads the stand-in for Stripe.js (STRIPE_JS_URL)."""
        return f"{self.url}/v3/"

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
        answer = self._answer_to(method, path, params, headers)
        if self.lose_answers > 0 and method == "POST":
            self.lose_answers -= 1
            raise AnswerLost
        return answer

    def _answer_to(
        self, method: str, path: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any]:
        self.requests.append((method, path, params, headers))
        if headers.get("authorization") == f"Bearer {self.publishable_key}":
            refusal = self._publishable_refusal(method, path, params)
            if refusal is not None:
                return refusal
        elif headers.get("authorization") != f"Bearer {self.api_key}":
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

    def _publishable_refusal(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any] | None:
        """Stripe's rule for a publishable key: it may confirm or read a PaymentIntent, and only
        with that PaymentIntent's own client secret. None when the call may go on."""
        parts = path.strip("/").split("/")
        browser_call = (method == "POST" and len(parts) == 4 and parts[3] == "confirm") or (
            method == "GET" and len(parts) == 3
        )
        if not (browser_call and parts[:2] == ["v1", "payment_intents"]):
            return 401, {"error": {"type": "invalid_request_error", "message": PUBLISHABLE_KEY_FORBIDDEN}}
        intent = self.intents.get(parts[2])
        if intent is not None and params.get("client_secret") != intent["client_secret"]:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "payment_intent_invalid_parameter",
                    "param": "client_secret",
                    "message": "The client_secret provided does not match the client_secret associated "
                    "with the PaymentIntent.",
                }
            }
        return None

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        try:
            if method == "GET" and parts == ["v1", "account"]:
                return 200, {"id": "acct_platform", "object": "account", "country": self.country}
            if method == "GET" and parts[:2] == ["v1", "country_specs"] and len(parts) == 3:
                return 200, self._country_spec(parts[2])
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

    def _country_spec(self, country: str) -> dict[str, Any]:
        if country not in COUNTRY_CURRENCIES:
            raise StripeError(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "country",
                    "message": f"No such country_spec: '{country}'",
                },
            )
        return {
            "id": country,
            "object": "country_spec",
            "default_currency": COUNTRY_CURRENCIES[country][0],
            "supported_payment_currencies": list(COUNTRY_CURRENCIES[country]),
        }

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
        least = MINIMUM_CHARGE.get(params["currency"])
        if least is not None and int(params["amount"]) < least[0]:
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "amount_too_small",
                    "param": "amount",
                    "message": f"Amount must be at least {least[1]} {params['currency']}",
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
            def _cors(self) -> None:
                # Stripe answers a browser's call from any page's origin.
                origin = self.headers.get("Origin")
                if origin:
                    self.send_header("Access-Control-Allow-Origin", origin)
                    self.send_header("Vary", "Origin")

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
                self._cors()
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if urlsplit(self.path).path in ("/v3", "/v3/"):
                    script = STRIPE_JS.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/javascript; charset=utf-8")
                    self.send_header("Content-Length", str(len(script)))
                    self.end_headers()
                    self.wfile.write(script)
                    return
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def do_OPTIONS(self) -> None:  # noqa: N802
                # The browser's preflight before a call that carries the Authorization header.
                self.send_response(204)
                self._cors()
                self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "authorization, content-type")
                self.send_header("Access-Control-Max-Age", "600")
                self.end_headers()

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
