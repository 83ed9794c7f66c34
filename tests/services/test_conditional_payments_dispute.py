"""A dispute raised on Finternet's order (conditional_payment_dispute) and the disputeWindow it may
name: who raised it (raisedBy) is required and at most 200 characters, refused in those exact
words; one live dispute per order, whatever other orders have; an order nobody paid is not
found; the window in whole seconds, its digits at most ten."""

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import InvalidRequest, NotFound
from escrows import services
from escrows.models import Dispute, DisputeStatus, EscrowStatus
from escrows.services.conditional_payments import dispute_window_of
from tests.helpers import at, fund, ledger_fingerprint, make_standard, refresh, refusal

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW_MESSAGE = (
    "disputeWindow must be a whole number of seconds from 86400 (1 day) to 2592000 (30 days), "
    'such as "604800"'
)


def paid_standard(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    return refresh(escrow)


def raise_dispute(escrow, by, raised_by="0x742d35Cc6634C0532925a3b844Bc9e7595f42318", **kwargs):
    return services.conditional_payment_dispute(
        escrow=escrow, by=by, reason="Item not delivered as described", raised_by=raised_by, **kwargs
    )


def test_an_order_nobody_paid_is_not_found(seller):
    escrow = make_standard(seller)
    assert refusal(NotFound, lambda: raise_dispute(escrow, seller)) == (
        "resource_missing",
        None,
        "Conditional payment not found for this payment intent",
        "Conditional payment not found for this payment intent",
    )


@pytest.mark.parametrize("raised_by", ["", "   ", None])
def test_who_raised_the_dispute_is_required(seller, buyer, raised_by):
    escrow = paid_standard(seller, buyer)
    before = ledger_fingerprint()
    assert refusal(InvalidRequest, lambda: raise_dispute(escrow, buyer, raised_by)) == (
        "invalid_request",
        "raisedBy",
        "raisedBy is required",
        "raisedBy is required",
    )
    assert not Dispute.objects.exists()
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert ledger_fingerprint() == before


def test_who_raised_the_dispute_is_at_most_200_characters(seller, buyer):
    escrow = paid_standard(seller, buyer)
    assert refusal(InvalidRequest, lambda: raise_dispute(escrow, buyer, "b" * 201)) == (
        "invalid_request",
        "raisedBy",
        "raisedBy must be at most 200 characters",
        "raisedBy must be at most 200 characters",
    )
    assert not Dispute.objects.exists()
    dispute = raise_dispute(escrow, buyer, f"  {'b' * 200}  ")
    assert refresh(dispute).opener_reference == "b" * 200


def test_another_orders_live_dispute_does_not_block_this_one(seller, buyer):
    other = paid_standard(seller, buyer)
    raise_dispute(other, buyer)
    escrow = paid_standard(seller, buyer)
    with at(NOW):
        dispute = raise_dispute(escrow, seller, window=timedelta(days=2))
    dispute = refresh(dispute)
    assert (dispute.escrow_id, dispute.status, dispute.deadline) == (
        escrow.pk,
        DisputeStatus.OPEN,
        NOW + timedelta(days=2),
    )
    assert dispute.milestone_id is None
    assert refresh(escrow).status == EscrowStatus.DISPUTED


def test_a_second_dispute_on_the_same_order_is_refused(seller, buyer):
    escrow = paid_standard(seller, buyer)
    raise_dispute(escrow, buyer)
    assert (
        refusal(InvalidRequest, lambda: raise_dispute(escrow, seller))[2]
        == "Dispute already raised for this order"
    )
    assert Dispute.objects.count() == 1


def test_a_dispute_window_of_ten_digits_is_read_and_of_eleven_refused():
    assert dispute_window_of("0000604800") == timedelta(days=7)
    with pytest.raises(InvalidRequest) as caught:
        dispute_window_of("00000604800")
    assert (caught.value.field, caught.value.message) == ("disputeWindow", WINDOW_MESSAGE)


@pytest.mark.parametrize("value", ["86399", 2_592_001, "7 days", True])
def test_a_dispute_window_out_of_range_is_refused_in_the_published_words(value):
    with pytest.raises(InvalidRequest) as caught:
        dispute_window_of(value)
    assert (caught.value.field, caught.value.message) == ("disputeWindow", WINDOW_MESSAGE)
