"""Settlements and webhooks through a real Celery worker on Redis and PostgreSQL."""

import json

import pytest

from escrows import services
from escrows.models import MockOffRampPayout, Settlement, SettlementStatus
from escrows.selectors import balances_for_user
from escrows.tasks import run_timers
from tests.helpers import assert_ledger_invariants, fund, make_settling_escrow, milestones, refresh
from tests.integration.conftest import wait_until
from tests.webhook_receiver import Receiver
from webhooks import services as webhook_services
from webhooks import signing
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _release_first(seller, buyer, destination: str) -> Settlement:
    escrow = make_settling_escrow(seller, destination)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)  # commits; enqueues
    return Settlement.objects.get(escrow=escrow)


def _settled(settlement: Settlement):  # type: ignore[no-untyped-def]
    current = refresh(settlement)
    return current if current.status in (SettlementStatus.PAID, SettlementStatus.FAILED) else None


def _paid_payouts() -> int:
    return MockOffRampPayout.objects.exclude(reference="").count()


def test_release_produces_exactly_one_paid_settlement(broker, seller, buyer):
    settlement = _release_first(seller, buyer, "bank-acct-1")
    done = wait_until(lambda: _settled(settlement), what="the worker to pay the settlement")
    assert done.status == SettlementStatus.PAID
    assert done.attempts == 1
    assert _paid_payouts() == 1
    assert MockOffRampPayout.objects.get().idempotency_key == settlement.public_id
    assert "settlement_process_task[" in broker.log(), "paid by the worker, not in this process"
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 0}
    assert_ledger_invariants()


def test_provoked_failure_retries_with_backoff_then_fails_with_balance_intact(broker, seller, buyer):
    settlement = _release_first(seller, buyer, "fail-bank")
    done = wait_until(lambda: _settled(settlement), what="the settlement to fail")
    assert done.status == SettlementStatus.FAILED
    assert done.attempts == 3  # ESCROW_SETTLEMENT_MAX_ATTEMPTS in the worker
    assert MockOffRampPayout.objects.get().attempts == 3
    assert _paid_payouts() == 0
    # Retried by the task's own countdown (no sweep ran), with growing waits of 0.5s then 1s.
    assert "Off-ramp temporarily unavailable" in done.last_error
    assert (done.updated_at - done.created_at).total_seconds() >= 1.5
    assert balances_for_user(seller)["USD"] == {"available": 30_000, "in_flight": 0}
    assert done.events.filter(kind="settlement.failed").count() == 1
    assert_ledger_invariants()


def test_worker_killed_mid_payout_still_pays_exactly_once(broker, seller, buyer):
    settlement = _release_first(seller, buyer, "slow-bank")
    # The off-ramp has paid and is slow to answer (30s): kill the worker while it waits.
    wait_until(lambda: _paid_payouts() == 1, what="the off-ramp to record the payout")
    assert refresh(settlement).status == SettlementStatus.PROCESSING
    broker.kill()
    assert refresh(settlement).status == SettlementStatus.PROCESSING
    broker.start()
    # The sweep (beat's process_due) re-drives it once its 3s lease has run out.
    done = wait_until(
        lambda: (run_timers(), _settled(settlement))[1], timeout=40, interval=1, what="the sweep to finish it"
    )
    assert done.status == SettlementStatus.PAID
    assert done.attempts == 2
    assert done.provider_reference == MockOffRampPayout.objects.get().reference
    assert _paid_payouts() == 1
    assert done.ledger_transactions.filter(kind="PAYOUT_PAID").count() == 1
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 0}
    assert_ledger_invariants()


def test_webhook_receiver_gets_signed_deliveries_and_a_retry_after_500(broker, seller, buyer):
    with Receiver(statuses=[500]) as receiver:
        endpoint = webhook_services.webhook_endpoint_create(customer=seller, url=receiver.url)
        services.wallet_topup(customer=seller, amount=5_000, currency="USD")
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-1")
        requests = receiver.wait_for(2)
        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(status="SUCCEEDED").first(), what="the delivery to succeed"
        )
    first, second = requests[:2]
    assert first.body == second.body
    for request in (first, second):
        assert signing.verify(request.body, request.headers[signing.HEADER], endpoint.secret)
    assert [r.headers["Escrow-Delivery-Attempt"] for r in (first, second)] == ["1", "2"]
    assert second.at - first.at >= 0.4  # WEBHOOK_BACKOFF_SECONDS
    body = json.loads(first.body)
    assert body["type"] == "settlement.paid"
    assert body["data"]["settlement"]["destination"] == "iban-1"
    assert (delivery.attempts, delivery.last_status_code, delivery.endpoint_id) == (2, 200, endpoint.pk)
    assert WebhookDelivery.objects.count() == 1, "top-ups and scheduling are not webhook events"


def test_coalesced_hand_overs_lose_no_event(broker, seller, buyer, settings):
    """Production's setting: web process and worker share CACHE_URL, so while a dispatch task is
    queued, commits publish no other. Releases back to back, with the worker taking tasks as
    they come: every event is dispatched, and each of the seller's endpoint gets every one."""
    from django.core.cache import caches

    from escrows.models import Event
    from escrows.tasks import DISPATCH_PENDING_KEY
    from tests.helpers import make_escrow

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": broker.env["CACHE_URL"],
        }
    }
    settings.EVENT_DISPATCH_COALESCE_SECONDS = 10
    caches["default"].delete(DISPATCH_PENDING_KEY)
    with Receiver() as receiver:
        endpoint = webhook_services.webhook_endpoint_create(customer=seller, url=receiver.url)
        escrows = [make_escrow(seller, buyer=buyer, parts=(10_00, 20_00, 30_00)) for _ in range(3)]
        for escrow in escrows:
            fund(escrow, buyer)
        for round_ in range(3):
            for escrow in escrows:
                services.milestone_release(milestone=milestones(escrow)[round_], by=buyer)
        wanted = Event.objects.filter(escrow__in=escrows, kind__in=["milestone.released", "escrow.completed"])
        assert wanted.count() == 12
        wait_until(
            lambda: not Event.objects.filter(dispatched_at__isnull=True).exists(),
            timeout=20,
            what="every event dispatched (well before the 60 s outbox sweep)",
        )
        expected = WebhookDelivery.objects.filter(endpoint=endpoint).count()
        requests = receiver.wait_for(expected, timeout=20)
    types = [json.loads(r.body)["type"] for r in requests]
    assert types.count("milestone.released") == 9 and types.count("escrow.completed") == 3
