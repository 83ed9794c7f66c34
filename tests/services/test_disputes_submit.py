"""A standard escrow's dispute as one conversation (dispute_submit): the buyer's message opens
it, the seller's answers it once and it goes to an arbiter, evidence with either; and the
platform both parties are customers of decides it, as staff would."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import customer_create_for_platform
from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.ledger import customer_account
from escrows.models import Dispute, DisputeAnswer, DisputeStatus, EscrowStatus
from escrows.services import EvidenceInput
from tests.factories import UserFactory
from tests.helpers import (
    assert_ledger_invariants,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_standard,
    refresh,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


def pdf():
    return EvidenceInput(file=SimpleUploadedFile("r.pdf", b"%PDF-1.4 r", content_type="application/pdf"))


def test_the_buyer_opens_the_seller_answers_once(seller, buyer, stranger):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    with pytest.raises(Forbidden, match="^Only the buyer can open a dispute"):
        services.dispute_submit(escrow=escrow, by=seller, message="Early")
    with pytest.raises(NotFound):
        services.dispute_submit(escrow=escrow, by=stranger, message="Nosy")
    opened = services.dispute_submit(escrow=escrow, by=buyer, message="  Broken  ", evidence=pdf())
    assert (opened.status, opened.opener_role, opened.reason, opened.amount) == (
        "OPEN",
        "buyer",
        "Broken",
        50_000,
    )
    assert refresh(escrow).status == EscrowStatus.DISPUTED
    assert opened.evidence.get().submitter_role == "buyer"
    with pytest.raises(InvalidState, match="^This escrow is already disputed$"):
        services.dispute_submit(escrow=escrow, by=buyer, message="Again")
    answered = services.dispute_submit(escrow=escrow, by=seller, message="It works", evidence=pdf())
    assert answered.pk == opened.pk
    answered = Dispute.objects.get(pk=opened.pk)
    assert answered.status == DisputeStatus.ANSWERED and answered.answer_choice == DisputeAnswer.CONTEST
    assert (answered.answer_text, answered.answered_by) == ("It works", seller)
    assert [e.submitter_role for e in answered.evidence.order_by("id")] == ["buyer", "seller"]
    with pytest.raises(InvalidState, match="^This dispute is already answered$"):
        services.dispute_submit(escrow=escrow, by=seller, message="More")


def test_refused_with_nothing_written(seller, buyer):
    staged = make_escrow(seller)
    fund(staged, buyer)
    unpaid = make_standard(seller)
    escrow = make_standard(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="^Milestone escrows cannot be disputed$"):
        services.dispute_submit(escrow=staged, by=buyer, message="Bad")
    with pytest.raises(InvalidState, match="^This escrow is not funded yet$"):
        services.dispute_submit(escrow=unpaid, by=seller, message="Bad")
    with pytest.raises(InvalidRequest, match="^A dispute needs a reason$"):
        services.dispute_submit(escrow=escrow, by=buyer, message="  ")
    bad = EvidenceInput(file=SimpleUploadedFile("x.exe", b"MZ", content_type="application/x-msdownload"))
    with pytest.raises(InvalidRequest, match="^The evidence file must be"):
        services.dispute_submit(escrow=escrow, by=buyer, message="Bad", evidence=bad)
    assert ledger_fingerprint() == before and not Dispute.objects.exists()
    services.dispute_submit(escrow=escrow, by=buyer, message="Bad")
    with pytest.raises(InvalidRequest, match="^The evidence file must be"):
        services.dispute_submit(escrow=escrow, by=seller, message="No", evidence=bad)
    assert Dispute.objects.get().status == DisputeStatus.OPEN


@pytest.fixture
def platform(db):
    return UserFactory(email="platform@example.test", is_platform=True)


@pytest.fixture
def customers(platform):
    sam = customer_create_for_platform(platform=platform, email="sam@shop.test")
    bea = customer_create_for_platform(platform=platform, email="bea@shop.test")
    return sam, bea


def test_the_platform_of_both_parties_decides(platform, customers):
    sam, bea = customers
    escrow = make_standard(sam)
    fund(escrow, bea)
    assert refresh(escrow).arbitrated_by(platform)
    dispute = services.dispute_submit(escrow=escrow, by=bea, message="Late")
    resolved = services.dispute_resolve(
        dispute=dispute,
        by=platform,
        outcome="split",
        seller_amount=30_000,
        buyer_amount=20_000,
        note="Both late",
        evidence=pdf(),
    )
    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        "RESOLVED",
        platform,
        "Both late",
    )
    assert resolved.evidence.filter(submitter_role="arbiter").count() == 1
    assert customer_account(sam, "USD").balance == 30_000
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_no_platform_decides_between_others(platform, customers, seller, buyer):
    sam, bea = customers
    mixed = make_standard(sam)
    fund(mixed, buyer)  # a buyer from outside the platform
    outside = make_standard(seller)
    fund(outside, bea)
    not_a_platform = UserFactory(email="plain@example.test")
    for escrow, by in ((mixed, platform), (outside, platform)):
        escrow = refresh(escrow)
        assert not escrow.arbitrated_by(by)
        dispute = services.dispute_open(escrow=escrow, by=escrow.buyer, reason="Late")
        with pytest.raises(NotFound):
            services.dispute_resolve(dispute=dispute, by=by, outcome="refund")
    ours = make_standard(sam)
    fund(ours, bea)
    assert not refresh(ours).arbitrated_by(not_a_platform) and not refresh(ours).arbitrated_by(sam)
    dispute = services.dispute_open(escrow=ours, by=bea, reason="Late")
    with pytest.raises(Forbidden, match="^Only an administrator can resolve a dispute$"):
        services.dispute_resolve(dispute=dispute, by=sam, outcome="release")
    assert Dispute.objects.filter(status=DisputeStatus.RESOLVED).count() == 0
