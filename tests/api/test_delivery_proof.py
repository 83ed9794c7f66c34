"""The seller's proof of delivery on a paid intent, on both of Finternet's paths: the published
answer and message, the escrow (or its current stage) delivered through the seller's "mark
delivered", and the money released on the proof only when the release type says so."""

import pytest

from escrows.models import DeliveryProof, Escrow, EscrowStatus, Event, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.api.conditional_payment_helpers import HASH, PATHS, PROOF, create, error_of, paid, prove, read
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, milestones, refresh

pytestmark = pytest.mark.django_db

BAD_HASH = "proofHash must be a valid bytes32 hex string"


@pytest.mark.parametrize(
    "value",
    [
        ...,  # missing
        None,
        "",
        12345,
        ["0x" + "ab" * 32],
        "0x" + "ab" * 31,  # 31 bytes
        "0x" + "ab" * 33,
        "0x" + "zz" * 32,
        "0X" + "ab" * 32,
        " 0x" + "ab" * 32,
        "0x" + "ab" * 32 + "\n",
        "0x" + "٣" * 64,  # digits, but not ASCII hex
    ],
)
@pytest.mark.parametrize("path", PATHS)
def test_anything_but_32_bytes_of_hex_is_refused_with_the_published_message(seller_api, buyer, value, path):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    before = ledger_fingerprint()
    r = prove(seller_api, escrow.public_id, path, proofHash=value)
    error = error_of(r, 400, BAD_HASH, "invalid_request")
    assert error["param"] == "proofHash"
    assert ledger_fingerprint() == before
    assert not DeliveryProof.objects.exists()
    assert Escrow.objects.get(pk=escrow.pk).delivered_at is None


def test_64_hex_digits_without_0x_are_taken_and_answered_as_0x_lowercase(seller_api, buyer):
    escrow = paid(seller_api, buyer)
    r = prove(seller_api, escrow.public_id, proofHash="AB" * 32)
    assert r.status_code == 200, r.json()
    assert r.json()["data"]["proofHash"] == HASH


@pytest.mark.parametrize("path", PATHS)
def test_a_proof_answers_the_published_object_and_marks_the_order_delivered(seller_api, buyer, path):
    escrow = paid(seller_api, buyer)
    before = ledger_fingerprint()
    r = prove(seller_api, escrow.public_id, path)
    assert r.status_code == 200, r.json()
    body = r.json()
    proof = DeliveryProof.objects.get()
    assert (body["id"], body["object"]) == (proof.public_id, "delivery_proof")
    assert body["id"].startswith("delivery_proof_")
    data = body["data"]
    assert {k: data[k] for k in ("id", "paymentIntentId", "proofHash", "proofURI", "submittedBy")} == {
        "id": proof.public_id,
        "paymentIntentId": escrow.public_id,
        "proofHash": HASH,
        "proofURI": PROOF["proofURI"],
        "submittedBy": PROOF["submittedBy"],
    }
    assert data["submittedAt"] == data["createdAt"] is not None
    # DELIVERY_PROOF without autoRelease: delivered, and the money stays held for the buyer.
    assert ledger_fingerprint() == before
    order = read(seller_api, escrow.public_id, path).json()["data"]
    assert (order["orderStatus"], order["settlementStatus"], order["actualDeliveryHash"]) == (
        "DELIVERED",
        "NONE",
        HASH,
    )
    assert order["deliveryProof"]["id"] == proof.public_id
    assert Event.objects.filter(kind="delivery_proof.submitted", escrow=escrow).count() == 1


def test_a_second_proof_of_the_same_order_is_refused(seller_api, buyer):
    escrow = paid(seller_api, buyer)
    assert prove(seller_api, escrow.public_id).status_code == 200
    error_of(
        prove(seller_api, escrow.public_id, "conditional-payment"),
        400,
        "Delivery proof already submitted for this order",
    )
    assert DeliveryProof.objects.count() == 1


@pytest.mark.parametrize(
    "metadata",
    [
        {"autoRelease": True},
        {"releaseType": "DELIVERY_PROOF", "autoRelease": True},
        {"releaseType": "AUTO_RELEASE"},
    ],
)
def test_release_on_proof_pays_the_seller_at_once(seller_api, seller, buyer, metadata):
    escrow = paid(seller_api, buyer, metadata)
    assert read(seller_api, escrow.public_id).json()["data"]["autoReleaseOnProof"] is True
    r = prove(seller_api, escrow.public_id)
    assert r.status_code == 200, r.json()
    escrow = Escrow.objects.get(pk=escrow.pk)
    assert escrow.status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 100_000
    assert Event.objects.filter(
        kind="escrow.completed", escrow=escrow, details__reason="auto-release on proof"
    ).exists()
    assert_ledger_invariants()


def test_auto_release_is_release_on_proof_even_with_auto_release_false(seller_api, buyer):
    intent = create(seller_api, {"releaseType": "AUTO_RELEASE", "autoRelease": False})
    assert (intent["releaseType"], intent["autoReleaseOnProof"]) == ("AUTO_RELEASE", True)


def test_only_the_seller_proves_delivery(seller_api, buyer_api, buyer, stranger_api):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    before = ledger_fingerprint()
    error_of(
        prove(buyer_api, escrow.public_id), 403, "Only the seller can submit a proof of delivery", "forbidden"
    )
    error_of(prove(stranger_api, escrow.public_id), 404, "Escrow not found")
    assert ledger_fingerprint() == before and not DeliveryProof.objects.exists()


