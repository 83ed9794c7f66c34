"""Webhook signatures. Each request carries

    Escrow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

A receiver recomputes the HMAC over the raw body it received with the endpoint's secret,
compares in constant time, and refuses a timestamp more than the tolerance away from its own
clock on either side: an old one is a replay, and one ahead by more than the same tolerance is
refused too, so a request signed ahead of time is never good for longer than the window. One
tolerance both ways: it is there for the two clocks' difference, which has no direction.

An endpoint in a provider's format (webhooks.formats) is signed that provider's way instead, so
its published verification works unchanged: Payluk's `x-payluk-signature` and Finternet's
`finternet-signature`, each a lowercase hex HMAC of the exact body bytes, with no timestamp."""

import hashlib
import hmac
import time

HEADER = "Escrow-Signature"
PAYLUK_HEADER = "x-payluk-signature"
FINTERNET_HEADER = "finternet-signature"


def compute(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def payluk_signature(secret: str, body: bytes) -> str:
    """HMAC-SHA512 of the body. Payluk keys it with the merchant's secret API key; we keep API
    keys only as hashes, so the endpoint's own signing secret takes its place."""
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def finternet_signature(secret: str, body: bytes) -> str:
    """HMAC-SHA256 of the body, keyed with the endpoint's signing secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute(secret, ts, body)}"


def verify(
    body: bytes | str, header: str, secret: str, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """True when `header` is a valid signature of `body` (the raw request body) made with
    `secret` no more than `tolerance` seconds before or after `now`. Never raises for a
    malformed header: anything that is not a signature is simply not a valid one."""
    if isinstance(body, str):
        body = body.encode()
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value and value.isascii():  # compare_digest raises on other text
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = compute(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
