"""An endpoint whose last WEBHOOK_DISABLE_AFTER_FAILURES deliveries all failed (each after every
retry) is switched off, once, and its owner is told; a delivered one in between keeps it on."""

import pytest

from escrows.models import Event
from notifications.models import Category, Notification
from tests.notifications.helpers import told
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(seller, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    return services.webhook_endpoint_create(customer=seller, url=receiver.url)


def deliver_one(seller, status: int, receiver) -> WebhookDelivery:
    receiver.statuses = [status]
    Event.objects.create(kind="escrow.created", customer=seller, details={})
    services.events_dispatch()
    delivery = WebhookDelivery.objects.latest("pk")
    services.webhook_deliver(delivery_id=delivery.pk, attempt=1)
    return WebhookDelivery.objects.get(pk=delivery.pk)


def test_repeated_failures_switch_the_endpoint_off_and_tell_its_owner(endpoint, seller, stranger, receiver):
    for status in (500, 500, 200, 500, 500):
        deliver_one(seller, status, receiver)
        endpoint.refresh_from_db()
        assert endpoint.enabled, "a delivered one in between keeps it on"
    last = deliver_one(seller, 503, receiver)
    assert last.status == DeliveryStatus.FAILED
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    event = Event.objects.get(kind="webhook_endpoint.disabled")
    assert event.details["failures"] == 3 and event.details["endpoint"] == endpoint.public_id
    notices = told("webhook_endpoint.disabled")
    assert set(notices) == {seller.email}
    notice = notices[seller.email]
    assert notice.subject == "Webhook endpoint switched off after repeated failures"
    assert notice.url == f"/settings/webhooks/{endpoint.public_id}/"
    assert notice.category == Category.WEBHOOKS and notice.action_required
    assert endpoint.url in notice.body_text
    assert not Notification.objects.filter(recipient=stranger).exists()
    # Switched off once: later failures add no second notice.
    services.webhook_endpoint_disable_failing(endpoint_id=endpoint.pk)
    assert Event.objects.filter(kind="webhook_endpoint.disabled").count() == 1


def test_zero_never_switches_one_off(endpoint, seller, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 0
    for _ in range(4):
        deliver_one(seller, 500, receiver)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert not Event.objects.filter(kind="webhook_endpoint.disabled").exists()
