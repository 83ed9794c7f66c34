"""A seller's refund leaves its whole record: the posting names the stage when it refunds one
(none when several), its memo is the reason (at most 200 characters, "seller refund" when none
is given), every refunded stage and the escrow's close are written on the escrow by the seller,
and a request the refund overtakes is superseded in the seller's name. Refusals name the stage."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest, InvalidState
from escrows import services
from escrows.models import (
    ActorKind,
    CancellationStatus,
    EscrowStatus,
    Event,
    LedgerTransaction,
    MilestoneStatus,
    RefundRequestStatus,
    TransactionKind,
)
from escrows.services.refunds import REASON_MAX
from tests.helpers import fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def _record(event):
    return (
        event.kind,
        event.actor_id,
        event.actor_kind,
        event.escrow_id,
        event.milestone_id,
        event.from_status,
        event.to_status,
        event.details,
    )


def _refund_postings():
    return list(LedgerTransaction.objects.filter(kind=TransactionKind.REFUND).order_by("pk"))


def test_one_stage_refunded_names_its_stage_and_its_time(funded, seller):
    second = milestones(funded)[1]
    services.milestone_refund(milestone=second, by=seller, reason="Out of stock")
    (posting,) = _refund_postings()
    assert (posting.escrow_id, posting.milestone_id, posting.memo) == (funded.pk, second.pk, "Out of stock")
    refunded = refresh(second)
    assert refunded.refunded_at is not None
    assert abs(refunded.refunded_at - timezone.now()) < timedelta(seconds=5)


def test_several_stages_refunded_at_once_name_no_single_stage(funded, seller):
    first, second, _ = milestones(funded)
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[first, second], reason="Gone")
    (posting,) = _refund_postings()
    assert (posting.escrow_id, posting.milestone_id) == (funded.pk, None)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_without_a_reason_the_refund_says_seller_refund(funded, seller, reason):
    first, second, _ = milestones(funded)
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[first], reason=reason)
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[second])
    assert [p.memo for p in _refund_postings()] == ["seller refund", "seller refund"]
    assert [e.details["reason"] for e in Event.objects.filter(kind="milestone.refunded").order_by("pk")] == [
        "seller refund",
        "seller refund",
    ]


def test_one_stage_refund_without_a_reason_says_seller_refund(funded, seller):
    services.milestone_refund(milestone=milestones(funded)[0], by=seller)
    assert [p.memo for p in _refund_postings()] == ["seller refund"]


def test_a_long_reason_is_kept_whole_on_the_stage_and_cut_to_200_on_the_posting(funded, seller):
    reason = "r" * 250
    services.milestone_refund(milestone=milestones(funded)[0], by=seller, reason=reason)
    assert _refund_postings()[0].memo == "r" * 200
    assert Event.objects.get(kind="milestone.refunded").details["reason"] == reason


def test_a_reason_past_its_limit_is_cut_to_it(funded, seller):
    services.milestone_refund(milestone=milestones(funded)[0], by=seller, reason="r" * (REASON_MAX + 5))
    assert Event.objects.get(kind="milestone.refunded").details["reason"] == "r" * REASON_MAX


def test_only_this_escrows_open_request_and_proposal_are_superseded(funded, seller, buyer):
    other = make_escrow(seller, buyer=buyer)
    fund(other, buyer)
    declined = services.refund_request_create(escrow=funded, by=buyer, reason="first")
    services.refund_request_decline(refund_request=declined, by=seller, reason="no")
    withdrawn = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.cancellation_withdraw(proposal=withdrawn, by=buyer)
    theirs = services.refund_request_create(escrow=other, by=buyer, reason="theirs")
    their_proposal = services.cancellation_propose(
        escrow=other, by=buyer, buyer_amount=1, seller_amount=99_999
    )
    # Another escrow's open request does not stand in the way of this one's.
    mine = services.refund_request_create(escrow=funded, by=buyer, reason="mine")
    services.escrow_refund(escrow=funded, by=seller)
    assert refresh(mine).status == RefundRequestStatus.SUPERSEDED
    assert refresh(declined).status == RefundRequestStatus.DECLINED
    assert refresh(withdrawn).status == CancellationStatus.WITHDRAWN
    assert refresh(theirs).status == RefundRequestStatus.REQUESTED
    assert refresh(their_proposal).status == CancellationStatus.PROPOSED
    assert list(Event.objects.filter(kind__endswith=".superseded").values_list("kind", "escrow_id")) == [
        ("refund.superseded", funded.pk)
    ]


def test_refunding_the_last_stage_closes_the_escrow_in_the_sellers_name(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[first, second])
    mark = Event.objects.order_by("-pk").first().pk
    services.milestone_refund(milestone=third, by=seller, reason="Last one")
    assert [_record(e) for e in Event.objects.filter(pk__gt=mark).order_by("pk")] == [
        (
            "milestone.refunded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            third.pk,
            MilestoneStatus.PENDING,
            MilestoneStatus.REFUNDED,
            {"index": 2, "amount": 20_000, "reason": "Last one"},
        ),
        (
            "escrow.refunded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            None,
            EscrowStatus.OPENED,
            EscrowStatus.REFUNDED,
            {},
        ),
    ]


def test_the_whole_refund_records_each_stage_and_the_close_on_the_escrow(funded, seller):
    services.escrow_refund(escrow=funded, by=seller)
    records = [_record(e) for e in Event.objects.filter(kind__in=["milestone.refunded", "escrow.refunded"])]
    first, second, third = milestones(funded)
    assert sorted(records, key=lambda r: (r[0], r[4] or 0)) == [
        (
            "escrow.refunded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            None,
            "OPENED",
            "REFUNDED",
            {"amount": 100_000},
        ),
        *[
            (
                "milestone.refunded",
                seller.pk,
                ActorKind.USER,
                funded.pk,
                m.pk,
                "PENDING",
                "REFUNDED",
                {"amount": m.amount, "reason": "seller refund"},
            )
            for m in (first, second, third)
        ],
    ]


def test_a_whole_refund_supersedes_the_open_request_and_proposal_in_the_sellers_name(funded, seller, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Too slow")
    proposal = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)
    mark = Event.objects.order_by("-pk").first().pk
    services.escrow_refund(escrow=funded, by=seller)
    assert refresh(request).status == RefundRequestStatus.SUPERSEDED
    assert refresh(proposal).status == CancellationStatus.SUPERSEDED
    superseded = Event.objects.filter(pk__gt=mark, kind__endswith=".superseded").order_by("pk")
    assert [_record(e) for e in superseded] == [
        (
            "refund.superseded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            None,
            "",
            "",
            {"refundRequest": request.public_id, "reason": "the escrow is now refunded"},
        ),
        (
            "cancellation.superseded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            None,
            "",
            "",
            {"proposal": proposal.public_id, "held": 0},
        ),
    ]


def test_a_stage_refund_supersedes_the_request_for_that_stage_in_the_sellers_name(funded, seller, buyer):
    first, second, _ = milestones(funded)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[second])
    proposal = services.cancellation_propose(
        escrow=funded, by=seller, buyer_amount=60_000, seller_amount=40_000
    )
    mark = Event.objects.order_by("-pk").first().pk
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[second])
    superseded = Event.objects.filter(pk__gt=mark, kind__endswith=".superseded").order_by("pk")
    assert [_record(e) for e in superseded] == [
        (
            "refund.superseded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            None,
            "",
            "",
            {"refundRequest": request.public_id, "reason": "milestone 1 has since been refunded"},
        ),
        (
            "cancellation.superseded",
            seller.pk,
            ActorKind.USER,
            funded.pk,
            None,
            "",
            "",
            {"proposal": proposal.public_id, "held": 50_000},
        ),
    ]
    assert refresh(request).status == RefundRequestStatus.SUPERSEDED
    assert refresh(request).decided_at is not None
    assert refresh(proposal).status == CancellationStatus.SUPERSEDED
    assert refresh(proposal).decided_at is not None


def test_a_proposal_that_still_splits_what_is_held_is_left_open(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    proposal = services.cancellation_propose(
        escrow=funded, by=seller, buyer_amount=50_000, seller_amount=20_000
    )
    services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[milestones(funded)[1]])
    assert refresh(proposal).status == CancellationStatus.PROPOSED
    assert not Event.objects.filter(kind__endswith=".superseded").exists()


def test_a_settled_stage_is_refused_by_its_index_and_status(funded, seller, buyer):
    first = milestones(funded)[0]
    services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidState, match="^Milestone 0 is already released$") as refused:
        services.milestone_refund(milestone=first, by=seller)
    assert refused.value.code == "milestone_settled"


def test_a_stage_of_another_escrow_is_named_by_its_id(funded, seller, buyer):
    other = make_escrow(seller, buyer=buyer)
    fund(other, buyer)
    foreign = milestones(other)[0]
    with pytest.raises(InvalidRequest, match=f"^No milestone {foreign.public_id} in this escrow$") as refused:
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[foreign])
    assert (refused.value.code, refused.value.field) == ("milestone_unknown", "milestoneIds")


def test_an_unknown_stage_id_is_quoted_up_to_60_characters(funded, seller):
    unknown = "ms_" + "z" * 70
    with pytest.raises(InvalidRequest, match=f"^No milestone {unknown[:60]} in this escrow$"):
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[unknown])
