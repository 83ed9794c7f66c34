"""Accepting a claim settles the dispute with what its opener asked for when opening it (their
request: a release, a refund or their split), never more: a buyer who asked for part of a stage
back gets that part, not the whole stage. The same request applies at the deadline when nobody
answers, so accepting it early changes only when."""

import pytest

from escrows import services
from escrows.models import DisputeStatus, LedgerTransaction, MilestoneStatus, TransactionKind
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, fund, make_escrow, make_standard, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(seller, buyer):
    """Three stages (300.00, 500.00, 200.00 USD) reserved for `buyer`, paid from their balance."""
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    return escrow


def settled(dispute):
    d = refresh(dispute)
    return d.status, d.outcome, d.seller_amount, d.buyer_amount


def test_accepting_a_buyers_split_gives_each_side_the_part_they_asked_for(funded, seller, buyer):
    stage = milestones(funded)[1]  # 500.00 USD
    dispute = services.dispute_open(
        escrow=funded,
        milestone=stage,
        by=buyer,
        reason="Half the pages are missing",
        default_outcome="split",
        default_seller_amount=20_000,
        default_buyer_amount=30_000,
    )
    services.dispute_answer(dispute=dispute, by=seller, answer="accept", text="Fair")
    assert settled(dispute) == (DisputeStatus.RESOLVED, "split", 20_000, 30_000)
    assert refresh(dispute).resolved_by == seller
    assert refresh(dispute).resolution_note == "The seller accepted the claim"
    assert refresh(stage).status == MilestoneStatus.SPLIT
    assert wallet_balance(seller, "USD") == 20_000
    assert wallet_balance(buyer, "USD") == 30_000
    posting = LedgerTransaction.objects.get(milestone=stage, kind=TransactionKind.SPLIT)
    moved = [e.amount for e in posting.entries.all()]
    assert sorted(a for a in moved if a > 0) == [20_000, 30_000]  # one posting, out of the hold
    assert sum(a for a in moved if a < 0) == -50_000
    assert_ledger_invariants()


def test_accepting_a_request_made_without_an_outcome_gives_the_recorded_default(
    funded, seller, buyer, settings
):
    """The request is what was recorded when the dispute opened (the default then, halves with
    the odd cent to the buyer), whatever the setting says by the time it is accepted."""
    settings.ESCROW_DISPUTE_DEFAULT_OUTCOME = "split"
    stage = milestones(funded)[0]  # 300.00 USD
    dispute = services.dispute_open(escrow=funded, milestone=stage, by=buyer, reason="Late")
    settings.ESCROW_DISPUTE_DEFAULT_OUTCOME = "refund"
    services.dispute_answer(dispute=dispute, by=seller, answer="accept")
    assert settled(dispute) == (DisputeStatus.RESOLVED, "split", 15_000, 15_000)
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (15_000, 15_000)
    assert_ledger_invariants()


def test_accepting_a_buyers_refund_refunds_the_whole_stage(funded, seller, buyer):
    stage = milestones(funded)[2]  # 200.00 USD
    dispute = services.dispute_open(
        escrow=funded, milestone=stage, by=buyer, reason="Never delivered", default_outcome="refund"
    )
    services.dispute_answer(dispute=dispute, by=seller, answer="accept")
    assert settled(dispute) == (DisputeStatus.RESOLVED, "refund", 0, 20_000)
    assert refresh(stage).status == MilestoneStatus.REFUNDED
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (0, 20_000)
    assert_ledger_invariants()


def test_accepting_a_sellers_split_on_a_standard_escrow(seller, buyer):
    escrow = make_standard(seller, amount=80_000)
    fund(escrow, buyer)
    dispute = services.dispute_open(
        escrow=refresh(escrow),
        by=seller,
        reason="The buyer used it for a month",
        default_outcome="split",
        default_seller_amount=60_000,
        default_buyer_amount=20_000,
    )
    services.dispute_answer(dispute=dispute, by=buyer, answer="accept")
    assert settled(dispute) == (DisputeStatus.RESOLVED, "split", 60_000, 20_000)
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (60_000, 20_000)
    assert_ledger_invariants()


def test_accepting_a_sellers_release_releases_the_stage(funded, seller, buyer):
    stage = milestones(funded)[0]
    dispute = services.dispute_open(
        escrow=funded,
        milestone=stage,
        by=seller,
        reason="Delivered, not confirmed",
        default_outcome="release",
    )
    services.dispute_answer(dispute=dispute, by=buyer, answer="accept")
    assert settled(dispute) == (DisputeStatus.RESOLVED, "release", 30_000, 0)
    assert refresh(stage).status == MilestoneStatus.RELEASED
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (30_000, 0)
    assert_ledger_invariants()
