"""The escrow page's histories (refund requests, cancellation proposals) and the staff list of
open disputes: newest first (the later id first when two were made at the same instant, the
recorded time first even when it disagrees with the id), each row's people read in the same
query as the list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import selectors, services
from escrows.models import CancellationProposal, RefundRequest
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    return escrow


def _two_refund_requests(escrow, buyer):
    first = services.refund_request_create(escrow=escrow, by=buyer, reason="one")
    services.refund_request_withdraw(refund_request=first, by=buyer)
    second = services.refund_request_create(escrow=escrow, by=buyer, reason="two")
    return first, second


def _two_proposals(escrow, buyer):
    first = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.cancellation_withdraw(proposal=first, by=buyer)
    second = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=90_000, seller_amount=10_000)
    return first, second


@pytest.mark.parametrize(
    ("make", "model", "read"),
    [
        (_two_refund_requests, RefundRequest, selectors.refund_requests_of),
        (_two_proposals, CancellationProposal, selectors.cancellation_proposals_of),
    ],
)
def test_newest_first_by_time_then_id(funded, buyer, make, model, read):
    first, second = make(funded, buyer)
    same = timezone.now()
    model.objects.filter(pk__in=[first.pk, second.pk]).update(created_at=same)
    assert [x.pk for x in read(funded)] == [second.pk, first.pk]
    model.objects.filter(pk=first.pk).update(created_at=same + timedelta(minutes=1))
    assert [x.pk for x in read(funded)] == [first.pk, second.pk]


def test_histories_read_their_people_in_the_list_query(funded, seller, buyer, django_assert_num_queries):
    _two_refund_requests(funded, buyer)
    services.refund_request_decline(
        refund_request=RefundRequest.objects.get(status="REQUESTED"), by=seller, reason="no"
    )
    _two_proposals(funded, buyer)
    with django_assert_num_queries(1):
        people = [
            (r.requested_by.email, r.decided_by and r.decided_by.email)
            for r in selectors.refund_requests_of(funded)
        ]
    assert people == [(buyer.email, seller.email), (buyer.email, buyer.email)]
    with django_assert_num_queries(1):
        people = [
            (p.proposed_by.email, p.decided_by and p.decided_by.email)
            for p in selectors.cancellation_proposals_of(funded)
        ]
    assert people == [(buyer.email, None), (buyer.email, buyer.email)]


def test_open_disputes_come_with_their_escrow_and_milestone(funded, buyer, django_assert_num_queries):
    services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    with django_assert_num_queries(1):
        rows = [(d.escrow.public_id, d.milestone.index) for d in selectors.open_disputes()]
    assert rows == [(funded.public_id, 1)]
