"""Funding an escrow from the wallet or by card: the buyer is charged amount + fee once, a
refusal changes nothing; wallet top-ups."""

import pytest

from core.errors import Conflict, Forbidden, InsufficientFunds, InvalidRequest, InvalidState, PaymentFailed
from escrows import services
from escrows.models import EscrowStatus, FundingSource, LedgerTransaction, Payment
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


def test_fund_from_wallet_charges_amount_plus_fee_once(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=200_000, currency="USD")
    payment = services.escrow_fund(escrow=escrow, by=buyer, reference="ref-1")
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.OPENED
    assert escrow.buyer == buyer
    assert payment.amount + payment.fee == 101_500
    assert wallet_balance(buyer, "USD") == 200_000 - 101_500
    assert LedgerTransaction.objects.filter(kind="FUNDING").count() == 1
    assert_ledger_invariants()
    # The same reference again is a replay, not a second charge.
    again = services.escrow_fund(escrow=escrow, by=buyer, reference="ref-1")
    assert again.pk == payment.pk
    assert wallet_balance(buyer, "USD") == 200_000 - 101_500
    # A new reference on a funded escrow is refused.
    with pytest.raises(InvalidState, match="already funded"):
        services.escrow_fund(escrow=escrow, by=buyer, reference="ref-2")
    assert LedgerTransaction.objects.filter(kind="FUNDING").count() == 1


def test_fund_by_card_uses_gateway(seller, buyer):
    escrow = make_escrow(seller)
    payment = services.escrow_fund(escrow=escrow, by=buyer, source=FundingSource.CARD, card_token="tok_visa")
    assert payment.gateway_reference.startswith("ch_")
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert_ledger_invariants()


def test_declined_card_changes_nothing(seller, buyer):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    with pytest.raises(PaymentFailed, match="declined"):
        services.escrow_fund(escrow=escrow, by=buyer, source=FundingSource.CARD, card_token="tok_decline")
    assert ledger_fingerprint() == before
    assert Payment.objects.count() == 0


def test_insufficient_balance_is_clear_and_changes_nothing(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=1_000, currency="USD")
    before = ledger_fingerprint()
    with pytest.raises(InsufficientFunds, match=r"1,015.00 USD needed, 10.00 USD available"):
        services.escrow_fund(escrow=escrow, by=buyer)
    assert ledger_fingerprint() == before
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_seller_cannot_fund_own_escrow(seller):
    escrow = make_escrow(seller)
    with pytest.raises(Forbidden):
        services.escrow_fund(escrow=escrow, by=seller)


def test_named_buyer_only(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer_email="buyer@example.test")
    services.wallet_topup(customer=stranger, amount=500_000, currency="USD")
    with pytest.raises(Forbidden, match="reserved for another buyer"):
        services.escrow_fund(escrow=escrow, by=stranger)
    fund(escrow, buyer)
    assert refresh(escrow).buyer == buyer


def test_reference_reused_for_another_escrow_conflicts(seller, buyer):
    a = make_escrow(seller)
    b = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    services.escrow_fund(escrow=a, by=buyer, reference="same")
    with pytest.raises(Conflict):
        services.escrow_fund(escrow=b, by=buyer, reference="same")
    assert refresh(b).status == EscrowStatus.AWAITING_PAYMENT


def test_cancelled_escrow_cannot_be_funded(seller, buyer):
    escrow = make_escrow(seller)
    services.escrow_cancel(escrow=escrow, by=seller)
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    with pytest.raises(InvalidState, match="cancelled"):
        services.escrow_fund(escrow=escrow, by=buyer)


def test_incomplete_milestone_set_cannot_be_funded(seller, buyer):
    escrow = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="x", currency="USD", amount=100_000), milestones=None
    )
    services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=30_000))
    services.milestone_add(escrow=escrow, by=seller, index=1, milestone=MilestoneInput(amount=50_000))
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    with pytest.raises(InvalidRequest, match="must sum"):
        services.escrow_fund(escrow=escrow, by=buyer)
    services.milestone_add(escrow=escrow, by=seller, index=2, milestone=MilestoneInput(amount=20_000))
    services.escrow_fund(escrow=escrow, by=buyer)
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_topup_refused_outside_test_mode(settings, buyer):
    settings.ESCROW_TEST_MODE = False
    from core.errors import TestModeOnly

    with pytest.raises(TestModeOnly):
        services.wallet_topup(customer=buyer, amount=100, currency="USD")


def test_buyer_pays_from_balance_earned_as_seller(seller, buyer):
    """Roles are per escrow: money earned selling can fund a purchase."""
    escrow = make_escrow(seller, parts=(50_000, 50_000))
    fund(escrow, buyer)
    for m in escrow.milestones.order_by("index"):
        services.milestone_release(milestone=m, by=buyer)
    third = UserFactory()
    purchase = make_escrow(third, parts=(10_000, 10_000))
    services.escrow_fund(escrow=purchase, by=seller)
    assert wallet_balance(seller, "USD") == 100_000 - purchase.total_charge
    assert_ledger_invariants()
