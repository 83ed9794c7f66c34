"""Client input never causes a 500: every failure is a 4xx in the surface's envelope."""

import pytest

from escrows.models import Escrow
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

INTENT_PATHS = ["/v1/payment-intents", "/v1/payment-intents/intent_x/escrow/milestones"]
PROVIDER_PATHS = [
    "/v1/escrow/milestone/create",
    "/v1/payment/escrow",
    "/v1/payment/topup",
    "/v1/customer/create",
]


def intent_error(r, status):
    assert r.status_code == status, r.content
    error = r.json()["error"]
    assert set(error) >= {"code", "message", "type"} and error["message"]
    return error


def provider_error(r, status):
    assert r.status_code == status, r.content
    body = r.json()
    assert body["status"] == status and body["message"] and body["data"] == {}
    return body


RAW_BODIES = [
    b"{not json",
    b"[1, 2, 3]",
    b'"a string"',
    b"null",
    b"\xff\xfe\x00garbage",
    b'{"amount": 1e999999}',
    b'{"amount": ' + b"9" * 5000 + b"}",
    b'{"amount": NaN}',
    b'{"a": ' * 2000 + b"1" + b"}" * 2000,
]


@pytest.mark.parametrize("raw", RAW_BODIES)
@pytest.mark.parametrize("path", INTENT_PATHS)
def test_malformed_bodies_payment_intents(seller, raw, path):
    r = client_for(seller).generic("POST", path, raw, content_type="application/json")
    assert 400 <= r.status_code < 500, r.content
    intent_error(r, r.status_code)
    assert Escrow.objects.count() == 0


@pytest.mark.parametrize("raw", RAW_BODIES)
@pytest.mark.parametrize("path", PROVIDER_PATHS)
def test_malformed_bodies_provider(seller, raw, path):
    r = client_for(seller).generic("POST", path, raw, content_type="application/json")
    assert 400 <= r.status_code < 500, r.content
    provider_error(r, r.status_code)


def test_wrong_content_type_is_415(seller):
    client = client_for(seller)
    r = client.generic(
        "POST", "/v1/payment-intents", b"amount=1", content_type="application/x-www-form-urlencoded"
    )
    assert intent_error(r, 415)["code"] == "unsupported_media_type"
    r = client.generic("POST", "/v1/payment/topup", b"<xml/>", content_type="text/xml")
    provider_error(r, 415)


def test_unknown_routes_and_methods(seller):
    client = client_for(seller)
    assert intent_error(client.get("/v1/nothing-here"), 404)["code"] == "resource_missing"
    assert intent_error(client.get("/v1/payment-intents/bad%00id"), 404)
    provider_error(client.get("/v1/escrow/unknown/route"), 404)
    provider_error(client.get("/v1/payment/other"), 404)
    assert intent_error(client.delete("/v1/payment-intents"), 405)["code"] == "method_not_allowed"
    provider_error(client.get("/v1/escrow/milestone/create"), 405)
    provider_error(client.put("/v1/payment/topup", {}, format="json"), 405)


def test_ids_with_encoded_newlines_get_the_json_404(seller):
    """Found by schemathesis: `.` in the catch-all did not match a decoded newline."""
    client = client_for(seller)
    provider_error(client.post("/v1/escrow/milestone/confirm/a%0Ab/m%0A", {}, format="json"), 404)
    assert intent_error(client.get("/v1/payment-intents/a%0Ab"), 404)["code"] == "resource_missing"


def test_oversized_body_is_413(seller, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    r = client_for(seller).post(
        "/v1/payment-intents", {"amount": "1.00", "currency": "USD", "description": "x" * 2000}, format="json"
    )
    intent_error(r, 413)


def test_non_ascii_everywhere_is_handled(seller):
    client = client_for(seller)
    r = client.post(
        "/v1/payment-intents",
        {"amount": "١٠٠", "currency": "USD", "description": "ok"},
        format="json",
    )
    # Arabic-Indic digits are not a decimal string we accept.
    intent_error(r, 400)
    r = client.post("/v1/payment-intents", {"amount": "1.00", "currency": "ÜSD"}, format="json")
    intent_error(r, 400)
    raw = b'{"amount": "1.00", "currency": "USD", "description": "\\ud800"}'
    r = client.generic("POST", "/v1/payment-intents", raw, content_type="application/json")
    intent_error(r, 400)
    raw = b'{"amount": "1.00", "currency": "USD", "metadata": {"\\udfff": 1}}'
    r = client.generic("POST", "/v1/payment-intents", raw, content_type="application/json")
    intent_error(r, 400)
    r = client.post(
        "/v1/payment-intents", {"amount": "1.00", "currency": "USD", "type": "a\x00b"}, format="json"
    )
    intent_error(r, 400)
    r = client.get("/v1/payment-intents/intent_x", HTTP_CUSTOMER_ID="cüs_ñ")
    intent_error(r, 404)


def test_huge_numbers(seller):
    client = client_for(seller)
    for amount in ("1" + "0" * 30, 10**30, "1e30", "0.0000000001"):
        intent_error(
            client.post("/v1/payment-intents", {"amount": amount, "currency": "USD"}, format="json"), 400
        )
    provider_error(
        client.post(
            "/v1/escrow/milestone/create",
            {"amount": 2**70, "purpose": "x", "milestones": [{"title": "a", "amount": 2**69}] * 2},
            format="json",
        ),
        400,
    )


def test_rate_limit_is_429_with_retry_after(seller, settings, monkeypatch):
    from escrows.api import common

    monkeypatch.setattr(common, "_clock", lambda: 1_800_000_030.0)  # mid-window: no rollover
    settings.API_RATE_LIMIT = "3/min"
    client = client_for(seller)
    for _ in range(3):
        assert client.get("/v1/payment-intents/intent_x").status_code == 404
    r = client.get("/v1/payment-intents/intent_x")
    error = intent_error(r, 429)
    assert error["type"] == "rate_limit_error"
    assert int(r["Retry-After"]) >= 1
    r = client.post("/v1/payment/topup", {"amount": 1}, format="json")
    provider_error(r, 429)
    assert int(r["Retry-After"]) >= 1
    # Another key has its own budget.
    assert client_for(seller).get("/v1/payment-intents/intent_x").status_code == 404
