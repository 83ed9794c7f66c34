import pytest
from django.urls import reverse

from core.errors import InvalidRequest, NotFound
from webhooks import services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_create_generates_a_secret_and_refuses_bad_urls(seller):
    endpoint = services.webhook_endpoint_create(customer=seller, url=" https://example.com/hook ")
    assert endpoint.url == "https://example.com/hook"
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 30
    assert endpoint.enabled
    for bad in (
        "",
        "ftp://example.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "nonsense",
    ):
        with pytest.raises(InvalidRequest):
            services.webhook_endpoint_create(customer=seller, url=bad)
    assert WebhookEndpoint.objects.count() == 1


def test_private_addresses_are_refused_unless_allowed(seller, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    for url in (
        "http://127.0.0.1:8130/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ):
        with pytest.raises(InvalidRequest, match="public internet address|could not be resolved"):
            services.webhook_endpoint_create(customer=seller, url=url)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:8130/hook")


def test_endpoint_limit(seller):
    for i in range(services.MAX_ENDPOINTS_PER_CUSTOMER):
        services.webhook_endpoint_create(customer=seller, url=f"https://example.com/{i}")
    with pytest.raises(InvalidRequest, match="At most"):
        services.webhook_endpoint_create(customer=seller, url="https://example.com/one-more")


def test_only_the_owner_may_disable_or_delete(seller, stranger):
    endpoint = services.webhook_endpoint_create(customer=seller, url="https://example.com/hook")
    with pytest.raises(NotFound):
        services.webhook_endpoint_set_enabled(endpoint=endpoint, by=stranger, enabled=False)
    with pytest.raises(NotFound):
        services.webhook_endpoint_delete(endpoint=endpoint, by=stranger)
    assert services.webhook_endpoint_set_enabled(endpoint=endpoint, by=seller, enabled=False).enabled is False
    services.webhook_endpoint_delete(endpoint=endpoint, by=seller)
    assert not WebhookEndpoint.objects.exists()


def test_page_lists_creates_toggles_and_deletes(client, seller):
    client.force_login(seller)
    page = client.get(reverse("webhooks"))
    assert page.status_code == 200
    assert b"No endpoints yet" in page.content

    response = client.post(reverse("webhooks"), {"url": "https://example.com/h", "description": "shop"})
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("webhook_detail", args=[endpoint.public_id])
    detail = client.get(response["Location"])
    assert endpoint.secret.encode() in detail.content

    client.post(reverse("webhook_toggle", args=[endpoint.public_id]))
    assert WebhookEndpoint.objects.get().enabled is False
    client.post(reverse("webhook_toggle", args=[endpoint.public_id]))
    assert WebhookEndpoint.objects.get().enabled is True
    client.post(reverse("webhook_delete", args=[endpoint.public_id]))
    assert not WebhookEndpoint.objects.exists()


def test_page_refuses_a_bad_url_with_a_message(client, seller):
    client.force_login(seller)
    response = client.post(reverse("webhooks"), {"url": "ftp://example.com/x"})
    assert response.status_code == 400
    assert b"Enter an address that starts with https:// (or http://)." in response.content
    assert b"url must" not in response.content
    assert not WebhookEndpoint.objects.exists()


def test_another_customers_endpoint_is_not_found(client, seller, stranger):
    endpoint = services.webhook_endpoint_create(customer=seller, url="https://example.com/h")
    client.force_login(stranger)
    assert client.get(reverse("webhook_detail", args=[endpoint.public_id])).status_code == 404
    assert client.post(reverse("webhook_delete", args=[endpoint.public_id])).status_code == 404
    assert client.post(reverse("webhook_toggle", args=[endpoint.public_id])).status_code == 404
    assert WebhookEndpoint.objects.get().enabled is True
    assert endpoint.secret.encode() not in client.get(reverse("webhooks")).content


def test_admin_lists_and_disables_through_the_service(client, admin_user, seller):
    endpoint = services.webhook_endpoint_create(customer=seller, url="https://example.com/h")
    client.force_login(admin_user)
    assert client.get(reverse("admin:webhooks_webhookendpoint_changelist")).status_code == 200
    assert client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).status_code == 200
    assert client.get(reverse("admin:webhooks_webhookdelivery_changelist")).status_code == 200
    client.post(
        reverse("admin:webhooks_webhookendpoint_changelist"),
        {"action": "disable", "_selected_action": [endpoint.pk]},
    )
    assert WebhookEndpoint.objects.get().enabled is False


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(reverse("webhooks"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.post(reverse("webhooks"), {"url": "https://example.com/h"}).status_code == 302
    assert not WebhookEndpoint.objects.exists()
