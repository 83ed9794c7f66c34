"""A whole little day delivered to real HTTP receivers on 127.0.0.1, one written for Payluk and one
for Finternet, each checking every request with its provider's published verification recipe,
with the endpoint's signing secret where the provider keys it with its own. Retries, the delivery
log, the address check and switching off a failing endpoint are the same as for our own format."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from escrows import services
from tests.helpers import fund, make_settling_escrow, make_standard, milestones
from tests.webhook_receiver import Receiver
from tests.webhooks.receivers import (
    finternet_verifies,
    payluk_verifies,
    payluk_verifies_as_older_receivers,
    received,
)
from webhooks import services as webhooks
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


# -- the day ------------------------------------------------------------------------------------


def a_day(seller, buyer, admin_user, capture):
    """A milestone escrow paid out through the off-ramp: created, paid, a stage delivered and
    released, the next disputed and resolved for the seller; and a standard escrow disputed and
    refunded. Each step commits, as in production, so every webhook goes out as it happens."""
    with capture(execute=True):
        escrow = make_settling_escrow(seller)
    with capture(execute=True):
        fund(escrow, buyer)
    first, second = milestones(escrow)
    with capture(execute=True):
        services.milestone_complete(milestone=first, by=seller, proof="0xabc")
    with capture(execute=True):
        services.milestone_release(milestone=first, by=buyer)
    with capture(execute=True):
        dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    with capture(execute=True):
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    with capture(execute=True):
        laptop = make_standard(seller)
    with capture(execute=True):
        fund(laptop, buyer)
    with capture(execute=True):
        dispute = services.dispute_open(escrow=laptop, by=buyer, reason="Not as described")
    with capture(execute=True):
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")


def test_a_payluk_receiver_verifies_every_webhook_of_a_day(
    seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        endpoint = webhooks.webhook_endpoint_create(customer=seller, url=receiver.url, format="payluk")
        a_day(seller, buyer, admin_user, django_capture_on_commit_callbacks)
        requests = received(receiver)
    events = [json.loads(body)["event"] for body, _ in requests]
    assert events == [
        "escrow.created",
        "escrow.ongoing",
        "escrow.completed",
        "escrow.created",
        "escrow.ongoing",
        "escrow.disputed",
        "escrow.refunded",
    ]
    for body, headers in requests:
        assert payluk_verifies(body, headers, endpoint.secret)
        assert payluk_verifies_as_older_receivers(body, headers, endpoint.secret)
        assert not payluk_verifies(body, headers, "whsec_someone_else")
        assert not payluk_verifies(body.replace(b'"event"', b'"event" '), headers, endpoint.secret)
        assert headers["content-type"] == "application/json" and headers["user-agent"]
    log = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("event_id")
    assert [(d.event_type, d.status, d.payload.encode()) for d in log] == [
        (json.loads(body)["event"], DeliveryStatus.SUCCEEDED, body) for body, _ in requests
    ]


def test_a_finternet_receiver_verifies_every_webhook_of_a_day(
    seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        endpoint = webhooks.webhook_endpoint_create(customer=seller, url=receiver.url, format="finternet")
        a_day(seller, buyer, admin_user, django_capture_on_commit_callbacks)
        requests = received(receiver)
    types = [json.loads(body)["type"] for body, _ in requests]
    assert types == [
        "payment_intent.created",
        "payment_intent.status_changed",
        "milestone.completed",
        "payment_intent.settlement_initiated",
        "payment_intent.settlement_completed",
        "dispute.raised",
        "dispute.resolved",
        "payment_intent.settlement_initiated",
        "payment_intent.status_changed",
        "payment_intent.settlement_completed",
        "payment_intent.created",
        "payment_intent.status_changed",
        "payment_intent.status_changed",
        "dispute.raised",
        "dispute.resolved",
        "payment_intent.status_changed",
    ]
    for body, headers in requests:
        assert finternet_verifies(body, headers, endpoint.secret)
        assert not finternet_verifies(body, headers, "whsec_someone_else")
        assert not finternet_verifies(body + b"\n", headers, endpoint.secret)
    ids = [json.loads(body)["id"] for body, _ in requests]
    assert len(set(ids)) == len(ids) and all(i.startswith("evt_") for i in ids)


@pytest.mark.parametrize(("format", "key"), [("payluk", "event"), ("finternet", "id")])
def test_a_retry_sends_the_same_body_so_a_receiver_dedupes_it(
    seller, settings, django_capture_on_commit_callbacks, format, key
):
    settings.WEBHOOK_BACKOFF_SECONDS = 10
    with Receiver(statuses=[500]) as receiver:
        endpoint = webhooks.webhook_endpoint_create(customer=seller, url=receiver.url, format=format)
        with django_capture_on_commit_callbacks(execute=True):
            make_standard(seller)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("PENDING", 1, 500)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        call_command("process_due")
        first, second = received(receiver)
    assert first[0] == second[0] == WebhookDelivery.objects.get().payload.encode()
    assert json.loads(first[0])[key] == json.loads(second[0])[key]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED
    assert endpoint.deliveries.count() == 1


@pytest.mark.parametrize("format", ["payluk", "finternet"])
def test_a_private_address_is_refused_at_send_time(
    seller, settings, django_capture_on_commit_callbacks, format
):
    with Receiver() as receiver:
        webhooks.webhook_endpoint_create(customer=seller, url=receiver.url, format=format)
        settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
        with django_capture_on_commit_callbacks(execute=True):
            make_standard(seller)
        assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_error[:8]) == (DeliveryStatus.FAILED, "refused:")


@pytest.mark.parametrize("format", ["payluk", "finternet"])
def test_an_endpoint_that_keeps_failing_is_switched_off(
    seller, settings, django_capture_on_commit_callbacks, format
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    with Receiver(default_status=500) as receiver:
        endpoint = webhooks.webhook_endpoint_create(customer=seller, url=receiver.url, format=format)
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                make_standard(seller)
        assert len(receiver.received) == 2
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
