"""Receivers written for Payluk and for Finternet: each provider's published verification recipe,
and what a real receiver on 127.0.0.1 (tests/webhook_receiver.py) was sent, checked by it."""

import hashlib
import hmac
import json
from typing import Any

from tests.webhook_receiver import Receiver


def payluk_verifies(raw_body: bytes, headers: dict[str, str], secret: str) -> bool:
    """Payluk: hex HMAC-SHA512 of the body with the secret, equal to x-payluk-signature."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha512).hexdigest()
    return digest == headers["x-payluk-signature"]


def payluk_verifies_as_older_receivers(raw_body: bytes, headers: dict[str, str], secret: str) -> bool:
    """Payluk's older recipe: the HMAC of JSON.stringify(req.body), the parsed body serialised
    again (compact, keys in the order received, text as it is)."""
    again = json.dumps(json.loads(raw_body), separators=(",", ":"), ensure_ascii=False)
    return (
        hmac.new(secret.encode(), again.encode(), hashlib.sha512).hexdigest() == headers["x-payluk-signature"]
    )


def finternet_verifies(payload: bytes, headers: dict[str, str], secret: str) -> bool:
    """Finternet: hex HMAC-SHA256 of the raw payload, compared in constant time with the
    finternet-signature header."""
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["finternet-signature"].encode(), expected.encode())


RECIPES = {"payluk": payluk_verifies, "finternet": finternet_verifies}


def received(receiver: Receiver) -> list[tuple[bytes, dict[str, str]]]:
    """Each request's exact body and its headers (names in lower case), in the order they came."""
    return [(r.body, {k.lower(): v for k, v in r.headers.items()}) for r in receiver.received]


def checked(receiver: Receiver, format: str, secret: str) -> tuple[list[dict[str, Any]], int]:
    """What a receiver for `format` was sent, parsed, and how many requests its provider's
    recipe refused (a bad or missing signature)."""
    verifies = RECIPES[format]
    bodies, bad = [], 0
    for body, headers in received(receiver):
        try:
            good = verifies(body, headers, secret)
        except KeyError:
            good = False
        bad += not good
        bodies.append(json.loads(body))
    return bodies, bad
