"""The inspection period in both API surfaces: an optional `inspectionPeriodDays` on creation
(and on the escrow surface's edit), the default without it, bad values refused in the surface's
own error envelope, and the period in the escrow's representation."""

import pytest

from escrows.models import Escrow
from tests.api.test_payment_intents import INTENT
from tests.api.test_provider import body
from tests.helpers import fund, refresh

pytestmark = pytest.mark.django_db

MESSAGE = "inspectionPeriodDays must be a whole number of days from 1 to 30"
BAD = [0, -1, 31, 10**30]
NOT_NUMBERS = ["7", 7.5, True, {"days": 7}]


# -- escrow surface (Payluk) ---------------------------------------------------------------------


def test_escrow_create_takes_the_sellers_period(seller_api):
    r = seller_api.post("/v1/escrow/milestone/create", body(inspectionPeriodDays=5), format="json")
    assert r.status_code == 201, r.json()
    data = r.json()["data"]
    assert data["inspectionPeriodDays"] == 5
    assert Escrow.objects.get(public_id=data["id"]).inspection_days == 5


@pytest.mark.parametrize("changes", [{}, {"inspectionPeriodDays": None}])
def test_escrow_create_without_it_gets_the_default(seller_api, changes):
    r = seller_api.post("/v1/escrow/milestone/create", body(**changes), format="json")
    assert r.status_code == 201 and r.json()["data"]["inspectionPeriodDays"] == 14


@pytest.mark.parametrize("days", BAD)
def test_escrow_create_refuses_a_period_out_of_bounds_in_its_envelope(seller_api, days):
    r = seller_api.post("/v1/escrow/milestone/create", body(inspectionPeriodDays=days), format="json")
    assert r.status_code == 400
    assert r.json() == {
        "status": 400,
        "message": MESSAGE,
        "code": "invalid_request",
        "field": "inspectionPeriodDays",
        "data": {},
    }
    assert Escrow.objects.count() == 0


@pytest.mark.parametrize("days", NOT_NUMBERS)
def test_escrow_create_refuses_what_is_not_a_whole_number(seller_api, days):
    r = seller_api.post("/v1/escrow/milestone/create", body(inspectionPeriodDays=days), format="json")
    assert r.status_code == 400
    error = r.json()
    assert error["field"] == "inspectionPeriodDays" and error["data"] == {}
    assert error["message"].startswith("inspectionPeriodDays: ")
    assert Escrow.objects.count() == 0


def test_escrow_edit_changes_it_while_unpaid_and_keeps_it_when_not_sent(seller_api):
    created = seller_api.post("/v1/escrow/milestone/create", body(inspectionPeriodDays=5), format="json")
    token = created.json()["data"]["paymentToken"]
    r = seller_api.put(f"/v1/escrow/milestone/edit/{token}", body(inspectionPeriodDays=21), format="json")
    assert r.status_code == 200 and r.json()["data"]["inspectionPeriodDays"] == 21
    r = seller_api.put(f"/v1/escrow/milestone/edit/{token}", body(), format="json")
    assert r.status_code == 200 and r.json()["data"]["inspectionPeriodDays"] == 21
    r = seller_api.put(f"/v1/escrow/milestone/edit/{token}", body(inspectionPeriodDays=31), format="json")
    assert r.status_code == 400 and r.json()["message"] == MESSAGE
    assert Escrow.objects.get(payment_token=token).inspection_days == 21


def test_escrow_edit_after_payment_leaves_the_period(seller_api, buyer):
    created = seller_api.post("/v1/escrow/milestone/create", body(inspectionPeriodDays=5), format="json")
    escrow = Escrow.objects.get(public_id=created.json()["data"]["id"])
    fund(escrow, buyer)
    r = seller_api.put(
        f"/v1/escrow/milestone/edit/{escrow.payment_token}", body(inspectionPeriodDays=30), format="json"
    )
    assert r.status_code in (400, 409)
    assert refresh(escrow).inspection_days == 5


def test_the_escrow_list_shows_each_escrows_period(seller_api):
    seller_api.post("/v1/escrow/milestone/create", body(inspectionPeriodDays=3), format="json")
    seller_api.post("/v1/escrow/milestone/create", body(), format="json")
    r = seller_api.get("/v1/escrow/list?role=selling")
    assert r.status_code == 200, r.json()
    assert [e["inspectionPeriodDays"] for e in r.json()["data"]["escrows"]] == [14, 3]


# -- payment-intents surface (Finternet) ---------------------------------------------------------


def test_intent_create_takes_the_sellers_period(seller_api):
    r = seller_api.post("/v1/payment-intents", {**INTENT, "inspectionPeriodDays": 30}, format="json")
    assert r.status_code == 201, r.json()
    intent = r.json()
    assert intent["inspectionPeriodDays"] == 30
    assert seller_api.get(f"/v1/payment-intents/{intent['id']}").json()["inspectionPeriodDays"] == 30


def test_intent_create_without_it_gets_the_default(seller_api):
    r = seller_api.post("/v1/payment-intents", INTENT, format="json")
    assert r.status_code == 201 and r.json()["inspectionPeriodDays"] == 14


@pytest.mark.parametrize("days", BAD)
def test_intent_create_refuses_a_period_out_of_bounds_in_its_envelope(seller_api, days):
    r = seller_api.post("/v1/payment-intents", {**INTENT, "inspectionPeriodDays": days}, format="json")
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "invalid_request",
            "message": MESSAGE,
            "type": "invalid_request_error",
            "param": "inspectionPeriodDays",
        }
    }
    assert Escrow.objects.count() == 0


@pytest.mark.parametrize("days", NOT_NUMBERS)
def test_intent_create_refuses_what_is_not_a_whole_number(seller_api, days):
    r = seller_api.post("/v1/payment-intents", {**INTENT, "inspectionPeriodDays": days}, format="json")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "inspectionPeriodDays" and error["type"] == "invalid_request_error"
    assert Escrow.objects.count() == 0


def test_the_schema_documents_the_field_on_both_create_calls(client):
    schema = client.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    for name in ("EscrowInputRequest", "IntentCreateInputRequest"):
        field = components[name]["properties"]["inspectionPeriodDays"]
        assert (field["type"], field["minimum"], field["maximum"]) == ("integer", 1, 30), name
    for name in ("ProviderEscrow", "PaymentIntent"):
        assert components[name]["properties"]["inspectionPeriodDays"]["type"] == "integer", name
