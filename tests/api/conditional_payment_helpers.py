"""Building paid intents on the payment-intents surface and calling their conditional payment
(Finternet's escrow order) on either of its two paths."""

from escrows.models import Escrow
from tests.helpers import fund

HASH = "0x" + "ab" * 32
PROOF = {
    "proofHash": HASH,
    "proofURI": "https://example.com/delivery-proofs/12345",
    "submittedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318",
}
DISPUTE = {
    "reason": "Item not delivered as described",
    "raisedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318",
}
PATHS = ("escrow", "conditional-payment")


def create(api, metadata=None, **body):
    r = api.post(
        "/v1/payment-intents",
        {"amount": "1000.00", "currency": "USD", "metadata": metadata or {}, **body},
        format="json",
    )
    assert r.status_code == 201, r.json()
    return r.json()


def paid(api, buyer, metadata=None, **body):
    """An intent created by `api`'s seller and paid by `buyer` (through the funding service)."""
    intent = create(api, metadata, **body)
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    return escrow


def read(api, intent_id, path="escrow"):
    return api.get(f"/v1/payment-intents/{intent_id}/{path}")


def prove(api, intent_id, path="escrow", **changes):
    body = {k: v for k, v in {**PROOF, **changes}.items() if v is not ...}
    return api.post(f"/v1/payment-intents/{intent_id}/{path}/delivery-proof", body, format="json")


def dispute(api, intent_id, path="escrow", **changes):
    body = {k: v for k, v in {**DISPUTE, **changes}.items() if v is not ...}
    return api.post(f"/v1/payment-intents/{intent_id}/{path}/dispute", body, format="json")


def error_of(r, status, message=None, code=None):
    assert r.status_code == status, r.json()
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" or status in (401, 429), error
    if message is not None:
        assert error["message"] == message, error
    if code is not None:
        assert error["code"] == code, error
    return error
