"""Settlement payouts through the Celery task (eager) and the process_due sweep."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from escrows import services
from escrows.models import MockOffRampPayout, Settlement, SettlementStatus
from escrows.providers import off_ramp
from escrows.selectors import balances_for_user
from escrows.tasks import settlement_process_task
from tests.helpers import assert_ledger_invariants, fund, make_settling_escrow, milestones, refresh
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_backoff(settings):
    settings.ESCROW_SETTLEMENT_BACKOFF_SECONDS = 0


def _released(seller, buyer, destination, capture, *, execute=True):
    escrow = make_settling_escrow(seller, destination)
    fund(escrow, buyer)
    with capture(execute=execute):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    return Settlement.objects.get(escrow=escrow)


def _paid_payouts() -> int:
    return MockOffRampPayout.objects.exclude(reference="").count()


def test_release_pays_once_and_tells_the_seller(seller, buyer, receiver, django_capture_on_commit_callbacks):
    endpoint = webhook_services.webhook_endpoint_create(customer=seller, url=receiver.url)
    settlement = _released(seller, buyer, "bank-1", django_capture_on_commit_callbacks)
    assert refresh(settlement).status == SettlementStatus.PAID
    assert settlement_process_task.apply(args=[settlement.pk]).get() == "PAID"
    assert _paid_payouts() == 1
    paid = WebhookDelivery.objects.get(endpoint=endpoint, event_type="settlement.paid")
    assert paid.status == "SUCCEEDED"
    assert refresh(settlement).public_id in paid.payload
    assert_ledger_invariants()


def test_backoff_is_exponential_capped_and_configurable(settings):
    settings.ESCROW_SETTLEMENT_BACKOFF_SECONDS = 2
    settings.ESCROW_SETTLEMENT_BACKOFF_MAX_SECONDS = 10
    assert [services.settlement_backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]


def test_failures_are_retried_by_process_due_then_fail_with_balance_intact(
    seller, buyer, receiver, django_capture_on_commit_callbacks
):
    endpoint = webhook_services.webhook_endpoint_create(customer=seller, url=receiver.url)
    settlement = _released(seller, buyer, "fail-bank", django_capture_on_commit_callbacks)
    assert (refresh(settlement).status, refresh(settlement).attempts) == ("SCHEDULED", 1)
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 30_000}
    for _ in range(services.settlement_max_attempts() - 1):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("process_due")
    settlement = refresh(settlement)
    assert (settlement.status, settlement.attempts) == ("FAILED", services.settlement_max_attempts())
    assert "unavailable" in settlement.last_error
    assert balances_for_user(seller)["USD"] == {"available": 30_000, "in_flight": 0}
    assert _paid_payouts() == 0
    assert WebhookDelivery.objects.filter(endpoint=endpoint, event_type="settlement.failed").exists()
    assert_ledger_invariants()


def test_failed_settlement_retried_by_staff_pays(
    seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    settlement = _released(seller, buyer, "reject-first", django_capture_on_commit_callbacks)
    assert refresh(settlement).status == SettlementStatus.FAILED
    Settlement.objects.filter(pk=settlement.pk).update(destination="bank-fixed")
    with django_capture_on_commit_callbacks(execute=True):
        services.settlement_retry(settlement=settlement, by=admin_user)
    assert refresh(settlement).status == SettlementStatus.PAID
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 0}
    assert _paid_payouts() == 1
    assert_ledger_invariants()


def test_network_error_is_a_failed_attempt_not_a_stuck_payout(
    seller, buyer, django_capture_on_commit_callbacks
):
    settlement = _released(seller, buyer, "unreachable-bank", django_capture_on_commit_callbacks)
    settlement = refresh(settlement)
    assert settlement.status == SettlementStatus.SCHEDULED
    assert "ConnectionError" in settlement.last_error


def test_worker_died_after_the_payout_sweep_finishes_it_once(
    seller, buyer, django_capture_on_commit_callbacks
):
    settlement = _released(seller, buyer, "bank-1", django_capture_on_commit_callbacks, execute=False)
    # A worker claimed it and the off-ramp paid, then the worker died before recording it.
    Settlement.objects.filter(pk=settlement.pk).update(
        status=SettlementStatus.PROCESSING, attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    first = off_ramp().payout(
        idempotency_key=settlement.public_id, amount=30_000, currency="USD", destination="x"
    )
    # A duplicate delivery of the task while the lease holds does nothing.
    assert services.settlement_process(settlement_id=settlement.pk).status == SettlementStatus.PROCESSING
    assert refresh(settlement).attempts == 1
    with django_capture_on_commit_callbacks(execute=True):
        call_command("process_due")
    assert refresh(settlement).status == SettlementStatus.PROCESSING, "lease not over yet"
    Settlement.objects.filter(pk=settlement.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("process_due")
    settlement = refresh(settlement)
    assert settlement.status == SettlementStatus.PAID
    assert settlement.provider_reference == first.reference
    assert _paid_payouts() == 1
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 0}
    assert_ledger_invariants()


def test_lost_enqueue_is_swept_up(seller, buyer, django_capture_on_commit_callbacks):
    settlement = _released(seller, buyer, "bank-1", django_capture_on_commit_callbacks, execute=False)
    assert refresh(settlement).status == SettlementStatus.SCHEDULED
    with django_capture_on_commit_callbacks(execute=True):
        call_command("process_due")
    assert refresh(settlement).status == SettlementStatus.PAID
    assert _paid_payouts() == 1
