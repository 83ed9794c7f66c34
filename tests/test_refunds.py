"""Seller refunds of chosen milestones, the buyer's refund requests and mutual cancellation:
every path and every refusal, with the ledger invariants after each."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import Conflict, Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import (
    CancellationProposal,
    CancellationStatus,
    EscrowStatus,
    Event,
    FundingSource,
    LedgerTransaction,
    MilestoneStatus,
    RefundRequest,
    RefundRequestStatus,
    Settlement,
    TransactionKind,
)
from escrows.selectors import escrow_ledger_summary, wallet_balance
from escrows.services import EscrowTerms
from tests.factories import UserFactory
from tests.helpers import (
    assert_ledger_invariants,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_settling_escrow,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller)  # 300.00, 500.00, 200.00
    fund(escrow, buyer)
    return escrow


def make_standard(seller, amount=50_000):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=amount, settlement_type="STANDARD"),
        milestones=[],
    )


def statuses(escrow):
    return [m.status for m in milestones(escrow)]


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


def _dispute(milestone):
    """Freeze one milestone as a dispute would (the dispute service is another slice's)."""
    from escrows.models import Milestone

    Milestone.objects.filter(pk=milestone.pk).update(status=MilestoneStatus.DISPUTED)


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


# -- mutual cancellation ------------------------------------------------------------------------


def test_buyer_proposes_60_40_and_seller_accepts(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    held = 70_000
    proposal = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=42_000, seller_amount=28_000, note="Call it off"
    )
    assert proposal.public_id.startswith("mcp_")
    assert proposal.proposer_role == "buyer" and proposal.total == held
    before_txns = LedgerTransaction.objects.count()
    services.cancellation_accept(proposal=proposal, by=seller)
    assert LedgerTransaction.objects.count() == before_txns + 1
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.CANCELLED
    assert refresh(proposal).status == CancellationStatus.ACCEPTED
    assert statuses(escrow) == ["RELEASED", "SPLIT", "SPLIT"]
    assert wallet_balance(buyer, "USD") == 42_000
    assert wallet_balance(seller, "USD") == 30_000 + 28_000
    summary = escrow_ledger_summary(escrow)
    assert (summary.released, summary.refunded, summary.held) == (58_000, 42_000, 0)
    kinds = list(Event.objects.filter(escrow=escrow).values_list("kind", flat=True))
    assert kinds[-1] == "escrow.cancelled"
    assert "cancellation.accepted" in kinds and kinds.count("milestone.split") == 2
    assert_ledger_invariants()


def test_all_to_buyer_marks_refunded_all_to_seller_marks_released(seller, buyer):
    a = make_escrow(seller)
    fund(a, buyer)
    p = services.cancellation_propose(escrow=a, by=seller, buyer_amount=100_000, seller_amount=0)
    services.cancellation_accept(proposal=p, by=buyer)
    assert statuses(a) == ["REFUNDED"] * 3
    assert refresh(a).status == EscrowStatus.CANCELLED
    b = make_escrow(seller)
    fund(b, buyer)
    p = services.cancellation_propose(escrow=b, by=seller, buyer_amount=0, seller_amount=100_000)
    services.cancellation_accept(proposal=p, by=buyer)
    assert statuses(b) == ["RELEASED"] * 3
    assert_ledger_invariants()


def test_seller_share_goes_to_each_milestones_payee(seller, buyer):
    payee = UserFactory()
    escrow = make_escrow(seller)
    from escrows.models import Milestone

    Milestone.objects.filter(escrow=escrow, index=0).update(payee=payee)
    fund(escrow, buyer)
    p = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000)
    services.cancellation_accept(proposal=p, by=seller)
    # The seller's 400.00 is allocated in index order: 300.00 to stage 0's payee, 100.00 to stage 1.
    assert wallet_balance(payee, "USD") == 30_000
    assert wallet_balance(seller, "USD") == 10_000
    assert wallet_balance(buyer, "USD") == 60_000
    assert_ledger_invariants()


def test_cancellation_schedules_the_sellers_payout(seller, buyer):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    p = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000)
    services.cancellation_accept(proposal=p, by=seller)
    settlement = Settlement.objects.get(escrow=escrow)
    assert settlement.amount == 40_000 and settlement.customer == seller
    assert_ledger_invariants()


