"""The escrow page's money summary and the wallet figures, read from the ledger: what was funded,
the fee, what went to the seller and back to the buyer by release, dispute split and agreed
cancellation, and what is still held; a customer's balances and main wallet per currency, whatever
other accounts they have; a list's progress ignores money that only passed through the seller's
payouts."""

import pytest

from escrows import ledger, selectors, services
from escrows.models import FundingSource
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_an_unfunded_escrow_shows_nothing_moved(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    assert selectors.escrow_ledger_summary(escrow) == selectors.LedgerSummary(
        funded=0, fee=0, released=0, refunded=0, held=0
    )


def test_releases_and_disputes_split_or_refunded(seller, buyer, admin_user):
    escrow = make_escrow(seller, buyer=buyer, parts=(30_000, 50_000, 20_000))
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    split = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Half done")
    services.dispute_resolve(
        dispute=split, by=admin_user, outcome="split", seller_amount=20_000, buyer_amount=30_000
    )
    refund = services.dispute_open(escrow=escrow, milestone=third, by=buyer, reason="Never started")
    services.dispute_resolve(dispute=refund, by=admin_user, outcome="refund")
    assert selectors.escrow_ledger_summary(escrow) == selectors.LedgerSummary(
        funded=100_000, fee=escrow.fee, released=50_000, refunded=50_000, held=0
    )


@pytest.mark.parametrize(("seller_amount", "buyer_amount"), [(0, 50_000), (50_000, 0)])
def test_a_split_that_gives_one_side_nothing(seller, buyer, admin_user, seller_amount, buyer_amount):
    """A split ruling may give one party all of it: the other side's figure stays 0.00."""
    escrow = make_escrow(seller, buyer=buyer, parts=(50_000, 50_000))
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[0], by=buyer, reason="Late")
    services.dispute_resolve(
        dispute=dispute,
        by=admin_user,
        outcome="split",
        seller_amount=seller_amount,
        buyer_amount=buyer_amount,
    )
    assert selectors.escrow_ledger_summary(escrow) == selectors.LedgerSummary(
        funded=100_000, fee=escrow.fee, released=seller_amount, refunded=buyer_amount, held=50_000
    )


def test_an_agreed_cancellation_after_a_release(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, parts=(30_000, 50_000, 20_000))
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[2]])
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=40_000, seller_amount=10_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    assert selectors.escrow_ledger_summary(escrow) == selectors.LedgerSummary(
        funded=100_000, fee=escrow.fee, released=40_000, refunded=60_000, held=0
    )


def test_wallet_figures_read_the_main_account_of_the_currency(seller):
    ledger.clearing_account(seller, "GBP")  # payouts account first, no main account yet
    assert selectors.balances_for_user(seller) == {"GBP": {"available": 0, "in_flight": 0}}
    assert selectors.wallet_balance(seller, "GBP") == 0
    services.wallet_topup(customer=seller, amount=800, currency="EUR")
    services.wallet_topup(customer=seller, amount=300, currency="GBP")
    assert selectors.wallet_balance(seller, "GBP") == 300
    assert selectors.wallet_balance(seller, "EUR") == 800
    assert selectors.wallet_balance(seller, "USD") == 0


def test_progress_ignores_a_payout_that_came_back(seller, buyer, django_capture_on_commit_callbacks):
    escrow = make_escrow(
        seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="reject-me"
    )
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    progress = selectors.with_progress(type(escrow).objects.filter(pk=escrow.pk)).get()
    assert progress.released_total == 30_000


def test_progress_leaves_out_what_went_back_to_the_buyers_card(seller, buyer, admin_user):
    """Paid by card, the buyer's part of a split goes out to the card (a platform account, no
    owner): it is not progress towards the seller."""
    escrow = make_escrow(seller, buyer=buyer, parts=(30_000, 70_000))
    services.escrow_fund(escrow=escrow, by=buyer, source=FundingSource.CARD, card_token="tok_visa")
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[0], by=buyer, reason="Late")
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=10_000, buyer_amount=20_000
    )
    progress = selectors.with_progress(type(escrow).objects.filter(pk=escrow.pk)).get()
    assert progress.released_total == 10_000
