"""The payment page's read of an intent: no API key, and nothing in it that pays the intent or
names a person."""

import json

import pytest
from rest_framework.test import APIClient

from escrows.models import Escrow
from tests.api.conditional_payment_helpers import create, error_of

pytestmark = pytest.mark.django_db


def test_anyone_reads_an_intent_by_its_id_without_secrets(seller_api, seller):
    intent = create(
        seller_api,
        {"orderId": "ORD-123", "customerEmail": "someone@private.test"},
        buyerEmail="buyer@example.test",
        settlementMethod="OFF_RAMP_MOCK",
        settlementDestination="bank_account_123",
        description="Laptop",
    )
    escrow = Escrow.objects.get(public_id=intent["id"])
    r = APIClient().get(f"/v1/payment-intents/public/{intent['id']}")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["id"], body["object"], body["status"]) == (
        intent["id"],
        "payment_intent",
        "AWAITING_PAYMENT",
    )
    assert (body["amount"], body["fee"], body["totalAmount"], body["currency"]) == (
        "1000.00",
        "15.00",
        "1015.00",
        "USD",
    )
    assert (body["description"], body["releaseType"], body["milestones"]) == ("Laptop", "DELIVERY_PROOF", [])
    text = json.dumps(body)
    for secret in (
        escrow.payment_token,
        "buyer@example.test",
        seller.email,
        seller.customer_id,
        "bank_account_123",
        "someone@private.test",
        "ORD-123",
    ):
        assert secret not in text, secret
    assert not {
        "paymentToken",
        "paymentUrl",
        "metadata",
        "settlementDestination",
        "sellerId",
        "buyerId",
    } & set(body)


def test_a_milestone_intent_shows_its_stages(seller_api):
    intent = create(seller_api, {"releaseType": "MILESTONE_LOCKED"})
    for i, amount in enumerate(("300.00", "700.00")):
        seller_api.post(
            f"/v1/payment-intents/{intent['id']}/escrow/milestones",
            {"milestoneIndex": i, "amount": amount, "description": f"Stage {i}"},
            format="json",
        )
    body = APIClient().get(f"/v1/payment-intents/public/{intent['id']}").json()
    assert [
        (m["milestoneIndex"], m["amount"], m["description"], m["status"]) for m in body["milestones"]
    ] == [
        (0, "300.00", "Stage 0", "PENDING"),
        (1, "700.00", "Stage 1", "PENDING"),
    ]


def test_an_unknown_intent_is_the_surfaces_404():
    error_of(
        APIClient().get("/v1/payment-intents/public/intent_nope"), 404, "Escrow not found", "resource_missing"
    )


def test_it_is_read_only(seller_api):
    intent = create(seller_api)
    r = APIClient().post(f"/v1/payment-intents/public/{intent['id']}", {}, format="json")
    error_of(r, 405, code="method_not_allowed")


def test_a_key_sent_along_is_not_needed_nor_checked(seller_api):
    intent = create(seller_api)
    r = APIClient().get(f"/v1/payment-intents/public/{intent['id']}", HTTP_X_API_KEY="sk_test_wrong")
    assert r.status_code == 200
