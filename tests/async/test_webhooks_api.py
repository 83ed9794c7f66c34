"""`/v1/webhooks` over API keys: register (secret shown once), list, delete; strangers get 404."""

import pytest

from tests.api.conftest import client_for
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _public_urls_only(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False


def test_register_list_and_delete(seller):
    api = client_for(seller)
    r = api.post("/v1/webhooks", {"url": "https://93.184.216.34/hooks", "description": "shop"}, format="json")
    assert r.status_code == 201, r.json()
    created = r.json()
    endpoint = WebhookEndpoint.objects.get()
    assert created["id"] == endpoint.public_id and created["object"] == "webhook_endpoint"
    assert created["secret"] == endpoint.secret
    assert "milestone.released" in created["eventTypes"]

    listed = api.get("/v1/webhooks").json()
    assert listed["object"] == "list"
    assert [e["id"] for e in listed["data"]] == [endpoint.public_id]
    assert "secret" not in listed["data"][0]

    r = api.delete(f"/v1/webhooks/{endpoint.public_id}")
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://example.com/x"}, "url must start with http:// or https://"),
        ({"url": "http://127.0.0.1:8130/x"}, "url must point to a public internet address"),
        ({"url": 12}, "url: Must be a string."),
        ({}, "url: This field is required."),
        ({"url": "https://93.184.216.34/", "events": ["x"]}, "events: Unknown field."),
    ],
)
def test_bad_input_is_a_400_that_creates_nothing(seller, body, message):
    r = client_for(seller).post("/v1/webhooks", body, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == message
    assert not WebhookEndpoint.objects.exists()


def test_another_customers_endpoint_is_not_found(seller, stranger):
    endpoint = WebhookEndpoint.objects.create(customer=seller, url="https://93.184.216.34/")
    api = client_for(stranger)
    assert api.delete(f"/v1/webhooks/{endpoint.public_id}").status_code == 404
    assert api.get("/v1/webhooks").json()["data"] == []
    assert WebhookEndpoint.objects.exists()


def test_needs_an_api_key(client, db):
    r = client.get("/v1/webhooks")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "authentication_required"
