"""Both create calls take an optional `buyerEmail`: the payment link is then reserved for that
buyer, who finds it on their Buying tab; a bad address is a 400 in the surface's envelope, and
the schema documents the field."""

import pytest
import yaml
from django.urls import reverse

from escrows.models import Escrow, Event
from tests.api.test_payment_intents import INTENT
from tests.api.test_provider import body
from tests.factories import UserFactory
from tests.views.conftest import client_for as page_client

pytestmark = pytest.mark.django_db

PAT = "pat@example.test"


def test_a_payment_intent_names_its_buyer_by_email(seller_api):
    r = seller_api.post("/v1/payment-intents", {**INTENT, "buyerEmail": " Pat@Example.test "}, format="json")
    assert r.status_code == 201, r.json()
    escrow = Escrow.objects.get(public_id=r.json()["id"])
    assert escrow.buyer_email == PAT
    assert Event.objects.get(escrow=escrow, kind="escrow.created").escrow.buyer_email == PAT


def test_a_provider_escrow_names_its_buyer_by_email(seller_api):
    r = seller_api.post("/v1/escrow/milestone/create", body(buyerEmail=PAT), format="json")
    assert r.status_code == 201, r.json()
    escrow = Escrow.objects.get(public_id=r.json()["data"]["id"])
    assert escrow.buyer_email == PAT
    html = page_client(UserFactory(email=PAT)).get(reverse("dashboard"), {"tab": "buying"}).content.decode()
    assert reverse("pay", args=[escrow.payment_token]) in html


@pytest.mark.parametrize("value", [None, ""])
def test_without_a_buyer_email_the_link_is_open(seller_api, value):
    r = seller_api.post("/v1/payment-intents", {**INTENT, "buyerEmail": value}, format="json")
    assert r.status_code == 201, r.json()
    r = seller_api.post("/v1/escrow/milestone/create", body(buyerEmail=value), format="json")
    assert r.status_code == 201, r.json()
    assert set(Escrow.objects.values_list("buyer_email", flat=True)) == {""}


@pytest.mark.parametrize(
    "value",
    ["not-an-email", "pat@", 42, ["pat@example.test"], "p" * 250 + "@example.test", "seller@example.test"],
)
def test_a_bad_buyer_email_is_a_400_in_the_intents_envelope(seller_api, value):
    r = seller_api.post("/v1/payment-intents", {**INTENT, "buyerEmail": value}, format="json")
    assert r.status_code == 400, r.json()
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "buyerEmail"
    assert error["message"]
    assert not Escrow.objects.exists()


@pytest.mark.parametrize(
    "value",
    ["not-an-email", "pat@", 42, ["pat@example.test"], "p" * 250 + "@example.test", "seller@example.test"],
)
def test_a_bad_buyer_email_is_a_400_in_the_provider_envelope(seller_api, value):
    r = seller_api.post("/v1/escrow/milestone/create", body(buyerEmail=value), format="json")
    assert r.status_code == 400, r.json()
    data = r.json()
    assert data["status"] == 400 and data["data"] == {}
    assert data["field"] == "buyerEmail"
    assert "buyerEmail" in data["message"] or "buyer" in data["message"]
    assert not Escrow.objects.exists()


def test_the_schema_documents_buyer_email_on_both_create_calls(client):
    schema = yaml.safe_load(client.get("/v1/schema").content)
    components = schema["components"]["schemas"]

    def request_schema(path):
        content = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return components[content["$ref"].rsplit("/", 1)[-1]]

    for path in ("/v1/payment-intents", "/v1/escrow/milestone/create"):
        request = request_schema(path)
        field = request["properties"]["buyerEmail"]
        # An address, or empty (no buyer named), or null.
        variants = field.get("oneOf", [field])
        assert {"type": "string", "format": "email"}.items() <= variants[0].items(), field
        assert field.get("nullable") is True
        assert "buyerEmail" not in request.get("required", [])
