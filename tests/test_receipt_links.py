"""The receipts an escrow page lists: the buyer's payment and each posting that paid the seller's
side anything, with its stage, time and exact amount (one cent included), oldest first; never
another escrow's, nor a payout that came back to the seller's balance."""

from datetime import UTC, datetime

import pytest

from escrows import services
from escrows.models import TransactionKind
from escrows.selectors import receipts_of
from tests.helpers import at, fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def moment(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


def test_the_payment_and_what_reached_the_seller_each_with_its_stage_time_and_amount(
    seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    # Paid out through the off-ramp, which refuses: each payout comes back to the seller's balance.
    with at(moment(1)):
        escrow = make_escrow(
            seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="reject-me"
        )
        fund(escrow, buyer)
        other = make_escrow(seller, title="Another")
        fund(other, buyer)
        services.milestone_release(milestone=milestones(other)[0], by=buyer)
    first, second, _ = milestones(escrow)
    with at(moment(2)), django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=first, by=buyer)
    with at(moment(3)):
        dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Half done")
    # The seller's part of the ruling is one cent.
    with at(moment(4)), django_capture_on_commit_callbacks(execute=True):
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=1, buyer_amount=49_999
        )
    assert escrow.ledger_transactions.filter(kind=TransactionKind.PAYOUT_RETURN).count() == 2
    links = receipts_of(escrow)
    assert [(r.kind, r.milestone, r.created_at, r.receipt_amount, r.part) for r in links] == [
        (TransactionKind.FUNDING, None, moment(1), escrow.total_charge, ""),
        (TransactionKind.RELEASE, first, moment(2), 30_000, ""),
        (TransactionKind.SPLIT, second, moment(4), 1, ""),
    ]
