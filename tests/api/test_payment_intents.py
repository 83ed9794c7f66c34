"""Finternet's payment-intents surface: the documented shapes, every documented error word for word,
and no access to another customer's intents."""

import pytest

from escrows.models import Escrow, EscrowStatus, MilestoneStatus
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, milestones, refresh

pytestmark = pytest.mark.django_db

INTENT = {
    "amount": "1000.00",
    "currency": "USDC",
    "type": "DELIVERY_VS_PAYMENT",
    "settlementMethod": "OFF_RAMP_MOCK",
    "settlementDestination": "bank_account_123",
    "description": "Project PROJ-123",
    "metadata": {"projectId": "PROJ-123", "releaseType": "MILESTONE_LOCKED", "autoRelease": True},
}
COMPLETE = {
    "completedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318",
    "completionProof": "0xabcdef123456",
    "completionProofURI": "https://example.com/proofs/milestone-0",
}


def create_intent(api, **changes):
    body = {**INTENT, **changes}
    r = api.post("/v1/payment-intents", body, format="json")
    assert r.status_code == 201, r.json()
    return r.json()


def add_milestone(api, intent_id, index, amount, **extra):
    return api.post(
        f"/v1/payment-intents/{intent_id}/escrow/milestones",
        {"milestoneIndex": index, "amount": amount, "description": f"Stage {index}", **extra},
        format="json",
    )


def intent_with_milestones(api, parts=("300.00", "500.00", "200.00"), **changes):
    intent = create_intent(api, **changes)
    ids = []
    for i, amount in enumerate(parts):
        r = add_milestone(api, intent["id"], i, amount, percentage=30)
        assert r.status_code == 201, r.json()
        ids.append(r.json()["id"])
    return intent, ids


def complete(api, intent_id, milestone_id, body=COMPLETE):
    return api.post(
        f"/v1/payment-intents/{intent_id}/escrow/milestones/{milestone_id}/complete", body, format="json"
    )


def assert_error(response, status, code, message):
    assert response.status_code == status, response.json()
    assert response.json() == {"error": {"code": code, "message": message, "type": "invalid_request_error"}}


def test_create_intent_answers_the_fields_sent_and_a_payment_url(seller_api, seller):
    intent = create_intent(seller_api)
    assert intent["id"].startswith("intent_")
    assert intent["object"] == "payment_intent"
    assert intent["status"] == "AWAITING_PAYMENT"
    assert intent["amount"] == "1000.00"
    assert intent["currency"] == "USDC"
    assert intent["type"] == "DELIVERY_VS_PAYMENT"
    assert intent["settlementMethod"] == "OFF_RAMP_MOCK"
    assert intent["settlementDestination"] == "bank_account_123"
    assert intent["metadata"] == INTENT["metadata"]
    assert intent["releaseType"] == "MILESTONE_LOCKED"
    assert intent["autoReleaseOnProof"] is True
    assert intent["fee"] == "15.00"
    escrow = Escrow.objects.get(public_id=intent["id"])
    assert intent["paymentUrl"] == f"https://escrow.example.test/pay/{escrow.payment_token}"
    assert escrow.seller == seller
    assert escrow.amount == 100_000
    assert escrow.settlement_type == "MILESTONE"


def test_without_release_type_an_intent_is_a_standard_delivery_proof_escrow(seller_api):
    intent = create_intent(seller_api, metadata={"projectId": "x"})
    escrow = Escrow.objects.get(public_id=intent["id"])
    assert (escrow.settlement_type, escrow.release_type, escrow.auto_release_on_proof) == (
        "STANDARD",
        "DELIVERY_PROOF",
        False,
    )
    assert_error(
        add_milestone(seller_api, intent["id"], 0, "300.00"),
        400,
        "invalid_request",
        "Cannot create milestone for order with release type: DELIVERY_PROOF",
    )


def test_retrieve_intent_by_its_parties_only(seller_api, stranger_api):
    intent = create_intent(seller_api)
    r = seller_api.get(f"/v1/payment-intents/{intent['id']}")
    assert r.status_code == 200
    assert r.json()["id"] == intent["id"]
    assert_error_404 = stranger_api.get(f"/v1/payment-intents/{intent['id']}")
    assert assert_error_404.status_code == 404
    assert assert_error_404.json()["error"]["code"] == "resource_missing"


