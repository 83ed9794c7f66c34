import pytest

from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import services
from escrows.models import EscrowStatus, FundingSource, MilestoneStatus
from escrows.selectors import escrow_ledger_summary, wallet_balance
from escrows.services import EscrowTerms
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def test_cancel_awaiting_payment(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    services.escrow_cancel(escrow=escrow, by=buyer)
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    with pytest.raises(InvalidState):
        services.escrow_cancel(escrow=escrow, by=seller)


def test_cancel_refused_once_funded(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="awaiting payment"):
        services.escrow_cancel(escrow=escrow, by=seller)
    assert ledger_fingerprint() == before


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


def test_milestone_dispute_freezes_only_that_milestone(seller, buyer, admin_user):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidRequest, match="reason"):
        services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason=" ")
    with pytest.raises(InvalidRequest, match="one milestone at a time"):
        services.dispute_open(escrow=escrow, by=buyer, reason="Late")
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert refresh(second).status == MilestoneStatus.DISPUTED
    with pytest.raises(InvalidState, match="disputed"):
        services.milestone_release(milestone=second, by=buyer)
    # The next milestone is not held up by the frozen one.
    services.milestone_release(milestone=third, by=buyer)
    with pytest.raises(Forbidden):
        services.dispute_resolve(dispute=dispute, by=seller, outcome="release")
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert refresh(second).status == MilestoneStatus.PENDING
    services.milestone_release(milestone=second, by=buyer)
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def _standard(seller, amount=100_000):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=amount,
            settlement_type="STANDARD",
            release_type="DELIVERY_PROOF",
        ),
        milestones=[],
    )


@pytest.mark.parametrize(
    "outcome, status, seller_gets, buyer_gets",
    [("release", EscrowStatus.COMPLETED, 100_000, 0), ("refund", EscrowStatus.REFUNDED, 0, 100_000)],
)
def test_whole_escrow_dispute_resolutions(
    seller, buyer, admin_user, outcome, status, seller_gets, buyer_gets
):
    escrow = _standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=seller, reason="Buyer unresponsive")
    assert refresh(escrow).status == EscrowStatus.DISPUTED
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome=outcome)
    assert refresh(escrow).status == status
    assert wallet_balance(seller, "USD") == seller_gets
    assert wallet_balance(buyer, "USD") == buyer_gets
    assert_ledger_invariants()


def test_standard_escrow_confirm_delivery(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=80_000,
            settlement_type="STANDARD",
            release_type="DELIVERY_PROOF",
        ),
        milestones=[],
    )
    fund(escrow, buyer)
    assert_ledger_invariants()
    with pytest.raises(Forbidden):
        services.escrow_confirm_delivery(escrow=escrow, by=seller)
    services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 80_000
    assert_ledger_invariants()


def test_milestone_statuses_after_dispute_refund(seller, buyer, admin_user):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    for m in milestones(escrow):
        dispute = services.dispute_open(escrow=escrow, milestone=m, by=buyer, reason="Never started")
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert all(m.status == MilestoneStatus.REFUNDED for m in milestones(escrow))
    assert refresh(escrow).status == EscrowStatus.REFUNDED
    assert_ledger_invariants()
