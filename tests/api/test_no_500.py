"""Every field of every write endpoint, given every JSON type and some nasty strings: never a
500, always the surface's envelope."""

import pytest

from tests.api.conftest import client_for
from tests.helpers import make_escrow, milestones

pytestmark = pytest.mark.django_db

VALUES = [None, 0, -1, 1.5, 10**40, True, [], [1], {}, {"a": 1}, "", "x" * 20_000, "a\u0000b", "😀", "null"]


def bodies(base: dict):
    for field in base:
        for value in VALUES:
            yield {**base, field: value}


def check(response, provider: bool):
    assert response.status_code < 500, response.content
    body = response.json()
    if response.status_code >= 400:
        if provider:
            assert body["status"] == response.status_code and body["message"]
        else:
            assert body["error"]["message"]


def test_payment_intents_fields(seller):
    client = client_for(seller)
    base = {
        "amount": "100.00",
        "currency": "USD",
        "type": "DELIVERY_VS_PAYMENT",
        "settlementMethod": "OFF_RAMP_MOCK",
        "settlementDestination": "bank",
        "description": "d",
        "metadata": {"releaseType": "MILESTONE_LOCKED", "autoRelease": True},
    }
    for body in bodies(base):
        check(client.post("/v1/payment-intents", body, format="json"), provider=False)
    intent = client.post("/v1/payment-intents", base, format="json").json()["id"]
    for body in bodies({"milestoneIndex": 0, "amount": "1.00", "description": "d", "percentage": 10}):
        check(
            client.post(f"/v1/payment-intents/{intent}/escrow/milestones", body, format="json"),
            provider=False,
        )


def test_complete_fields(seller):
    client = client_for(seller)
    escrow = make_escrow(seller)
    first = milestones(escrow)[0]
    base = {"completedBy": "0xabc", "completionProof": "p", "completionProofURI": "https://example.com/p"}
    for body in bodies(base):
        url = f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{first.public_id}/complete"
        check(client.post(url, body, format="json"), provider=False)


def test_provider_fields(seller, buyer, platform):
    client = client_for(seller)
    base = {
        "amount": 100,
        "currency": "USD",
        "purpose": "p",
        "description": "d",
        "whoPays": "buyer",
        "maxDelivery": 3,
        "deliveryTimeline": "days",
        "totalQuantity": 1,
        "categoryId": "c",
        "milestones": [{"title": "a", "amount": 50}, {"title": "b", "amount": 50}],
    }
    for body in bodies(base):
        check(client.post("/v1/escrow/milestone/create", body, format="json"), provider=True)
    for body in bodies(
        {
            "title": "a",
            "description": "d",
            "amount": 50,
            "dueDate": "2099-01-01T00:00:00Z",
            "customerId": "cus_x",
        }
    ):
        data = {**base, "milestones": [body, {"title": "b", "amount": 50}]}
        check(client.post("/v1/escrow/milestone/create", data, format="json"), provider=True)
    escrow = make_escrow(seller)
    for body in bodies(base):
        check(
            client.put(f"/v1/escrow/milestone/edit/{escrow.payment_token}", body, format="json"),
            provider=True,
        )
    payer = client_for(buyer)
    pay = {
        "gateway": "WALLET",
        "transactionType": "ESCROW",
        "escrowDetails": {"escrowId": escrow.public_id},
        "reference": "r",
        "cardToken": "tok_visa",
    }
    for body in bodies(pay):
        check(payer.post("/v1/payment/escrow", body, format="json"), provider=True)
    for body in bodies({"amount": 1, "currency": "USD"}):
        check(payer.post("/v1/payment/topup", body, format="json"), provider=True)
    platform_client = client_for(platform)
    for body in bodies({"firstname": "a", "lastname": "b", "email": "new@example.test", "phone": "1"}):
        check(platform_client.post("/v1/customer/create", body, format="json"), provider=True)
