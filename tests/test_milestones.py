import pytest

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import EscrowStatus, LedgerTransaction, MilestoneStatus
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def test_full_flow_complete_and_release_each_stage(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    for m in milestones(escrow):
        services.milestone_complete(
            milestone=m, by=seller, completed_by="0xabc", proof="hash", proof_uri="https://x.test/p"
        )
        assert_ledger_invariants()
        services.milestone_release(milestone=m, by=buyer)
        assert_ledger_invariants()
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.COMPLETED
    assert all(m.status == MilestoneStatus.RELEASED for m in milestones(escrow))
    assert wallet_balance(seller, "USD") == 100_000
    assert wallet_balance(buyer, "USD") == 0


def test_buyer_may_release_a_stage_the_seller_never_marked(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_release(milestone=first, by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


def test_released_milestone_cannot_be_released_again(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_release(milestone=first, by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="Milestone already released"):
        services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidRequest, match="Milestone already released"):
        services.milestone_complete(milestone=first, by=seller)
    assert ledger_fingerprint() == before
    assert LedgerTransaction.objects.filter(kind="RELEASE", milestone=first).count() == 1


def test_out_of_order_is_refused(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    _, second, third = milestones(escrow)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 0\) must be completed first"):
        services.milestone_complete(milestone=second, by=seller)
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 1\) must be released first"):
        services.milestone_release(milestone=third, by=buyer)
    assert ledger_fingerprint() == before


def test_complete_twice_is_refused(seller, buyer):
    escrow = make_escrow(seller)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    with pytest.raises(InvalidRequest, match="Milestone already completed"):
        services.milestone_complete(milestone=first, by=seller)


def test_wrong_actors(seller, buyer, stranger):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="Only the buyer"):
        services.milestone_release(milestone=first, by=seller)
    with pytest.raises(Forbidden, match="Only the seller"):
        services.milestone_complete(milestone=first, by=buyer)
    with pytest.raises(NotFound):
        services.milestone_release(milestone=first, by=stranger)
    with pytest.raises(NotFound):
        services.milestone_complete(milestone=first, by=stranger)
    assert ledger_fingerprint() == before


def test_release_before_funding_is_refused_but_completion_is_recorded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="early")
    assert refresh(first).status == MilestoneStatus.COMPLETED
    with pytest.raises(InvalidState, match="not funded"):
        services.milestone_release(milestone=first, by=buyer)


def test_payee_routing(seller, buyer):
    payee = UserFactory()
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=40_000, payee=payee), MilestoneInput(amount=60_000)],
    )
    fund(escrow, buyer)
    for m in milestones(escrow):
        services.milestone_release(milestone=m, by=buyer)
    assert wallet_balance(payee, "USD") == 40_000
    assert wallet_balance(seller, "USD") == 60_000
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_auto_release_on_proof_releases_in_order(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="x", currency="USD", amount=100_000, auto_release_on_proof=True),
        milestones=[MilestoneInput(amount=30_000), MilestoneInput(amount=70_000)],
    )
    first, second = milestones(escrow)
    # Completed before funding: recorded, released once funded.
    services.milestone_complete(milestone=first, by=seller)
    fund(escrow, buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    services.milestone_complete(milestone=second, by=seller)
    assert refresh(second).status == MilestoneStatus.RELEASED
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert_ledger_invariants()


def test_milestone_add_rules(seller):
    escrow = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="x", currency="USD", amount=100_000), milestones=None
    )
    services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=30_000))
    with pytest.raises(InvalidRequest, match="Milestone with index 0 already exists"):
        services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=10))
    with pytest.raises(InvalidRequest, match="Total milestone amounts exceed escrow order amount"):
        services.milestone_add(escrow=escrow, by=seller, index=1, milestone=MilestoneInput(amount=70_001))
    standard = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="x", currency="USD", amount=100, settlement_type="STANDARD", release_type="DELIVERY_PROOF"
        ),
        milestones=[],
    )
    with pytest.raises(
        InvalidRequest, match="Cannot create milestone for order with release type: DELIVERY_PROOF"
    ):
        services.milestone_add(escrow=standard, by=seller, index=0, milestone=MilestoneInput(amount=10))
