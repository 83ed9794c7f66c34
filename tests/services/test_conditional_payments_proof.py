"""The seller's proof of delivery (delivery_proof_submit): the proof and its event name the stage
delivered (none on a standard escrow) and the seller who proved it. It refuses in exact words: an
order nobody paid is not found; who submitted it (submittedBy) is required, at most 200 characters
and without a NUL; the proof's URI a URI of at most 2000 characters; a milestone order whose open
stages are all disputed has nothing to deliver. A stage released on the proof pays the seller's
account read with the escrow's lock, without looking it up again."""

from unittest import mock

import pytest

from core.errors import InvalidRequest, InvalidState, NotFound
from escrows import ledger, services
from escrows.models import DeliveryProof, EscrowStatus, Event, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.helpers import fund, ledger_fingerprint, make_escrow, make_standard, milestones, refresh, refusal

pytestmark = pytest.mark.django_db

HASH = "0x" + "ab" * 32
URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
WALLET = "0x742d35Cc6634C0532925a3b844Bc9e7595f42318"


def paid_standard(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    return refresh(escrow)


def submit(escrow, by, submitted_by=WALLET, proof_uri=""):
    return services.delivery_proof_submit(
        escrow=escrow, by=by, proof_hash=HASH, submitted_by=submitted_by, proof_uri=proof_uri
    )


def test_an_order_nobody_paid_is_not_found(seller):
    escrow = make_standard(seller)
    assert refusal(NotFound, lambda: submit(escrow, seller)) == (
        "resource_missing",
        None,
        "Conditional payment not found for this payment intent",
        "Conditional payment not found for this payment intent",
    )


@pytest.mark.parametrize("submitted_by", ["", "   ", None])
def test_who_submitted_the_proof_is_required(seller, buyer, submitted_by):
    escrow = paid_standard(seller, buyer)
    before = ledger_fingerprint()
    assert refusal(InvalidRequest, lambda: submit(escrow, seller, submitted_by)) == (
        "invalid_request",
        "submittedBy",
        "submittedBy is required",
        "submittedBy is required",
    )
    assert not DeliveryProof.objects.exists()
    assert refresh(escrow).delivered_at is None
    assert ledger_fingerprint() == before


def test_who_submitted_the_proof_is_at_most_200_characters(seller, buyer):
    escrow = paid_standard(seller, buyer)
    assert refusal(InvalidRequest, lambda: submit(escrow, seller, "s" * 201)) == (
        "invalid_request",
        "submittedBy",
        "submittedBy must be at most 200 characters",
        "submittedBy must be at most 200 characters",
    )
    assert not DeliveryProof.objects.exists()
    proof = submit(escrow, seller, f" {'s' * 200} ")
    assert refresh(proof).submitted_by == "s" * 200


def test_the_proofs_uri_is_at_most_2000_characters(seller, buyer):
    escrow = paid_standard(seller, buyer)
    uri = "https://example.com/" + "p" * 1980
    assert refusal(InvalidRequest, lambda: submit(escrow, seller, proof_uri=uri + "p")) == (
        "invalid_request",
        "proofURI",
        "proofURI must be at most 2000 characters",
        "proofURI must be at most 2000 characters",
    )
    assert not DeliveryProof.objects.exists()
    assert refresh(submit(escrow, seller, proof_uri=uri)).proof_uri == uri


def test_a_stage_released_on_the_proof_pays_the_sellers_account_read_with_the_lock(seller, buyer):
    escrow = make_escrow(seller, release_type="DELIVERY_PROOF", auto_release_on_proof=True)
    fund(escrow, buyer)
    account = ledger.customer_account(seller, "USD")
    with mock.patch.object(ledger, "_account", wraps=ledger._account) as looked_up:
        submit(escrow, seller)
    assert milestones(escrow)[0].status == MilestoneStatus.RELEASED
    assert refresh(account).balance == wallet_balance(seller, "USD") == 30_000
    assert [c for c in looked_up.call_args_list if seller in c.args] == []


def test_a_stage_proof_names_the_stage_and_the_seller(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    proof = refresh(submit(escrow, seller, proof_uri=URI))
    assert (proof.milestone_id, proof.submitter, proof.submitted_by) == (first.pk, seller, WALLET)
    completed = Event.objects.get(escrow=escrow, kind="milestone.completed")
    assert (completed.actor, completed.actor_kind, completed.milestone_id) == (seller, "user", first.pk)
    submitted = Event.objects.get(escrow=escrow, kind="delivery_proof.submitted")
    assert (submitted.actor, submitted.actor_kind, submitted.milestone_id) == (seller, "user", first.pk)
    assert submitted.details == {
        "deliveryProof": proof.public_id,
        "proofHash": HASH,
        "proofUri": URI,
        "submittedBy": WALLET,
        "index": 0,
    }
    assert refresh(first).status == MilestoneStatus.COMPLETED


def test_a_standard_orders_proof_names_no_stage(seller, buyer):
    escrow = paid_standard(seller, buyer)
    proof = refresh(submit(escrow, seller))
    assert proof.milestone_id is None
    submitted = Event.objects.get(escrow=escrow, kind="delivery_proof.submitted")
    assert (submitted.actor, submitted.actor_kind, submitted.milestone_id) == (seller, "user", None)
    assert submitted.details == {
        "deliveryProof": proof.public_id,
        "proofHash": HASH,
        "proofUri": "",
        "submittedBy": WALLET,
        "index": None,
    }


def test_who_submitted_the_proof_may_not_hold_a_nul(seller, buyer):
    escrow = paid_standard(seller, buyer)
    assert refusal(InvalidRequest, lambda: submit(escrow, seller, "seller\x00wallet"))[1:3] == (
        "submittedBy",
        "submittedBy must be at most 200 characters",
    )
    assert not DeliveryProof.objects.exists()


@pytest.mark.parametrize("proof_uri", ["delivery proof", "example.com/proof", "https://example.com/a b"])
def test_the_proofs_uri_must_be_a_uri(seller, buyer, proof_uri):
    escrow = paid_standard(seller, buyer)
    assert refusal(InvalidRequest, lambda: submit(escrow, seller, proof_uri=proof_uri)) == (
        "invalid_request",
        "proofURI",
        "proofURI must be a URI, such as https://… or ipfs://…",
        "proofURI must be a URI, such as https://… or ipfs://…",
    )
    assert not DeliveryProof.objects.exists()


def test_a_milestone_order_whose_open_stage_is_disputed_has_nothing_to_deliver(seller, buyer):
    escrow = make_escrow(seller, parts=(20_000, 30_000))
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    services.conditional_payment_dispute(escrow=escrow, by=buyer, reason="Never arrived", raised_by="buyer")
    before = ledger_fingerprint()
    assert refusal(InvalidState, lambda: submit(escrow, seller)) == (
        "disputed",
        None,
        "Cannot submit delivery proof: the order's stages are disputed",
        "Cannot submit delivery proof: the order's stages are disputed",
    )
    assert not DeliveryProof.objects.exists()
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert ledger_fingerprint() == before
