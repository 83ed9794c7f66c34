"""Receipts and change orders as the selectors read them. A receipt is found only for a posting
that has one: any other posting of the escrow, even one that credited the seller (a payout that
came back), a payment whose record is missing and a posting that paid nobody on the seller's side
are all "Receipt not found". A receipt names the payee and the buyer, and says "the payee" and
"the buyer" when there is no one to name. The receipt page reads a fixed number of queries. An
escrow's change orders list newest first (the later id first when two were made at the same
instant, the recorded time first even when it disagrees with the id), each with its people read
in the same query, and the open one is found among the decided ones."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from core.errors import NotFound
from escrows import selectors, services
from escrows.models import AccountKind, ChangeProposal, Escrow, LedgerAccount, LedgerTransaction, Payment
from escrows.services import StageAdd
from tests.helpers import at, fund, make_escrow, milestones
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    return escrow


def posting(escrow, kind):
    return LedgerTransaction.objects.filter(escrow=escrow, kind=kind).order_by("id").first()


def receipt(user, escrow, txn):
    return selectors.receipt_get(user, escrow.public_id, txn.pk)


# -- receipts that are not found ----------------------------------------------------------------


def test_a_posting_that_has_no_receipt_is_not_found_even_when_it_credited_the_seller(
    seller, buyer, django_capture_on_commit_callbacks
):
    # The off-ramp refuses the payout: the money comes back to the seller's balance in a posting
    # of this escrow, which is not a release and has no receipt.
    escrow = make_escrow(
        seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="reject-me"
    )
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    returned = posting(escrow, "PAYOUT_RETURN")
    assert returned is not None
    with pytest.raises(NotFound, match="^Receipt not found$"):
        receipt(seller, escrow, returned)
    with pytest.raises(NotFound, match="^Receipt not found$"):
        selectors.receipt_get(seller, escrow.public_id, 10**9)


def test_a_payment_whose_record_is_missing_has_no_receipt(funded, buyer):
    Payment.objects.filter(escrow=funded).delete()
    with pytest.raises(NotFound, match="^Receipt not found$"):
        receipt(buyer, funded, posting(funded, "FUNDING"))


def test_a_split_that_paid_the_seller_nothing_has_no_receipt(funded, buyer):
    proposal = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.cancellation_accept(proposal=proposal, by=funded.seller)
    with pytest.raises(NotFound, match="^Receipt not found$"):
        receipt(buyer, funded, posting(funded, "CANCELLATION"))


# -- the names on a receipt -----------------------------------------------------------------------


def test_a_release_to_a_balance_with_no_owner_is_released_to_the_payee(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    LedgerAccount.objects.filter(kind=AccountKind.CUSTOMER_MAIN, owner=seller).update(owner=None)
    r = receipt(buyer, funded, posting(funded, "RELEASE"))
    assert [(line.label, line.amount) for line in r.lines] == [("Released to the payee", 30_000)]


def test_a_receipt_of_an_escrow_without_a_buyer_says_paid_by_the_buyer(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    Escrow.objects.filter(pk=funded.pk).update(buyer=None)
    r = receipt(seller, funded, posting(funded, "RELEASE"))
    assert ("Paid by", "the buyer") in r.facts


def test_a_receipt_names_the_buyer_who_got_money_back(funded, buyer, admin_user):
    dispute = services.dispute_open(escrow=funded, by=buyer, reason="Late", milestone=milestones(funded)[0])
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=18_000, buyer_amount=12_000
    )
    r = receipt(buyer, funded, posting(funded, "SPLIT"))
    assert r.lines[1].label == f"Refunded to {buyer.display_name}"
    assert ("Paid by", buyer.display_name) in r.facts


# -- the receipt page's queries -------------------------------------------------------------------


def test_the_receipt_pages_read_a_fixed_number_of_queries(funded, buyer, django_assert_num_queries):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    payment, release = posting(funded, "FUNDING"), posting(funded, "RELEASE")
    buyer_client = client_for(buyer)
    # Each page: the session, the user, the escrow with its parties, the posting (with its stage),
    # its entries, their balances, the balances' owners, and the unread notices in the header.
    # The payment receipt adds the payment with its payer.
    with django_assert_num_queries(9):
        page = buyer_client.get(reverse("receipt", args=[funded.public_id, payment.pk]))
    assert page.status_code == 200
    with django_assert_num_queries(8):
        page = buyer_client.get(reverse("receipt", args=[funded.public_id, release.pk]))
    assert page.status_code == 200


# -- change orders --------------------------------------------------------------------------------


def _two_change_orders(escrow, seller, buyer):
    first = services.change_order_propose(escrow=escrow, by=buyer, changes=[StageAdd(amount=5_000)])
    services.change_order_decline(proposal=first, by=seller, reason="Not now")
    second = services.change_order_propose(escrow=escrow, by=buyer, changes=[StageAdd(amount=6_000)])
    return first, second


def test_change_orders_list_newest_first_by_time_then_id(funded, seller, buyer):
    with at(NOON):
        first, second = _two_change_orders(funded, seller, buyer)
    assert [p.pk for p in selectors.change_proposals_of(funded)] == [second.pk, first.pk]
    ChangeProposal.objects.filter(pk=first.pk).update(created_at=NOON + timedelta(minutes=1))
    assert [p.pk for p in selectors.change_proposals_of(funded)] == [first.pk, second.pk]


def test_change_orders_read_their_people_in_the_list_query(funded, seller, buyer, django_assert_num_queries):
    _two_change_orders(funded, seller, buyer)
    with django_assert_num_queries(1):
        people = [
            (p.proposed_by.email, p.decided_by and p.decided_by.email)
            for p in selectors.change_proposals_of(funded)
        ]
    assert people == [(buyer.email, None), (buyer.email, seller.email)]


def test_the_open_change_order_is_found_among_the_decided_ones(funded, seller, buyer):
    assert selectors.open_change_proposal(funded) is None
    first, second = _two_change_orders(funded, seller, buyer)
    assert selectors.open_change_proposal(funded) == second
    services.change_order_withdraw(proposal=second, by=buyer)
    assert selectors.open_change_proposal(funded) is None
