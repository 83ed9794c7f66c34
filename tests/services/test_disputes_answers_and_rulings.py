"""The other party's answer to a dispute, and what staff may rule: the answer is recorded with
who gave it, when and why; accepting settles at once with the opener's request; a standard escrow's dispute
ends as withdrawn when both parties agree to cancel. Each refusal says exactly what is wrong."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import services
from escrows.models import DisputeStatus, EscrowStatus, Event
from escrows.services import EscrowTerms, EvidenceInput
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    return escrow


def _open(escrow, by, index=1):
    return services.dispute_open(escrow=escrow, milestone=milestones(escrow)[index], by=by, reason="Late")


def test_a_contested_dispute_records_the_answer_and_waits(funded, seller, buyer):
    dispute = _open(funded, buyer)
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="  Delivered on time  ")
    answered = refresh(dispute)
    assert answered.status == DisputeStatus.ANSWERED
    assert (answered.answer_choice, answered.answer_text, answered.answered_by) == (
        "contest",
        "Delivered on time",
        seller,
    )
    assert abs(answered.answered_at - timezone.now()) < timedelta(seconds=5)
    event = Event.objects.get(kind="dispute.answered")
    assert (event.actor, event.escrow_id, event.milestone_id) == (seller, funded.pk, milestones(funded)[1].pk)
    assert (event.from_status, event.to_status) == (DisputeStatus.OPEN, DisputeStatus.ANSWERED)
    assert event.details == {
        "dispute": dispute.public_id,
        "answer": "contest",
        "answeredBy": "seller",
        "reason": "Delivered on time",
    }
    with pytest.raises(InvalidState, match="^This dispute is already answered$") as refused:
        services.dispute_answer(dispute=dispute, by=seller, answer="accept")
    assert refused.value.code == "dispute_not_open"


def test_an_accepted_claim_settles_for_the_opener_with_a_note(funded, seller, buyer):
    dispute = services.dispute_open(
        escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late", default_outcome="refund"
    )
    services.dispute_answer(dispute=dispute, by=seller, answer="accept")
    settled = refresh(dispute)
    assert (settled.status, settled.outcome) == (DisputeStatus.RESOLVED, "refund")
    assert settled.resolution_note == "The seller accepted the claim"
    event = Event.objects.get(kind="dispute.answered")
    assert (event.from_status, event.to_status) == (DisputeStatus.OPEN, DisputeStatus.OPEN)
    assert event.details["answer"] == "accept" and event.details["reason"] == ""


def test_answers_are_checked_before_anything_changes(funded, seller, buyer):
    dispute = _open(funded, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="^answer must be one of: accept, contest$") as refused:
        services.dispute_answer(dispute=dispute, by=seller, answer="maybe")
    assert refused.value.field == "answer"
    for text in ("x" * 5001, "nul\x00"):
        with pytest.raises(InvalidRequest, match="^text must be at most 5000 characters$") as refused:
            services.dispute_answer(dispute=dispute, by=seller, answer="contest", text=text)
        assert refused.value.field == "text"
    with pytest.raises(Forbidden, match="^Only the seller can answer this dispute$"):
        services.dispute_answer(dispute=dispute, by=buyer, answer="accept")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="x" * 5000)
    assert ledger_fingerprint() == before


def test_resolution_amounts_say_which_input_is_wrong(funded, buyer):
    dispute = _open(funded, buyer)
    with pytest.raises(InvalidRequest, match="^outcome must be one of: release, refund, split$") as refused:
        services.dispute_resolution_amounts(dispute, outcome="resume", seller_amount=None, buyer_amount=None)
    assert refused.value.field == "outcome"
    for seller_amount, buyer_amount in ((1, None), (None, 1)):
        with pytest.raises(
            InvalidRequest, match="^A split needs both sellerAmount and buyerAmount$"
        ) as refused:
            services.dispute_resolution_amounts(
                dispute, outcome="split", seller_amount=seller_amount, buyer_amount=buyer_amount
            )
        assert refused.value.field == "sellerAmount"
    assert services.dispute_resolution_amounts(
        dispute, outcome="split", seller_amount=20_000, buyer_amount=30_000
    ) == (20_000, 30_000)
    assert services.dispute_resolution_amounts(
        dispute, outcome="refund", seller_amount=None, buyer_amount=None
    ) == (
        0,
        50_000,
    )


def test_evidence_needs_something_and_an_open_dispute(funded, seller, buyer, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    dispute = _open(funded, buyer)
    with pytest.raises(InvalidRequest, match="^Evidence needs text, a url or a file$") as refused:
        services.dispute_add_evidence(dispute=dispute, by=seller, evidence=EvidenceInput(text="  "))
    assert refused.value.field == "text"
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    with pytest.raises(InvalidState, match="^This dispute is resolved$") as refused:
        services.dispute_add_evidence(dispute=dispute, by=seller, evidence=EvidenceInput(text="late note"))
    assert refused.value.code == "dispute_closed"


def _standard(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    return escrow


def test_agreeing_to_cancel_ends_a_standard_escrows_dispute_as_withdrawn(seller, buyer):
    escrow = _standard(seller, buyer)
    earlier = services.dispute_open(escrow=escrow, by=buyer, reason="First look")
    services.dispute_withdraw(dispute=earlier, by=buyer)
    elsewhere = _standard(seller, buyer)
    untouched = services.dispute_open(escrow=elsewhere, by=buyer, reason="Other parcel")
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched")
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=50_000, seller_amount=30_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    closed = refresh(dispute)
    assert closed.status == DisputeStatus.WITHDRAWN
    assert abs(closed.withdrawn_at - timezone.now()) < timedelta(seconds=5)
    assert refresh(escrow).status != EscrowStatus.DISPUTED
    assert refresh(untouched).status == DisputeStatus.OPEN
    event = Event.objects.filter(kind="dispute.withdrawn").last()
    assert Event.objects.filter(kind="dispute.withdrawn").count() == 2  # the earlier one, by the buyer
    assert (event.actor, event.escrow_id, event.milestone_id) == (seller, escrow.pk, None)
    assert (event.from_status, event.to_status) == (DisputeStatus.OPEN, DisputeStatus.WITHDRAWN)
    assert event.details == {
        "dispute": dispute.public_id,
        "reason": "mutual cancellation",
        "proposal": proposal.public_id,
    }
