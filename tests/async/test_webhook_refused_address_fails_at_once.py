"""A delivery whose address is refused at send time (the name now resolves to a loopback or
private address) is FAILED on that attempt, with the reason in the delivery log, and never
retried: trying again cannot make the address public, and each try would look it up again."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.helpers import make_escrow
from tests.webhook_resolver import ScriptedResolver
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def test_an_address_refused_at_send_time_fails_the_delivery_at_once(
    client, seller, receiver, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    resolver = ScriptedResolver(monkeypatch)
    port = receiver.server.server_address[1]
    resolver.answer("hooks.example.test", ["93.184.215.14"])
    endpoint = services.webhook_endpoint_create(
        customer=seller, url=f"http://hooks.example.test:{port}/hooks"
    )

    resolver.answer("hooks.example.test", ["127.0.0.1"])
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 1, None)
    reason = "refused: hooks.example.test resolves to 127.0.0.1, which is not a public internet address"
    assert delivery.last_error == reason
    assert receiver.received == []

    # Nothing is due any more, however long one waits.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_attempt_at=timezone.now())
    call_command("process_due")
    assert WebhookDelivery.objects.get().attempts == 1
    assert resolver.count("hooks.example.test") == 2, "one lookup to register, one for the attempt"

    client.force_login(seller)
    page = client.get(reverse("webhook_detail", args=[endpoint.public_id])).content.decode()
    assert "hooks.example.test resolves to 127.0.0.1" in page


def test_a_name_that_does_not_resolve_for_a_moment_is_retried(
    seller, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    resolver = ScriptedResolver(monkeypatch)
    resolver.answer("hooks.example.test", ["93.184.215.14"])
    services.webhook_endpoint_create(customer=seller, url="http://hooks.example.test/hooks")
    resolver.answer("hooks.example.test", [])  # no address now
    with django_capture_on_commit_callbacks(execute=True):
        make_escrow(seller)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.next_attempt_at is not None
    assert delivery.last_error == "url host hooks.example.test could not be resolved"
