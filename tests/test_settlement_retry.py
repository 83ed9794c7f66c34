"""A failed payout is retried by staff or by the customer it pays, never by anyone else: the
amount is reserved again, the attempts start over now, and the retry is in the event log."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidState, NotFound
from escrows import services
from escrows.models import Event, Settlement, SettlementStatus
from escrows.selectors import balances_for_user
from tests.helpers import ledger_fingerprint, refresh

pytestmark = pytest.mark.django_db


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
