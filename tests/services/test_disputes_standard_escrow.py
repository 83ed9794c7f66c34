"""A standard escrow's dispute (dispute_submit) refuses with stable codes, and a dispute that
has ended no longer blocks a new one; evidence given with an answer or a ruling is kept, with its
event tied to the escrow; a blocked party cannot act on a dispute."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import services as account_services
from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import services
from escrows.models import Dispute, DisputeStatus, EscrowStatus, Event
from escrows.services import EvidenceInput
from tests.helpers import fund, make_escrow, make_standard, milestones, refresh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


def pdf():
    return EvidenceInput(file=SimpleUploadedFile("r.pdf", b"%PDF-1.4 r", content_type="application/pdf"))


def test_a_milestone_escrow_is_refused_with_its_code(seller, buyer):
    staged = make_escrow(seller)
    fund(staged, buyer)
    with pytest.raises(InvalidRequest) as refused:
        services.dispute_submit(escrow=staged, by=buyer, message="Bad")
    assert refused.value.code == "milestone_escrow"


def test_a_second_dispute_by_the_opener_is_refused_with_its_code(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    services.dispute_submit(escrow=escrow, by=buyer, message="Broken")
    with pytest.raises(InvalidState) as refused:
        services.dispute_submit(escrow=escrow, by=buyer, message="Again")
    assert refused.value.code == "already_disputed"


def test_a_withdrawn_dispute_does_not_stop_the_buyer_opening_another(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    first = services.dispute_submit(escrow=escrow, by=buyer, message="Broken")
    services.dispute_withdraw(dispute=first, by=buyer)
    assert refresh(escrow).status == EscrowStatus.OPENED

    second = services.dispute_submit(escrow=escrow, by=buyer, message="Broken again")

    assert second.pk != first.pk
    assert (second.status, second.reason) == (DisputeStatus.OPEN, "Broken again")
    assert refresh(first).status == DisputeStatus.WITHDRAWN
    assert refresh(escrow).status == EscrowStatus.DISPUTED


def test_evidence_given_with_an_answer_is_kept_and_its_event_names_the_escrow(funded, seller, buyer):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")

    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="On time", evidence=pdf())

    row = Dispute.objects.get(pk=dispute.pk).evidence.get()
    assert (row.submitter_role, row.submitted_by, row.file_size) == ("seller", seller, len(b"%PDF-1.4 r"))
    event = Event.objects.get(kind="dispute.evidence_added")
    assert (event.escrow, event.milestone, event.details["evidence"]) == (
        funded,
        milestones(funded)[1],
        row.public_id,
    )


def test_a_dispute_opened_on_our_own_routes_names_no_opener_reference(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_submit(escrow=escrow, by=buyer, message="Broken")
    assert Dispute.objects.get(pk=dispute.pk).opener_reference == ""


def test_a_blocked_party_cannot_act_on_a_dispute(funded, seller, buyer):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    account_services.customer_block(customer=buyer)

    with pytest.raises(Forbidden) as refused:
        services.dispute_add_evidence(dispute=dispute, by=buyer, evidence=EvidenceInput(text="More"))

    assert refused.value.code == "customer_blocked"
    assert not Dispute.objects.get(pk=dispute.pk).evidence.exists()


def test_the_arbiters_evidence_event_names_the_escrow(funded, seller, buyer, admin_user):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")

    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund", note="Late", evidence=pdf())

    row = Dispute.objects.get(pk=dispute.pk).evidence.get()
    event = Event.objects.get(kind="dispute.evidence_added")
    assert (row.submitter_role, event.escrow, event.details["evidence"]) == ("arbiter", funded, row.public_id)
