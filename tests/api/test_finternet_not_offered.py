"""Finternet's on-chain routes, which do not apply here, answer a clear 403 in its envelope saying
this server does not offer them; paths nobody publishes stay the surface's 404."""

import pytest
from rest_framework.test import APIClient

from tests.api.conditional_payment_helpers import create, error_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("method", ["post", "get"])
def test_confirming_with_an_eip712_signature_is_not_offered(seller_api, method):
    intent = create(seller_api)
    for api in (seller_api, APIClient()):
        r = getattr(api, method)(
            f"/v1/payment-intents/{intent['id']}/confirm",
            {"signature": "0x1234", "payerAddress": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318"},
            format="json",
        )
        error = error_of(r, 403, code="not_offered")
        assert error["message"].startswith(
            "Confirming a payment intent with an EIP-712 signature is not offered by this server"
        )
        assert "paymentUrl" in error["message"]


def test_reporting_an_on_chain_transaction_hash_is_not_offered():
    r = APIClient().post(
        "/v1/payment-intents/public/intent_abc/transaction-hash", {"transactionHash": "0xabc"}, format="json"
    )
    error = error_of(r, 403, code="not_offered")
    assert error["message"].startswith("Reporting an on-chain transaction hash is not offered by this server")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/payment-intents/intent_abc/escrow/release",
        "/v1/payment-intents/intent_abc/escrow/shipment",
        "/v1/payment-intents/intent_abc/conditional-payment/delivery-proof/extra",
        "/v1/payment-intents/public/intent_abc/payment-status",
        "/v1/payment-intents/intent_abc/escrow/dispute/",
    ],
)
def test_unknown_routes_stay_the_surfaces_404(seller_api, path):
    error_of(seller_api.post(path, {}, format="json"), 404, "Unknown API route", "resource_missing")


def test_an_idempotency_key_without_an_api_key_is_no_500(seller_api):
    intent = create(seller_api)
    for path in (f"/v1/payment-intents/{intent['id']}/confirm", f"/v1/payment-intents/public/{intent['id']}"):
        r = APIClient().post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert r.status_code in (403, 405), r.content
