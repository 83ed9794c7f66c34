"""Seller refunds of chosen milestones and the buyer's refund requests: every path and every
refusal, with the ledger invariants after each."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import Conflict, Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import (
    EscrowStatus,
    Event,
    FundingSource,
    LedgerTransaction,
    RefundRequest,
    RefundRequestStatus,
    TransactionKind,
)
from escrows.selectors import escrow_ledger_summary, wallet_balance
from tests.helpers import (
    _dispute,
    assert_ledger_invariants,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_standard,
    milestones,
    refresh,
    statuses,
)

pytestmark = pytest.mark.django_db


# -- seller refunds chosen milestones ------------------------------------------------------------


def test_seller_refunds_one_milestone_out_of_order(funded, seller, buyer):
    first, second, third = milestones(funded)
    amount = services.escrow_refund_milestones(
        escrow=funded, by=seller, milestones=[second], reason="Cannot do stage 2"
    )
    assert amount == 50_000
    assert statuses(funded) == ["PENDING", "REFUNDED", "PENDING"]
    assert refresh(funded).status == EscrowStatus.OPENED
    assert wallet_balance(buyer, "USD") == 50_000
    # One posting for the refund, out of the hold into the buyer's wallet.
    refunds = LedgerTransaction.objects.filter(escrow=funded, kind=TransactionKind.REFUND)
    assert refunds.count() == 1
    assert escrow_ledger_summary(funded).held == 50_000
    assert_ledger_invariants()
    # Refunded milestones count as settled for the order rule: the third can follow the first.
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=third, by=buyer)
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_seller_refunds_several_milestones_in_one_posting(funded, seller, buyer):
    first, second, third = milestones(funded)
    before = LedgerTransaction.objects.count()
    amount = services.escrow_refund_milestones(
        escrow=funded, by=seller, milestones=[third.public_id, first.public_id]
    )
    assert amount == 50_000
    assert LedgerTransaction.objects.count() == before + 1
    assert statuses(funded) == ["REFUNDED", "PENDING", "REFUNDED"]
    assert Event.objects.filter(escrow=funded, kind="milestone.refunded").count() == 2
    assert_ledger_invariants()


def test_refunding_the_last_unsettled_closes_as_completed_if_anything_was_released(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[second, third])
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.COMPLETED
    assert escrow.closed_at is not None
    assert wallet_balance(seller, "USD") == 30_000
    assert wallet_balance(buyer, "USD") == 70_000
    assert_ledger_invariants()


def test_refunding_everything_closes_as_refunded(funded, seller, buyer):
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=milestones(funded))
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.REFUNDED
    assert Event.objects.filter(escrow=funded, kind="escrow.refunded").exists()
    assert wallet_balance(buyer, "USD") == 100_000
    assert_ledger_invariants()


def test_card_payment_refund_goes_back_outside(seller, buyer):
    escrow = make_escrow(seller)
    services.escrow_fund(escrow=escrow, by=buyer, source=FundingSource.CARD, card_token="tok_visa")
    services.milestone_refund(milestone=milestones(escrow)[0], by=seller, reason="partial")
    assert wallet_balance(buyer, "USD") == 0
    assert escrow_ledger_summary(escrow).refunded == 30_000
    assert_ledger_invariants()


@pytest.mark.parametrize("who", ["buyer", "stranger"])
def test_only_the_seller_refunds_milestones(funded, who, buyer, stranger):
    by = {"buyer": buyer, "stranger": stranger}[who]
    before = ledger_fingerprint()
    error = Forbidden if who == "buyer" else NotFound
    with pytest.raises(error):
        services.escrow_refund_milestones(escrow=funded, by=by, milestones=milestones(funded)[:1])
    assert ledger_fingerprint() == before


def test_refund_refusals_change_nothing(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    other = make_escrow(seller)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as settled:
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[first])
    assert settled.value.code == "milestone_settled"
    with pytest.raises(InvalidRequest, match="at least one"):
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[])
    with pytest.raises(InvalidRequest) as unknown:
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=["milestone_nope"])
    assert unknown.value.code == "milestone_unknown"
    with pytest.raises(InvalidRequest):
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[milestones(other)[0]])
    assert ledger_fingerprint() == before


def test_disputed_milestone_cannot_be_refunded(funded, seller):
    second = milestones(funded)[1]
    _dispute(second)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[second])
    assert exc.value.code == "milestone_disputed"
    assert ledger_fingerprint() == before


def test_unfunded_or_closed_escrow_cannot_be_refunded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState) as exc:
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=milestones(escrow)[:1])
    assert exc.value.code == "not_funded"
    fund(escrow, buyer)
    services.escrow_refund(escrow=escrow, by=seller)
    with pytest.raises(InvalidState):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=milestones(escrow)[:1])


def test_standard_escrow_is_refunded_whole(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    with pytest.raises(InvalidRequest):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=["x"])


def test_whole_escrow_refund_still_refunds_all_remaining(funded, seller, buyer):
    first = milestones(funded)[0]
    services.milestone_refund(milestone=first, by=seller)
    services.escrow_refund(escrow=funded, by=seller)
    assert refresh(funded).status == EscrowStatus.REFUNDED
    assert statuses(funded) == ["REFUNDED"] * 3
    assert wallet_balance(buyer, "USD") == 100_000
    assert_ledger_invariants()


def test_seller_refunds_the_rest_to_wallet(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    with pytest.raises(Forbidden):
        services.escrow_refund(escrow=escrow, by=buyer)
    services.escrow_refund(escrow=escrow, by=seller)
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.REFUNDED
    assert [m.status for m in milestones(escrow)] == ["RELEASED", "REFUNDED", "REFUNDED"]
    # The fee is not refunded.
    assert wallet_balance(buyer, "USD") == 70_000
    summary = escrow_ledger_summary(escrow)
    assert (summary.funded, summary.released, summary.refunded, summary.held) == (100_000, 30_000, 70_000, 0)
    assert_ledger_invariants()


def test_refund_of_card_payment_goes_back_outside(seller, buyer):
    escrow = make_escrow(seller)
    services.escrow_fund(escrow=escrow, by=buyer, source=FundingSource.CARD, card_token="tok_visa")
    services.escrow_refund(escrow=escrow, by=seller)
    assert wallet_balance(buyer, "USD") == 0
    assert_ledger_invariants()


# -- the buyer's refund request -------------------------------------------------------------------


def test_refund_request_accepted_refunds_in_the_same_transaction(funded, seller, buyer):
    first, second, third = milestones(funded)
    request = services.refund_request_create(
        escrow=funded, by=buyer, reason="Plans changed", milestones=[third.public_id, second.public_id]
    )
    assert request.public_id.startswith("rfq_")
    assert request.amount == 70_000
    assert request.milestone_ids == [second.public_id, third.public_id]
    assert request.status == RefundRequestStatus.REQUESTED
    services.refund_request_accept(refund_request=request, by=seller)
    request = refresh(request)
    assert request.status == RefundRequestStatus.ACCEPTED
    assert request.decided_at is not None and request.decided_by == seller
    assert statuses(funded) == ["PENDING", "REFUNDED", "REFUNDED"]
    assert wallet_balance(buyer, "USD") == 70_000
    assert refresh(funded).status == EscrowStatus.OPENED
    kinds = list(Event.objects.filter(escrow=funded).values_list("kind", flat=True))
    assert (
        kinds.index("refund.requested") < kinds.index("refund.accepted") < kinds.index("milestone.refunded")
    )
    assert_ledger_invariants()


def test_refund_request_defaults_to_all_unsettled(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Stop here")
    assert request.amount == 70_000
    services.refund_request_accept(refund_request=request, by=seller)
    assert refresh(funded).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_refund_request_on_standard_escrow_refunds_it_whole(seller, buyer):
    escrow = make_standard(seller, 40_000)
    fund(escrow, buyer)
    request = services.refund_request_create(escrow=escrow, by=buyer, reason="Never arrived")
    assert request.amount == 40_000
    services.refund_request_accept(refund_request=request, by=seller)
    assert refresh(escrow).status == EscrowStatus.REFUNDED
    assert wallet_balance(buyer, "USD") == 40_000
    assert_ledger_invariants()


def test_refund_request_declined_with_reason_moves_no_money(funded, seller, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Too slow")
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="why"):
        services.refund_request_decline(refund_request=request, by=seller, reason=" ")
    services.refund_request_decline(refund_request=request, by=seller, reason="Work is on schedule")
    request = refresh(request)
    assert request.status == RefundRequestStatus.DECLINED
    assert request.decline_reason == "Work is on schedule"
    assert ledger_fingerprint() == before
    # Declined: the buyer may ask again.
    services.refund_request_create(escrow=funded, by=buyer, reason="Still too slow")


def test_refund_request_withdrawn_by_the_buyer_only(funded, seller, buyer, stranger):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Oops")
    with pytest.raises(Forbidden):
        services.refund_request_withdraw(refund_request=request, by=seller)
    with pytest.raises(NotFound):
        services.refund_request_withdraw(refund_request=request, by=stranger)
    services.refund_request_withdraw(refund_request=request, by=buyer)
    assert refresh(request).status == RefundRequestStatus.WITHDRAWN
    assert Event.objects.filter(kind="refund.withdrawn").count() == 1


def test_refund_request_wrong_actors(funded, seller, buyer, stranger):
    with pytest.raises(Forbidden):
        services.refund_request_create(escrow=funded, by=seller, reason="x")
    with pytest.raises(NotFound):
        services.refund_request_create(escrow=funded, by=stranger, reason="x")
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x")
    before = ledger_fingerprint()
    with pytest.raises(Forbidden):
        services.refund_request_accept(refund_request=request, by=buyer)
    with pytest.raises(NotFound):
        services.refund_request_accept(refund_request=request, by=stranger)
    with pytest.raises(Forbidden):
        services.refund_request_decline(refund_request=request, by=buyer, reason="no")
    assert ledger_fingerprint() == before


def test_one_open_refund_request_per_escrow(funded, buyer):
    services.refund_request_create(escrow=funded, by=buyer, reason="first")
    with pytest.raises(Conflict) as exc:
        services.refund_request_create(escrow=funded, by=buyer, reason="second")
    assert exc.value.code == "refund_request_open"
    # The database says so too.
    with pytest.raises(IntegrityError), transaction.atomic():
        RefundRequest.objects.create(escrow=funded, requested_by=buyer, amount=1, reason="sneaky")


def test_double_accept_refunds_once(funded, seller, buyer):
    request = services.refund_request_create(
        escrow=funded, by=buyer, reason="x", milestones=[milestones(funded)[0]]
    )
    services.refund_request_accept(refund_request=request, by=seller)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.refund_request_accept(refund_request=request, by=seller)
    assert exc.value.code == "refund_request_closed"
    with pytest.raises(InvalidState):
        services.refund_request_decline(refund_request=request, by=seller, reason="too late")
    assert ledger_fingerprint() == before


def test_stale_refund_request_is_refused_then_superseded(funded, seller, buyer):
    first = milestones(funded)[0]
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[first])
    services.milestone_release(milestone=first, by=buyer)  # settled another way meanwhile
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.refund_request_accept(refund_request=request, by=seller)
    assert exc.value.code == "refund_request_stale"
    assert ledger_fingerprint() == before
    # A new request replaces the stale one.
    services.refund_request_create(escrow=funded, by=buyer, reason="the rest then")
    assert refresh(request).status == RefundRequestStatus.SUPERSEDED


def test_seller_refund_supersedes_a_request_it_settles(funded, seller, buyer):
    first, second, _ = milestones(funded)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[second])
    services.escrow_refund_milestones(escrow=funded, by=seller, milestones=[second])
    assert refresh(request).status == RefundRequestStatus.SUPERSEDED
    other = services.refund_request_create(escrow=funded, by=buyer, reason="y", milestones=[first])
    services.milestone_refund(milestone=milestones(funded)[2], by=seller)
    assert refresh(other).status == RefundRequestStatus.REQUESTED  # untouched: still doable


def test_refund_request_refuses_disputed_milestone(funded, buyer, seller):
    second = milestones(funded)[1]
    _dispute(second)
    with pytest.raises(InvalidState) as exc:
        services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[second])
    assert exc.value.code == "milestone_disputed"
    # The default leaves the disputed milestone to its dispute.
    request = services.refund_request_create(escrow=funded, by=buyer, reason="the others")
    assert request.amount == 50_000
    services.refund_request_accept(refund_request=request, by=seller)
    assert statuses(funded) == ["REFUNDED", "DISPUTED", "REFUNDED"]
    assert refresh(funded).status == EscrowStatus.OPENED
    assert_ledger_invariants()


def test_refund_request_needs_a_reason_and_a_funded_escrow(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState):
        services.refund_request_create(escrow=escrow, by=buyer, reason="x")
    fund(escrow, buyer)
    with pytest.raises(InvalidRequest):
        services.refund_request_create(escrow=escrow, by=buyer, reason="  ")