def test_an_unpaid_intent_takes_no_proof(seller_api):
    intent = create(seller_api)
    error_of(prove(seller_api, intent["id"]), 404, "Conditional payment not found for this payment intent")


def test_a_disputed_order_takes_no_proof(seller_api, buyer_api, buyer):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    r = buyer_api.post(
        f"/v1/payment-intents/{escrow.public_id}/escrow/dispute",
        {"reason": "Never arrived", "raisedBy": "buyer"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    before = ledger_fingerprint()
    error_of(
        prove(seller_api, escrow.public_id),
        400,
        "Cannot submit delivery proof: order is disputed",
        "disputed",
    )
    assert ledger_fingerprint() == before


def test_a_completed_order_takes_no_proof(seller_api, buyer):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    prove(seller_api, escrow.public_id)
    error_of(
        prove(seller_api, escrow.public_id),
        400,
        "Cannot submit delivery proof: order is already completed",
        "invalid_status",
    )


@pytest.mark.parametrize(
    "changes, param",
    [
        ({"submittedBy": ...}, "submittedBy"),
        ({"submittedBy": ""}, "submittedBy"),
        ({"submittedBy": 42}, "submittedBy"),
        ({"submittedBy": "x" * 201}, "submittedBy"),
        ({"proofURI": "not a uri"}, "proofURI"),
        ({"proofURI": "https://example.com/\x00"}, "proofURI"),
        ({"proofURI": 7}, "proofURI"),
        ({"proofURI": "https://e.com/" + "a" * 2000}, "proofURI"),
        ({"orderId": "1"}, "orderId"),
    ],
)
def test_bad_fields_are_a_400_naming_them(seller_api, buyer, changes, param):
    escrow = paid(seller_api, buyer)
    error = error_of(prove(seller_api, escrow.public_id, **changes), 400)
    assert error["param"] == param
    assert not DeliveryProof.objects.exists()


def test_an_ipfs_address_and_no_address_are_both_fine(seller_api, buyer):
    first = paid(seller_api, buyer)
    r = prove(
        seller_api,
        first.public_id,
        proofURI="ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
    )
    assert r.status_code == 200, r.json()
    second = paid(seller_api, buyer)
    r = prove(seller_api, second.public_id, proofURI=...)
    assert (r.status_code, r.json()["data"]["proofURI"]) == (200, None)


def test_an_on_chain_transaction_hash_is_not_offered(seller_api, buyer):
    escrow = paid(seller_api, buyer)
    error = error_of(
        prove(seller_api, escrow.public_id, submitTxHash="0x" + "cd" * 32), 400, code="not_offered"
    )
    assert error["param"] == "submitTxHash" and "off-chain" in error["message"]
    assert not DeliveryProof.objects.exists()
    # An empty one asks for nothing on-chain.
    assert prove(seller_api, escrow.public_id, submitTxHash=None).status_code == 200


@pytest.mark.parametrize("body", ["[]", '"x"', "null", "{", '{"proofHash": {"a": 1}, "submittedBy": "s"}'])
def test_a_body_that_is_not_a_proof_is_a_400(seller_api, buyer, body):
    escrow = paid(seller_api, buyer)
    r = seller_api.post(
        f"/v1/payment-intents/{escrow.public_id}/escrow/delivery-proof", body, content_type="application/json"
    )
    error_of(r, 400)


def test_on_a_milestone_escrow_it_delivers_the_current_stage(seller_api, buyer):
    intent = create(seller_api, {"releaseType": "MILESTONE_LOCKED"})
    for i, amount in enumerate(("300.00", "700.00")):
        seller_api.post(
            f"/v1/payment-intents/{intent['id']}/escrow/milestones",
            {"milestoneIndex": i, "amount": amount},
            format="json",
        )
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    r = prove(seller_api, escrow.public_id)
    assert r.status_code == 200, r.json()
    first, second = milestones(escrow)
    assert r.json()["data"]["milestoneId"] == first.public_id
    # Through the seller's "mark delivered": the stage is delivered with the proof, its review runs.
    assert (first.status, first.completion_proof, first.completed_by) == (
        MilestoneStatus.COMPLETED,
        HASH,
        PROOF["submittedBy"],
    )
    assert first.review_deadline is not None
    assert second.status == MilestoneStatus.PENDING
    error_of(prove(seller_api, escrow.public_id), 400, "Milestone already completed")


def test_on_a_milestone_escrow_with_auto_release_the_stage_is_released(seller_api, seller, buyer):
    intent = create(seller_api, {"releaseType": "MILESTONE_LOCKED", "autoRelease": True})
    for i, amount in enumerate(("300.00", "700.00")):
        seller_api.post(
            f"/v1/payment-intents/{intent['id']}/escrow/milestones",
            {"milestoneIndex": i, "amount": amount},
            format="json",
        )
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    assert prove(seller_api, escrow.public_id).status_code == 200
    assert [m.status for m in milestones(escrow)] == [MilestoneStatus.RELEASED, MilestoneStatus.PENDING]
    assert prove(seller_api, escrow.public_id, proofHash="0x" + "cd" * 32).status_code == 200
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 100_000
    assert_ledger_invariants()
