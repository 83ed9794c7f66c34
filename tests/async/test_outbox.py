"""Events are the outbox: written in the transaction of the change, turned into one delivery per
(event, endpoint) after commit, and swept up by process_due if the enqueue never happened."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from escrows import services as escrow_services
from escrows.models import Escrow, Event
from tests.helpers import fund, make_escrow, milestones
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoints(seller, buyer, stranger):
    return {
        "seller": services.webhook_endpoint_create(customer=seller, url="https://example.com/seller"),
        "buyer": services.webhook_endpoint_create(customer=buyer, url="https://example.com/buyer"),
        "stranger": services.webhook_endpoint_create(customer=stranger, url="https://example.com/stranger"),
    }


def test_events_are_rolled_back_with_the_change(seller):
    with pytest.raises(RuntimeError), transaction.atomic():
        make_escrow(seller)
        assert Event.objects.filter(kind="escrow.created").exists()
        raise RuntimeError("the change fails")
    assert not Escrow.objects.exists()
    assert not Event.objects.exists()


def test_dispatch_runs_only_after_commit(seller, endpoints, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_escrow(seller)
    assert callbacks, "the dispatch is enqueued on commit"
    assert Event.objects.get(kind="escrow.created").dispatched_at is None
    assert not WebhookDelivery.objects.exists()
    services.events_dispatch()
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoints["seller"]
    assert Event.objects.get(kind="escrow.created").dispatched_at is not None


def test_one_dispatch_per_transaction_however_many_events(
    seller, buyer, endpoints, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)
    first, last = milestones(escrow)
    escrow_services.milestone_release(milestone=first, by=buyer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        escrow_services.milestone_release(milestone=last, by=buyer)  # released + completed
    assert (
        Event.objects.filter(kind__in=["milestone.released", "escrow.completed"], milestone=None).count() == 1
    )
    assert [c.__name__ for c in callbacks].count("_dispatch_events_after_commit") == 1
    # ...and that one hand-over delivered both events.
    kinds = set(
        WebhookDelivery.objects.filter(endpoint=endpoints["seller"]).values_list("event_type", flat=True)
    )
    assert {"milestone.released", "escrow.completed"} <= kinds
    assert not Event.objects.filter(escrow=escrow, dispatched_at=None).exclude(kind="escrow.created").exists()


def test_parties_get_their_events_and_strangers_nothing(
    seller, buyer, endpoints, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)
    first, second = milestones(escrow)
    escrow_services.milestone_complete(milestone=first, by=seller)
    escrow_services.milestone_release(milestone=first, by=buyer)
    escrow_services.milestone_release(milestone=second, by=buyer)
    services.events_dispatch()
    seller_types = list(
        WebhookDelivery.objects.filter(endpoint=endpoints["seller"])
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert seller_types == [
        "escrow.created",
        "escrow.funded",
        "milestone.completed",
        "milestone.released",
        "milestone.released",
        "escrow.completed",
    ]
    # The buyer was not a party when the escrow was created, but its funding carries the buyer.
    assert "escrow.funded" in WebhookDelivery.objects.filter(endpoint=endpoints["buyer"]).values_list(
        "event_type", flat=True
    )
    assert not WebhookDelivery.objects.filter(endpoint=endpoints["stranger"]).exists()
    # Audit-only kinds (top-ups) are marked dispatched without a delivery.
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
    assert not WebhookDelivery.objects.filter(event_type="wallet.topped_up").exists()


def test_payload_has_id_type_sequence_created_and_data(seller, buyer, endpoints):
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)
    services.events_dispatch()
    delivery = WebhookDelivery.objects.get(endpoint=endpoints["seller"], event_type="escrow.funded")
    body = json.loads(delivery.payload)
    event = Event.objects.get(kind="escrow.funded")
    assert body["id"] == event.public_id
    assert body["type"] == "escrow.funded"
    assert body["sequence"] == event.pk
    assert body["created"] == event.created_at.isoformat()
    assert body["data"]["escrow"]["id"] == escrow.public_id
    assert body["data"]["escrow"]["amount"] == "1000.00"
    assert body["data"]["escrow"]["buyer"] == buyer.customer_id
    assert (body["data"]["previousStatus"], body["data"]["status"]) == ("AWAITING_PAYMENT", "OPENED")
    created = json.loads(
        WebhookDelivery.objects.get(endpoint=endpoints["seller"], event_type="escrow.created").payload
    )
    assert created["sequence"] < body["sequence"]


def test_dispatching_twice_creates_each_delivery_once(seller, endpoints):
    make_escrow(seller)
    services.events_dispatch()
    Event.objects.update(dispatched_at=None)  # as if a second dispatcher saw the same events
    services.events_dispatch()
    assert WebhookDelivery.objects.count() == 1


def test_disabled_endpoints_get_nothing(seller, endpoints):
    services.webhook_endpoint_set_enabled(endpoint=endpoints["seller"], by=seller, enabled=False)
    make_escrow(seller)
    services.events_dispatch()
    assert not WebhookDelivery.objects.exists()


def test_sweep_redispatches_events_a_dead_process_left_behind(
    seller, endpoints, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_OUTBOX_GRACE_SECONDS = 60
    with django_capture_on_commit_callbacks(execute=False):
        make_escrow(seller)  # the process "dies" before its on-commit enqueue runs
    call_command("process_due")
    assert not WebhookDelivery.objects.exists(), "too fresh: its own enqueue may still be coming"
    Event.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    call_command("process_due")
    assert WebhookDelivery.objects.get().event_type == "escrow.created"
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()


# -- coalesced hand-over (EVENT_DISPATCH_COALESCE_SECONDS) -------------------------------------


@pytest.fixture
def queued_publishes(settings):
    """Tasks go to the in-memory broker and wait there (no worker, not eager), as in production
    between a publish and a worker taking it; yields the names of the tasks published."""
    from celery.signals import before_task_publish

    from escrow_site.celery import app

    settings.EVENT_DISPATCH_COALESCE_SECONDS = 10
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url="memory://", task_always_eager=False)
    app._pool = None
    app.__dict__.pop("amqp", None)
    published: list[str] = []

    def record(sender=None, **_):
        published.append(sender)

    from escrows.tasks import clear_dispatch_claim

    clear_dispatch_claim()
    before_task_publish.connect(record, weak=False)
    yield published
    before_task_publish.disconnect(record)
    clear_dispatch_claim()  # the next test's commits must publish
    app.conf.update(saved)
    app._pool = None
    app.__dict__.pop("amqp", None)


def _dispatches(published):
    return published.count("webhooks.tasks.dispatch_events")


def _release_two_in_their_own_commits(seller, buyer, capture):
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)  # its commit hooks are not run here
    for m in milestones(escrow):
        with capture(execute=True):
            escrow_services.milestone_release(milestone=m, by=buyer)


def test_commits_while_a_dispatch_is_queued_publish_no_other(
    seller, buyer, endpoints, queued_publishes, django_capture_on_commit_callbacks
):
    from webhooks.tasks import dispatch_events

    escrow = make_escrow(seller, parts=(30_000, 50_000, 20_000))
    fund(escrow, buyer)  # its commit hooks are not run here
    first, second, third = milestones(escrow)
    for m in (first, second):
        with django_capture_on_commit_callbacks(execute=True):
            escrow_services.milestone_release(milestone=m, by=buyer)
    # The first release published; the second rode along with that queued task.
    assert _dispatches(queued_publishes) == 1
    # The worker takes the queued task: it clears the flag, then reads every waiting event.
    dispatch_events()
    assert not Event.objects.filter(escrow=escrow, dispatched_at=None).exists()
    seller_deliveries = WebhookDelivery.objects.filter(endpoint=endpoints["seller"])
    assert "milestone.released" in set(seller_deliveries.values_list("event_type", flat=True))
    # Once it has started, the next commit publishes anew.
    with django_capture_on_commit_callbacks(execute=True):
        escrow_services.milestone_release(milestone=third, by=buyer)
    assert _dispatches(queued_publishes) == 2


def test_without_coalescing_every_commit_publishes(
    seller, buyer, queued_publishes, settings, django_capture_on_commit_callbacks
):
    settings.EVENT_DISPATCH_COALESCE_SECONDS = 0
    _release_two_in_their_own_commits(seller, buyer, django_capture_on_commit_callbacks)
    assert _dispatches(queued_publishes) == 2


def test_cache_outage_publishes_rather_than_holding_events_back(
    seller, buyer, queued_publishes, settings, django_capture_on_commit_callbacks
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    _release_two_in_their_own_commits(seller, buyer, django_capture_on_commit_callbacks)
    assert _dispatches(queued_publishes) == 2
