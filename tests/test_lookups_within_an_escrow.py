"""A refund request or a cancellation proposal is looked up within its escrow: another escrow's
id is "not found" in words that say what was missing. A customer's payouts list newest first
(the later id first at the same instant), each with its escrow read in the same query."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import NotFound
from escrows import selectors, services
from escrows.models import Settlement
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(seller, buyer):
    first, second = make_escrow(seller, buyer=buyer), make_escrow(seller, buyer=buyer)
    fund(first, buyer)
    fund(second, buyer)
    return first, second


def test_a_refund_request_is_found_only_in_its_escrow(two, buyer, django_assert_num_queries):
    first, second = two
    request = services.refund_request_create(escrow=first, by=buyer, reason="Never started")
    with django_assert_num_queries(1):
        found = selectors.refund_request_get(first, request.public_id)
        assert found.escrow.public_id == first.public_id
    with pytest.raises(NotFound, match="^Refund request not found$"):
        selectors.refund_request_get(second, request.public_id)


def test_a_cancellation_proposal_is_found_only_in_its_escrow(two, buyer, django_assert_num_queries):
    first, second = two
    proposal = services.cancellation_propose(escrow=first, by=buyer, buyer_amount=100_000, seller_amount=0)
    with django_assert_num_queries(1):
        found = selectors.cancellation_proposal_get(first, proposal.public_id)
        assert found.escrow.public_id == first.public_id
    with pytest.raises(NotFound, match="^Cancellation proposal not found$"):
        selectors.cancellation_proposal_get(second, proposal.public_id)


def test_payouts_list_newest_first_with_their_escrow(
    seller, buyer, django_capture_on_commit_callbacks, django_assert_num_queries
):
    escrow = make_escrow(
        seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="iban-1"
    )
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
        services.milestone_release(milestone=milestones(escrow)[1], by=buyer)
    older, newer = Settlement.objects.order_by("pk")
    same = timezone.now()
    Settlement.objects.update(created_at=same)
    with django_assert_num_queries(1):
        rows = [(s.pk, s.escrow.public_id) for s in selectors.settlements_for_user(seller)]
    assert rows == [(newer.pk, escrow.public_id), (older.pk, escrow.public_id)]
    Settlement.objects.filter(pk=older.pk).update(created_at=same + timedelta(minutes=1))
    assert [s.pk for s in selectors.settlements_for_user(seller)] == [older.pk, newer.pk]
    assert list(selectors.settlements_for_user(buyer)) == []
