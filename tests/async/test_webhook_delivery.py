"""Deliveries to a real HTTP receiver on 127.0.0.1, with eager tasks."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from escrows.models import Event
from tests.helpers import make_escrow
from webhooks import services, signing
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def _make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_delivery_is_signed_and_logged(seller, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(customer=seller, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        escrow = make_escrow(seller)
    (request,) = receiver.wait_for(1)
    assert signing.verify(request.body, request.headers[signing.HEADER], endpoint.secret)
    assert not signing.verify(request.body, request.headers[signing.HEADER], "whsec_wrong")
    body = json.loads(request.body)
    assert body["type"] == "escrow.created"
    assert body["data"]["escrow"]["id"] == escrow.public_id
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Escrow-Event-Id"] == body["id"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert delivery.last_response == '{"ok": true}'
    assert delivery.payload.encode() == request.body


def test_a_500_is_retried_with_backoff_until_delivered(
    seller, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_BACKOFF_SECONDS = 10
    receiver.statuses = [500, 503]
    services.webhook_endpoint_create(customer=seller, url=receiver.url)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("PENDING", 1, 500)
    assert delivery.last_response == "receiver says no"
    assert (
        before + timedelta(seconds=10) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=10)
    )

    call_command("process_due")  # not due yet
    assert len(receiver.received) == 1
    _make_due(delivery)
    call_command("process_due")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    # Exponential: the second wait is twice the first.
    assert delivery.next_attempt_at - delivery.last_attempt_at >= timedelta(seconds=20)
    _make_due(delivery)
    call_command("process_due")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("SUCCEEDED", 3, 200)
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1, "every attempt sends the same body"
    assert all(
        signing.verify(r.body, r.headers[signing.HEADER], delivery.endpoint.secret) for r in receiver.received
    )


def test_gives_up_after_max_attempts(seller, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.default_status = 500
    services.webhook_endpoint_create(customer=seller, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    _make_due(WebhookDelivery.objects.get())
    call_command("process_due")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("FAILED", 2, None)
    call_command("process_due")
    assert len(receiver.received) == 2


def test_timeouts_and_refused_connections_are_failed_attempts(
    seller, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.delay = 1
    endpoint = services.webhook_endpoint_create(customer=seller, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "PENDING" and delivery.last_status_code is None
    assert "Timeout" in delivery.last_error
    # Nobody listening on the port any more.
    receiver.__exit__()
    _make_due(delivery)
    call_command("process_due")
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 2 and "ConnectionError" in delivery.last_error
    assert delivery.endpoint == endpoint


def test_private_address_refused_at_send_time(seller, receiver, settings, django_capture_on_commit_callbacks):
    services.webhook_endpoint_create(customer=seller, url=receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # e.g. the name now resolves to a private address
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error.startswith("refused:")
    assert receiver.received == []


def test_a_duplicated_task_sends_an_attempt_once(seller, receiver):
    services.webhook_endpoint_create(customer=seller, url=receiver.url)
    make_escrow(seller)
    services.events_dispatch()
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliver(delivery_id=delivery.pk, attempt=1).status == "SUCCEEDED"
    again = services.webhook_deliver(delivery_id=delivery.pk, attempt=1)
    assert again.skipped
    assert len(receiver.received) == 1


def test_disabled_endpoint_stops_pending_deliveries(seller, receiver):
    endpoint = services.webhook_endpoint_create(customer=seller, url=receiver.url)
    make_escrow(seller)
    services.events_dispatch()
    services.webhook_endpoint_set_enabled(endpoint=endpoint, by=seller, enabled=False)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliver(delivery_id=delivery.pk, attempt=1).status == "FAILED"
    assert receiver.received == []


def test_customer_sees_the_log_and_can_resend(
    client, seller, stranger, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    endpoint = services.webhook_endpoint_create(customer=seller, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    client.force_login(seller)
    page = client.get(reverse("webhook_detail", args=[endpoint.public_id])).content.decode()
    assert "escrow.created" in page and "500" in page and "receiver says no" in page
    assert "escrow.created" in client.get(reverse("webhooks")).content.decode()

    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    client.force_login(stranger)
    assert client.post(reverse("webhook_delivery_resend", args=[delivery.public_id])).status_code == 404
    client.force_login(seller)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("webhook_delivery_resend", args=[delivery.public_id]))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("SUCCEEDED", 1)
    assert len(receiver.received) == 2
    assert Event.objects.filter(kind="escrow.created").count() == 1


def test_admin_resends_a_failed_delivery(
    client, admin_user, seller, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    services.webhook_endpoint_create(customer=seller, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    client.force_login(admin_user)
    assert client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "resend", "_selected_action": [delivery.pk]},
        )
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED
    assert len(receiver.received) == 2