def test_milestone_create_answers_the_documented_shape(seller_api):
    intent = create_intent(seller_api)
    r = add_milestone(seller_api, intent["id"], 0, "300.00", percentage=30)
    assert r.status_code == 201
    body = r.json()
    assert body["object"] == "milestone"
    assert body["id"] == body["data"]["id"] and body["id"].startswith("milestone_")
    data = body["data"]
    assert data["paymentIntentId"] == intent["id"]
    assert data["milestoneIndex"] == 0
    assert data["description"] == "Stage 0"
    assert data["amount"] == "300.00"
    assert data["percentage"] == 30
    assert data["status"] == "PENDING"
    assert data["createdAt"].endswith("Z")


def test_milestone_list(seller_api):
    intent, ids = intent_with_milestones(seller_api)
    r = seller_api.get(f"/v1/payment-intents/{intent['id']}/escrow/milestones")
    assert r.status_code == 200
    assert r.json()["object"] == "list"
    assert [m["id"] for m in r.json()["data"]] == ids
    assert [m["amount"] for m in r.json()["data"]] == ["300.00", "500.00", "200.00"]


def test_duplicate_milestone_index(seller_api):
    intent = create_intent(seller_api)
    assert add_milestone(seller_api, intent["id"], 0, "300.00").status_code == 201
    before = ledger_fingerprint()
    assert_error(
        add_milestone(seller_api, intent["id"], 0, "100.00"),
        400,
        "invalid_request",
        "Milestone with index 0 already exists",
    )
    assert ledger_fingerprint() == before


def test_milestone_amounts_may_not_exceed_the_order(seller_api):
    intent = create_intent(seller_api)
    assert add_milestone(seller_api, intent["id"], 0, "600.00").status_code == 201
    assert_error(
        add_milestone(seller_api, intent["id"], 1, "400.01"),
        400,
        "invalid_request",
        "Total milestone amounts exceed escrow order amount",
    )


def test_complete_milestone_documented_response_and_errors(seller_api, buyer):
    intent, ids = intent_with_milestones(seller_api)
    assert_error(
        complete(seller_api, intent["id"], ids[1]),
        400,
        "invalid_request",
        "Previous milestone (index 0) must be completed first",
    )
    r = complete(seller_api, intent["id"], ids[0])
    assert r.status_code == 200
    assert r.json()["object"] == "milestone" and r.json()["status"] == "completed"
    assert_error(
        complete(seller_api, intent["id"], ids[0]), 400, "invalid_request", "Milestone already completed"
    )
    assert_error(
        complete(seller_api, intent["id"], "milestone_doesnotexist"),
        404,
        "resource_missing",
        "Milestone not found",
    )
    # Funding releases the completed milestone (auto-release on proof); completing it again:
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    assert milestones(escrow)[0].status == MilestoneStatus.RELEASED
    assert_error(
        complete(seller_api, intent["id"], ids[0]), 400, "invalid_request", "Milestone already released"
    )
    assert_ledger_invariants()


def test_completing_a_funded_auto_release_intent_releases_at_once(seller_api, buyer, seller):
    intent, ids = intent_with_milestones(seller_api)
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    for milestone_id in ids:
        assert complete(seller_api, intent["id"], milestone_id).status_code == 200
    assert [m.status for m in milestones(escrow)] == [MilestoneStatus.RELEASED] * 3
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    # A settlement method schedules an off-ramp payout for each release.
    assert escrow.settlements.count() == 3
    assert_ledger_invariants()


def test_without_auto_release_completion_waits_for_the_buyer(seller_api, buyer_api, buyer):
    intent, ids = intent_with_milestones(
        seller_api, metadata={"releaseType": "MILESTONE_LOCKED", "autoRelease": False}
    )
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    assert complete(seller_api, intent["id"], ids[0]).status_code == 200
    assert milestones(escrow)[0].status == MilestoneStatus.COMPLETED
    # The buyer "completing" a milestone accepts it: it is released.
    r = complete(buyer_api, intent["id"], ids[0])
    assert r.status_code == 200 and r.json()["status"] == "released"
    assert milestones(escrow)[0].status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


