import pytest

from escrows import services
from escrows.models import MockOffRampPayout, Settlement, SettlementStatus
from escrows.selectors import balances_for_user, wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import assert_ledger_invariants, fund, milestones, refresh

pytestmark = pytest.mark.django_db


def _escrow_with_settlement(seller, destination="bank_account_123"):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="x",
            currency="USD",
            amount=100_000,
            settlement_method="OFF_RAMP_MOCK",
            settlement_destination=destination,
        ),
        milestones=[MilestoneInput(amount=30_000), MilestoneInput(amount=70_000)],
    )


def test_release_schedules_a_settlement_paid_once(seller, buyer, django_capture_on_commit_callbacks):
    escrow = _escrow_with_settlement(seller)
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = Settlement.objects.get()
    assert settlement.status == SettlementStatus.PAID
    assert settlement.amount == 30_000
    assert MockOffRampPayout.objects.exclude(reference="").count() == 1
    # Running the task again pays nothing more.
    services.settlement_process(settlement_id=settlement.pk)
    assert MockOffRampPayout.objects.exclude(reference="").count() == 1
    assert wallet_balance(seller, "USD") == 0
    assert_ledger_invariants()


def test_failed_settlement_retries_then_fails_with_balance_intact(
    seller, buyer, django_capture_on_commit_callbacks
):
    escrow = _escrow_with_settlement(seller, destination="fail-always")
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = Settlement.objects.get()
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 30_000}
    outcomes = [
        services.settlement_process(settlement_id=settlement.pk)
        for _ in range(services.SETTLEMENT_MAX_ATTEMPTS)
    ]
    assert [o.status for o in outcomes[:-1]] == ["SCHEDULED"] * (services.SETTLEMENT_MAX_ATTEMPTS - 1)
    assert outcomes[-1].status == "FAILED"
    assert refresh(settlement).status == SettlementStatus.FAILED
    assert balances_for_user(seller)["USD"] == {"available": 30_000, "in_flight": 0}
    assert_ledger_invariants()


def test_flaky_destination_pays_after_retries(seller, buyer, django_capture_on_commit_callbacks):
    escrow = _escrow_with_settlement(seller, destination="flaky-2-bank")
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = Settlement.objects.get()
    first = services.settlement_process(settlement_id=settlement.pk)
    assert first.retry_in is not None
    services.settlement_process(settlement_id=settlement.pk)
    assert services.settlement_process(settlement_id=settlement.pk).status == "PAID"
    assert_ledger_invariants()


def test_admin_retry_of_failed_settlement(seller, buyer, admin_user, django_capture_on_commit_callbacks):
    escrow = _escrow_with_settlement(seller, destination="reject-me")
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = Settlement.objects.get()
    assert settlement.status == SettlementStatus.FAILED
    with django_capture_on_commit_callbacks(execute=False):
        services.settlement_retry(settlement=settlement, by=admin_user)
    assert refresh(settlement).status == SettlementStatus.SCHEDULED
    assert balances_for_user(seller)["USD"]["in_flight"] == 30_000
    assert_ledger_invariants()


def test_withdrawal(seller, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-1")
    assert Settlement.objects.get().status == SettlementStatus.PAID
    assert wallet_balance(seller, "USD") == 3_000
    from core.errors import InsufficientFunds

    with pytest.raises(InsufficientFunds):
        services.wallet_withdraw(customer=seller, amount=3_001, currency="USD", destination="iban-1")
    assert_ledger_invariants()