def test_standard_escrow_cancelled_while_disputed(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    services.dispute_open(escrow=escrow, by=buyer, reason="Late")
    p = services.cancellation_propose(escrow=escrow, by=seller, buyer_amount=20_000, seller_amount=30_000)
    services.cancellation_accept(proposal=p, by=buyer)
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.CANCELLED
    assert wallet_balance(buyer, "USD") == 20_000 and wallet_balance(seller, "USD") == 30_000
    # The agreement ends the dispute too: nothing is left for staff or the deadline to settle.
    assert [d.status for d in escrow.disputes.all()] == ["WITHDRAWN"]
    assert_ledger_invariants()


def test_sums_must_match_what_is_held(funded, buyer):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as exc:
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=60_000, seller_amount=30_000)
    assert exc.value.code == "split_mismatch"
    assert "1,000.00 USD" in exc.value.message
    with pytest.raises(InvalidRequest):
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=-1, seller_amount=100_001)
    with pytest.raises(InvalidRequest):
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=True, seller_amount=99_999)
    assert ledger_fingerprint() == before
    assert not CancellationProposal.objects.exists()


def test_only_the_other_party_accepts_or_declines(funded, seller, buyer, stranger):
    p = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=50_000, seller_amount=50_000)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden):
        services.cancellation_accept(proposal=p, by=buyer)
    with pytest.raises(Forbidden):
        services.cancellation_decline(proposal=p, by=buyer)
    with pytest.raises(NotFound):
        services.cancellation_accept(proposal=p, by=stranger)
    with pytest.raises(Forbidden):
        services.cancellation_withdraw(proposal=p, by=seller)
    assert ledger_fingerprint() == before
    services.cancellation_decline(proposal=p, by=seller, reason="No, I will finish")
    p = refresh(p)
    assert p.status == CancellationStatus.DECLINED and p.decline_reason == "No, I will finish"
    assert refresh(funded).status == EscrowStatus.OPENED
    assert ledger_fingerprint() == before


def test_withdraw_and_one_open_proposal(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    with pytest.raises(Conflict) as exc:
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)
    assert exc.value.code == "cancellation_open"
    services.cancellation_withdraw(proposal=p, by=seller)
    assert refresh(p).status == CancellationStatus.WITHDRAWN
    with pytest.raises(InvalidState) as closed:
        services.cancellation_accept(proposal=p, by=buyer)
    assert closed.value.code == "cancellation_closed"
    services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)


def test_stale_proposal_is_refused(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=50_000, seller_amount=50_000)
    # Money moved after the proposal: the buyer released the first stage.
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.cancellation_accept(proposal=p, by=buyer)
    assert exc.value.code == "cancellation_stale"
    assert "700.00 USD" in exc.value.message
    assert ledger_fingerprint() == before
    # A fresh proposal at the new amount supersedes it.
    services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=35_000, seller_amount=35_000)
    assert refresh(p).status == CancellationStatus.SUPERSEDED


def test_double_accept_moves_money_once(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=10_000, seller_amount=90_000)
    services.cancellation_accept(proposal=p, by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState):
        services.cancellation_accept(proposal=p, by=buyer)
    assert ledger_fingerprint() == before


def test_cancellation_refused_while_a_milestone_is_disputed(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=10_000, seller_amount=90_000)
    _dispute(milestones(funded)[2])
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.cancellation_accept(proposal=p, by=buyer)
    assert exc.value.code == "milestone_disputed"
    with pytest.raises(InvalidState):
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=80_000, seller_amount=0)
    assert ledger_fingerprint() == before


def test_cancellation_needs_a_funded_open_escrow(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState) as exc:
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    assert exc.value.code == "not_funded"
    fund(escrow, buyer)
    p = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.escrow_refund(escrow=escrow, by=seller)
    assert refresh(p).status == CancellationStatus.SUPERSEDED
    with pytest.raises(InvalidState):
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=0, seller_amount=0)


def test_accepting_cancellation_supersedes_open_refund_request(funded, seller, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x")
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=70_000, seller_amount=30_000)
    services.cancellation_accept(proposal=p, by=buyer)
    assert refresh(request).status == RefundRequestStatus.SUPERSEDED
    assert_ledger_invariants()