def test_bola_another_customers_intent_and_milestone_are_404(seller_api, stranger_api, stranger):
    intent, ids = intent_with_milestones(seller_api)
    own = create_intent(stranger_api)
    before = ledger_fingerprint()
    for r in (
        stranger_api.get(f"/v1/payment-intents/{intent['id']}"),
        stranger_api.get(f"/v1/payment-intents/{intent['id']}/escrow/milestones"),
        add_milestone(stranger_api, intent["id"], 5, "1.00"),
        complete(stranger_api, intent["id"], ids[0]),
        # Someone else's milestone under one's own intent is not found either.
        complete(stranger_api, own["id"], ids[0]),
    ):
        assert r.status_code == 404, r.json()
        assert r.json()["error"]["code"] == "resource_missing"
    assert ledger_fingerprint() == before


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**INTENT, "amount": 10.5}, "amount"),
        ({**INTENT, "amount": "ten"}, "amount"),
        ({**INTENT, "amount": "-5.00"}, "amount"),
        ({**INTENT, "amount": "1.001"}, "amount"),
        ({**INTENT, "amount": "9" * 39}, "amount"),
        ({**INTENT, "amount": True}, "amount"),
        ({**INTENT, "currency": "XXX"}, "currency"),
        ({**INTENT, "currency": 5}, "currency"),
        ({**INTENT, "metadata": []}, "metadata"),
        ({**INTENT, "metadata": {"releaseType": "SOMETIMES"}}, "metadata.releaseType"),
        (
            {**INTENT, "metadata": {"releaseType": "MILESTONE_LOCKED", "autoRelease": "yes"}},
            "metadata.autoRelease",
        ),
        ({**INTENT, "metadata": {"x": "a\u0000b"}}, "metadata"),
        ({**INTENT, "settlementMethod": "WIRE"}, "settlementMethod"),
        ({**INTENT, "colour": "blue"}, "colour"),
        ({k: v for k, v in INTENT.items() if k != "amount"}, "amount"),
    ],
)
def test_bad_intent_input_is_a_400_envelope(seller_api, body, param):
    r = seller_api.post("/v1/payment-intents", body, format="json")
    assert r.status_code == 400, r.json()
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]
    assert Escrow.objects.count() == 0


def test_unicode_descriptions_are_kept(seller_api):
    intent = create_intent(seller_api, description="Réfection du toit 🏠 — 第一阶段")
    assert intent["description"] == "Réfection du toit 🏠 — 第一阶段"


@pytest.mark.parametrize(
    "body",
    [
        {"milestoneIndex": "0", "amount": "300.00"},
        {"milestoneIndex": -1, "amount": "300.00"},
        {"milestoneIndex": 10**30, "amount": "300.00"},
        {"milestoneIndex": 0, "amount": 300.5},
        {"milestoneIndex": 0, "amount": "300.00", "percentage": 101},
        {"milestoneIndex": 0, "amount": "300.00", "percentage": "NaN"},
        {"milestoneIndex": 0, "amount": "300.00", "extra": 1},
        {"amount": "300.00"},
    ],
)
def test_bad_milestone_input_is_a_400_envelope(seller_api, body):
    intent = create_intent(seller_api)
    r = seller_api.post(f"/v1/payment-intents/{intent['id']}/escrow/milestones", body, format="json")
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body",
    [{}, {"completedBy": 5}, {**COMPLETE, "completionProofURI": "not a url"}, {**COMPLETE, "foo": "bar"}],
)
def test_bad_complete_input_is_a_400_envelope(seller_api, body):
    intent, ids = intent_with_milestones(seller_api)
    r = complete(seller_api, intent["id"], ids[0], body)
    assert r.status_code == 400, r.json()
    assert milestones(Escrow.objects.get(public_id=intent["id"]))[0].status == MilestoneStatus.PENDING
