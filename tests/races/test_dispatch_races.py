"""Concurrent dispatchers and duplicate payout tasks on PostgreSQL, with real row locks."""

import pytest

from escrows import services
from escrows.models import Event, MockOffRampPayout, Settlement, SettlementStatus
from tests.helpers import assert_ledger_invariants, make_escrow, refresh
from tests.races.test_concurrency import race
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("local_webhooks"),
]


@pytest.fixture(autouse=True)
def _tasks_queued_not_run():
    """Commits here are real: queue tasks in the in-memory broker instead of running them, so
    the races below are the only thing doing the work."""
    from escrow_site.celery import app

    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    yield
    app.conf.task_always_eager = eager


def test_concurrent_dispatchers_create_each_delivery_exactly_once(seller, buyer):
    webhook_services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:1/seller")
    webhook_services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:1/seller-2")
    escrows = [make_escrow(seller, buyer=buyer) for _ in range(30)]
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 30
    outcomes = race(6, webhook_services.events_dispatch)
    assert outcomes == {"ok": 6}
    assert WebhookDelivery.objects.count() == 2 * len(escrows)
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


def test_duplicate_payout_tasks_pay_once_and_count_one_attempt(seller):
    services.wallet_topup(customer=seller, amount=10_000, currency="USD")
    services.wallet_withdraw(customer=seller, amount=4_000, currency="USD", destination="bank-1")
    settlement = Settlement.objects.get()
    assert settlement.status == SettlementStatus.SCHEDULED
    outcomes = race(8, lambda: services.settlement_process(settlement_id=settlement.pk))
    assert outcomes == {"ok": 8}
    settlement = refresh(settlement)
    assert settlement.status == SettlementStatus.PAID
    assert settlement.attempts == 1  # the lease turns away every run that finds it PROCESSING
    assert MockOffRampPayout.objects.exclude(reference="").count() == 1
    assert settlement.ledger_transactions.filter(kind="PAYOUT_PAID").count() == 1
    assert_ledger_invariants()
