"""`format` on POST /v1/webhooks: answered in the endpoint object (and the list), native when not
given, anything else refused with the payment-intents 400 envelope naming the choices, and
documented in the OpenAPI schema."""

import pytest

from tests.api.conftest import client_for
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hooks"


@pytest.mark.parametrize("format", ["native", "payluk", "finternet"])
def test_the_endpoint_is_made_in_the_format_asked_and_says_so(seller, format):
    api = client_for(seller)
    created = api.post("/v1/webhooks", {"url": URL, "format": format}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["format"] == format
    assert WebhookEndpoint.objects.get().format == format
    (listed,) = api.get("/v1/webhooks").json()["data"]
    assert (listed["id"], listed["format"]) == (created.json()["id"], format)


@pytest.mark.parametrize("body", [{"url": URL}, {"url": URL, "format": None}])
def test_without_a_format_it_is_native(seller, body):
    created = client_for(seller).post("/v1/webhooks", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["format"] == "native"
    assert "milestone.released" in created.json()["eventTypes"]


@pytest.mark.parametrize("format", ["stripe", "", "Payluk", "native,payluk"])
def test_a_format_that_is_not_one_is_a_400_naming_the_choices(seller, format):
    r = client_for(seller).post("/v1/webhooks", {"url": URL, "format": format}, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "invalid_request",
            "message": "format must be one of native, payluk, finternet",
            "type": "invalid_request_error",
            "param": "format",
        }
    }
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("format", [12, ["payluk"], {"name": "payluk"}, True])
def test_a_format_that_is_not_text_is_a_400(seller, format):
    r = client_for(seller).post("/v1/webhooks", {"url": URL, "format": format}, format="json")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "format: Must be a string."
    assert not WebhookEndpoint.objects.exists()


def test_the_schema_shows_the_format_in_and_out(client):
    schemas = client.get("/v1/schema", HTTP_ACCEPT="application/json").json()["components"]["schemas"]

    def choices(field):
        (ref,) = field["allOf"]
        named = schemas[ref["$ref"].rsplit("/", 1)[1]]
        return named["type"], named["enum"]

    sent = schemas["EndpointCreateInputRequest"]["properties"]["format"]
    assert choices(sent) == ("string", ["native", "payluk", "finternet"])
    assert (sent["default"], sent["nullable"]) == ("native", True)
    assert "payluk" in sent["description"] and "format" not in schemas["EndpointCreateInputRequest"].get(
        "required", []
    )
    answered = schemas["EndpointOutput"]["properties"]["format"]
    assert choices(answered) == ("string", ["native", "payluk", "finternet"])
    assert "format" in schemas["EndpointOutput"]["required"]
