"""Every refund leaves the same record whichever way it happens: the posting's memo, each
refunded stage with when and why, the escrow's close, and the events in order with who did each
and what it moved. Refusals say exactly who may refund what."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import services
from escrows.models import (
    EscrowStatus,
    Event,
    LedgerTransaction,
    MilestoneStatus,
    RefundRequestStatus,
    TransactionKind,
)
from escrows.services import EscrowTerms
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def _log_since(mark):
    return [
        (e.kind, e.actor_id, e.milestone_id, e.from_status, e.to_status, e.details)
        for e in Event.objects.filter(pk__gt=mark).order_by("pk")
    ]


def _mark():
    last = Event.objects.order_by("-pk").first()
    return last.pk if last else 0


def _now(value):
    return abs(value - timezone.now()) < timedelta(seconds=5)


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)  # 300.00 / 500.00 / 200.00
    fund(escrow, buyer)
    return escrow


def test_the_seller_refunds_the_whole_escrow(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    mark = _mark()
    services.escrow_refund(escrow=funded, by=seller)
    closed = refresh(funded)
    assert closed.status == EscrowStatus.REFUNDED and _now(closed.closed_at)
    second, third = milestones(funded)[1:]
    assert all(_now(m.refunded_at) for m in (second, third))
    assert LedgerTransaction.objects.get(kind=TransactionKind.REFUND).memo == "seller refund"
    assert _log_since(mark) == [
        (
            "milestone.refunded",
            seller.pk,
            second.pk,
            MilestoneStatus.PENDING,
            MilestoneStatus.REFUNDED,
            {"amount": 50_000, "reason": "seller refund"},
        ),
        (
            "milestone.refunded",
            seller.pk,
            third.pk,
            MilestoneStatus.PENDING,
            MilestoneStatus.REFUNDED,
            {"amount": 20_000, "reason": "seller refund"},
        ),
        ("escrow.refunded", seller.pk, None, EscrowStatus.OPENED, EscrowStatus.REFUNDED, {"amount": 70_000}),
    ]


def test_a_whole_refund_is_the_sellers_and_needs_a_funded_undisputed_escrow(funded, seller, buyer):
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the seller can refund an escrow$"):
        services.escrow_refund(escrow=funded, by=buyer)
    services.dispute_open(escrow=funded, milestone=milestones(funded)[2], by=buyer, reason="Late")
    with pytest.raises(
        InvalidState, match="^Milestone 2 is disputed; it is frozen until the dispute is resolved$"
    ):
        services.escrow_refund(escrow=funded, by=seller)
    unfunded = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState, match="^Only a funded, undisputed escrow can be refunded$"):
        services.escrow_refund(escrow=unfunded, by=seller)
    assert ledger_fingerprint()[:2] == before[:2]


def test_a_standard_escrow_refund_moves_its_amount(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    mark = _mark()
    services.escrow_refund(escrow=escrow, by=seller)
    assert _log_since(mark) == [
        ("escrow.refunded", seller.pk, None, EscrowStatus.OPENED, EscrowStatus.REFUNDED, {"amount": 80_000}),
    ]


def test_the_seller_refunds_chosen_stages_with_a_reason(funded, seller, buyer):
    first, second, third = milestones(funded)
    mark = _mark()
    amount = services.escrow_refund_milestones(
        escrow=funded, by=seller, milestones=[third.public_id, first], reason="  Out of stock  "
    )
    assert amount == 50_000
    assert refresh(funded).status == EscrowStatus.OPENED
    assert LedgerTransaction.objects.get(kind=TransactionKind.REFUND).memo == "Out of stock"
    assert _log_since(mark) == [
        (
            "milestone.refunded",
            seller.pk,
            first.pk,
            MilestoneStatus.PENDING,
            MilestoneStatus.REFUNDED,
            {"index": 0, "amount": 30_000, "reason": "Out of stock"},
        ),
        (
            "milestone.refunded",
            seller.pk,
            third.pk,
            MilestoneStatus.PENDING,
            MilestoneStatus.REFUNDED,
            {"index": 2, "amount": 20_000, "reason": "Out of stock"},
        ),
    ]
    services.milestone_refund(milestone=second, by=seller, reason="Broken in transit")
    assert LedgerTransaction.objects.filter(kind=TransactionKind.REFUND).order_by("pk").last().memo == (
        "Broken in transit"
    )
    assert Event.objects.filter(kind="milestone.refunded").last().details["reason"] == "Broken in transit"
    assert refresh(funded).status == EscrowStatus.REFUNDED


def test_stage_refunds_are_the_sellers_and_need_a_choice(funded, seller, buyer):
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the seller can refund milestones$"):
        services.escrow_refund_milestones(escrow=funded, by=buyer, milestones=[milestones(funded)[0]])
    with pytest.raises(InvalidRequest, match="^Choose at least one milestone to refund$") as refused:
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[])
    assert refused.value.field == "milestoneIds"
    assert ledger_fingerprint() == before


def test_a_standard_escrow_is_not_refunded_by_stage(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    with pytest.raises(InvalidRequest, match="^A standard escrow is refunded whole$") as refused:
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=["ms_x"])
    assert refused.value.code == "not_milestone_escrow"


def test_an_accepted_refund_request_is_carried_out_and_recorded(funded, seller, buyer):
    first = milestones(funded)[0]
    request = services.refund_request_create(
        escrow=funded, by=buyer, reason="Never started", milestones=[first]
    )
    with pytest.raises(Forbidden, match="^Only the seller can accept a refund request$"):
        services.refund_request_accept(refund_request=request, by=buyer)
    mark = _mark()
    services.refund_request_accept(refund_request=request, by=seller)
    accepted = refresh(request)
    assert (accepted.status, accepted.decided_by) == (RefundRequestStatus.ACCEPTED, seller)
    assert _now(accepted.decided_at)
    memo = f"refund request {request.public_id}"
    assert LedgerTransaction.objects.get(kind=TransactionKind.REFUND).memo == memo
    assert _log_since(mark) == [
        ("refund.accepted", seller.pk, None, "", "", {"refundRequest": request.public_id, "amount": 30_000}),
        (
            "milestone.refunded",
            seller.pk,
            first.pk,
            MilestoneStatus.PENDING,
            MilestoneStatus.REFUNDED,
            {"index": 0, "amount": 30_000, "reason": memo},
        ),
    ]


def test_a_request_overtaken_by_a_release_cannot_be_accepted(funded, seller, buyer):
    first = milestones(funded)[0]
    request = services.refund_request_create(
        escrow=funded, by=buyer, reason="Never started", milestones=[first]
    )
    services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(
        InvalidState,
        match=(
            r"^This refund request can no longer be carried out as asked: milestone 0 has since been "
            r"released\. The buyer can withdraw it and ask again\.$"
        ),
    ) as refused:
        services.refund_request_accept(refund_request=request, by=seller)
    assert refused.value.code == "refund_request_stale"
