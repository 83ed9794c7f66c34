"""Payouts: a release or a withdrawal schedules one, the mock off-ramp pays it once, retries a
flaky destination and fails a refused one with the money back; retries by staff or the payee."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import (
    Event,
    LedgerTransaction,
    MockOffRampPayout,
    Settlement,
    SettlementStatus,
    TransactionKind,
)
from escrows.selectors import balances_for_user, wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

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


# A failed payout is retried by staff or by the customer it pays, never by anyone else: the
# amount is reserved again, the attempts start over now, and the retry is in the event log.


def _failed_payout(customer, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=customer, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=customer, amount=2_000, currency="USD", destination="reject-me")
    settlement = Settlement.objects.get()
    assert settlement.status == SettlementStatus.FAILED
    return settlement


def test_the_customer_retries_their_own_failed_payout(seller, django_capture_on_commit_callbacks):
    settlement = _failed_payout(seller, django_capture_on_commit_callbacks)
    assert balances_for_user(seller)["USD"] == {"available": 5_000, "in_flight": 0}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.settlement_retry(settlement=settlement, by=seller)
    assert callbacks, "the payout is handed to the worker after commit"
    retried = refresh(settlement)
    assert retried.status == SettlementStatus.SCHEDULED
    assert retried.attempts == 0
    assert abs(retried.next_attempt_at - timezone.now()) < timedelta(seconds=5)
    assert balances_for_user(seller)["USD"] == {"available": 3_000, "in_flight": 2_000}
    event = Event.objects.get(kind="settlement.retried")
    assert (event.actor, event.customer, event.settlement_id) == (seller, seller, settlement.pk)
    assert (event.from_status, event.to_status) == (SettlementStatus.FAILED, SettlementStatus.SCHEDULED)


def test_staff_retry_is_recorded_as_theirs(seller, admin_user, django_capture_on_commit_callbacks):
    settlement = _failed_payout(seller, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        services.settlement_retry(settlement=settlement, by=admin_user)
    event = Event.objects.get(kind="settlement.retried")
    assert (event.actor, event.customer) == (admin_user, seller)


def test_someone_else_is_told_the_payout_does_not_exist(seller, stranger, django_capture_on_commit_callbacks):
    settlement = _failed_payout(seller, django_capture_on_commit_callbacks)
    before = ledger_fingerprint()
    with pytest.raises(NotFound, match="^Settlement not found$"):
        services.settlement_retry(settlement=settlement, by=stranger)
    assert ledger_fingerprint() == before
    assert refresh(settlement).status == SettlementStatus.FAILED


def test_only_a_failed_payout_is_retried(seller, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-1")
    paid = Settlement.objects.get()
    with pytest.raises(InvalidState, match="^Only a failed settlement can be retried$"):
        services.settlement_retry(settlement=paid, by=seller)


# A payout: asked for with a destination of at most 200 characters, and when the off-ramp
# refuses it for good the reserved money goes back to the customer's balance, with the posting
# and the event naming the payout, its escrow and the off-ramp's reason.


@pytest.mark.parametrize("destination", ["", "   ", None, "x" * 201])
def test_a_withdrawal_needs_a_destination_of_at_most_200_characters(seller, destination):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    before = ledger_fingerprint()
    with pytest.raises(
        InvalidRequest, match=r"^destination is required \(at most 200 characters\)$"
    ) as refused:
        services.wallet_withdraw(customer=seller, amount=1_000, currency="USD", destination=destination)
    assert refused.value.field == "destination"
    assert ledger_fingerprint() == before


def test_a_destination_of_exactly_200_characters_is_taken_trimmed(seller, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=False):
        settlement = services.wallet_withdraw(
            customer=seller, amount=1_000, currency="USD", destination=f"  {'d' * 200}  "
        )
    assert settlement.destination == "d" * 200
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.escrow_id) == (seller, seller, None)


def test_a_refused_payout_gives_the_money_back_and_says_why(
    seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(
        seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="reject-me"
    )
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = refresh(Settlement.objects.get())
    assert settlement.status == SettlementStatus.FAILED
    assert settlement.next_attempt_at is None
    assert settlement.last_error == "Destination rejected by the off-ramp"
    assert balances_for_user(seller)["USD"] == {"available": 30_000, "in_flight": 0}
    returned = LedgerTransaction.objects.get(kind=TransactionKind.PAYOUT_RETURN)
    assert (returned.escrow_id, returned.settlement_id, returned.currency) == (
        escrow.pk,
        settlement.pk,
        "USD",
    )
    event = Event.objects.get(kind="settlement.failed")
    assert (event.actor, event.customer, event.escrow_id, event.settlement_id) == (
        None,
        seller,
        escrow.pk,
        settlement.pk,
    )
    assert (event.from_status, event.to_status) == (SettlementStatus.PROCESSING, SettlementStatus.FAILED)
    assert event.details == {"error": settlement.last_error}
    assert_ledger_invariants()
