"""An integrator's whole day on the Finternet-compatible surface, through HTTP only: intents
created, paid by the buyer, read on the payment page, delivered with a proof and released on it,
and another disputed and resolved by staff; the money adds up at every step. The merchant's
receiver on 127.0.0.1, written for Finternet, checks every webhook with Finternet's own recipe."""

import pytest
from rest_framework.test import APIClient

from escrows.models import Escrow
from escrows.selectors import wallet_balance
from tests.api.conditional_payment_helpers import HASH
from tests.api.conftest import client_for
from tests.helpers import assert_ledger_invariants, clear_ledger_before_flush
from tests.webhooks.receivers import checked
from webhooks import services as webhooks

# Every request commits as in production, so payouts and webhooks go out after the commit
# (in-process).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("local_webhooks")]


@pytest.fixture(autouse=True)
def _empty_ledger_before_flush(transactional_db):
    yield
    clear_ledger_before_flush()


def ok(r, status=200):
    assert r.status_code == status, r.json()
    return r.json()


def test_an_integrators_day(seller, buyer, admin_user, receiver):
    merchant, customer, staff = client_for(seller), client_for(buyer, bearer=True), client_for(admin_user)
    # The merchant's webhooks go to a receiver written for Finternet.
    hook = ok(merchant.post("/v1/webhooks", {"url": receiver.url, "format": "finternet"}, format="json"), 201)
    assert (hook["format"], hook["url"]) == ("finternet", receiver.url)

    # Morning: two orders, one released on its proof of delivery, one the old way.
    quick = ok(
        merchant.post(
            "/v1/payment-intents",
            {
                "amount": "250.00",
                "currency": "USD",
                "type": "DELIVERY_VS_PAYMENT",
                "settlementMethod": "OFF_RAMP_MOCK",
                "settlementDestination": "bank_account_123",
                "description": "Order #1",
                "metadata": {"releaseType": "DELIVERY_PROOF", "autoRelease": True},
            },
            format="json",
        ),
        201,
    )
    slow = ok(
        merchant.post(
            "/v1/payment-intents",
            {"amount": "400.00", "currency": "USD", "description": "Order #2"},
            format="json",
        ),
        201,
    )
    # The payment page reads them without a key; nothing is there to confirm yet.
    page = ok(APIClient().get(f"/v1/payment-intents/public/{quick['id']}"))
    assert (page["totalAmount"], page["autoReleaseOnProof"]) == ("253.75", True)
    assert merchant.get(f"/v1/payment-intents/{quick['id']}/escrow").status_code == 404

    # The buyer tops up and pays both.
    ok(customer.post("/v1/payment/topup", {"amount": 700, "currency": "USD"}, format="json"))
    for intent in (quick, slow):
        ok(
            customer.post(
                "/v1/payment/escrow",
                {
                    "gateway": "WALLET",
                    "transactionType": "ESCROW",
                    "escrowDetails": {"escrowId": intent["id"]},
                    "reference": f"pay-{intent['id']}",
                },
                format="json",
            )
        )
    order = ok(merchant.get(f"/v1/payment-intents/{quick['id']}/conditional-payment"))["data"]
    assert (order["orderStatus"], order["settlementStatus"]) == ("PENDING", "NONE")
    assert_ledger_invariants()

    # Noon: the first ships; its proof releases it and the payout goes out.
    proof = ok(
        merchant.post(
            f"/v1/payment-intents/{quick['id']}/escrow/delivery-proof",
            {"proofHash": HASH, "proofURI": "ipfs://proof-1", "submittedBy": "0xMerchant"},
            format="json",
        )
    )
    assert proof["object"] == "delivery_proof"
    order = ok(merchant.get(f"/v1/payment-intents/{quick['id']}/escrow"))["data"]
    assert (order["orderStatus"], order["settlementStatus"], order["actualDeliveryHash"]) == (
        "COMPLETED",
        "CONFIRMED",
        HASH,
    )
    assert_ledger_invariants()

    # Afternoon: the second arrives broken; the buyer disputes it and the seller's proof is refused.
    raised = customer.post(
        f"/v1/payment-intents/{slow['id']}/conditional-payment/dispute",
        {"reason": "Arrived broken", "raisedBy": "0xBuyer", "disputeWindow": "259200"},
        format="json",
    )
    assert ok(raised) == {"object": "dispute", "status": "raised"}
    refused = merchant.post(
        f"/v1/payment-intents/{slow['id']}/conditional-payment/delivery-proof",
        {"proofHash": HASH, "submittedBy": "0xMerchant"},
        format="json",
    )
    assert refused.status_code == 400
    order = ok(customer.get(f"/v1/payment-intents/{slow['id']}/conditional-payment"))["data"]
    assert (order["orderStatus"], order["disputeRaisedBy"], order["disputeWindow"]) == (
        "DISPUTED",
        "0xBuyer",
        "259200",
    )

    # Evening: staff resolve it as a refund; the buyer has the money back, the order is cancelled.
    resolved = ok(
        staff.post(
            f"/v1/escrows/{slow['id']}/disputes/{order['disputeId']}/resolve",
            {"outcome": "refund", "note": "Photos show the damage"},
            format="json",
        )
    )
    assert resolved["status"] == "RESOLVED"
    order = ok(merchant.get(f"/v1/payment-intents/{slow['id']}/escrow"))["data"]
    assert (order["orderStatus"], order["settlementStatus"], order["disputeStatus"]) == (
        "CANCELLED",
        "CANCELLED",
        "RESOLVED",
    )
    again = customer.post(
        f"/v1/payment-intents/{slow['id']}/escrow/dispute",
        {"reason": "Still broken", "raisedBy": "0xBuyer"},
        format="json",
    )
    assert again.json()["error"]["message"] == "Cannot raise dispute: order is already cancelled"

    # The day's money: 250.00 paid out to the seller's bank, 400.00 back with the buyer, fees kept.
    assert wallet_balance(buyer, "USD") == 70_000 - 25_375 - 40_600 + 40_000
    assert wallet_balance(seller, "USD") == 0  # paid out to bank_account_123
    assert Escrow.objects.get(public_id=quick["id"]).settlements.get().amount == 25_000
    assert_ledger_invariants()

    # Night: whatever the outbox still holds goes out. The merchant's receiver verifies every
    # request with Finternet's recipe and hears each intent's events in the order they happened.
    webhooks.events_dispatch()
    bodies, bad_signatures = checked(receiver, "finternet", hook["secret"])
    assert bad_signatures == 0
    assert [(b["type"], intent_of(b)) for b in bodies] == [
        ("payment_intent.created", quick["id"]),
        ("payment_intent.created", slow["id"]),
        ("payment_intent.status_changed", quick["id"]),
        ("payment_intent.status_changed", slow["id"]),
        ("delivery_proof.submitted", quick["id"]),
        ("payment_intent.status_changed", quick["id"]),
        ("payment_intent.settlement_initiated", quick["id"]),
        ("payment_intent.settlement_completed", quick["id"]),
        ("payment_intent.status_changed", slow["id"]),
        ("dispute.raised", slow["id"]),
        ("dispute.resolved", slow["id"]),
        ("payment_intent.status_changed", slow["id"]),
    ]


def intent_of(body):
    """The payment intent a Finternet event is about: the intent itself, or a milestone's."""
    thing = body["data"]["object"]
    return thing["paymentIntentId"] if thing.get("object") == "milestone" else thing["id"]
