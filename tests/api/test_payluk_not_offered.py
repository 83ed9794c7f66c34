"""Payluk publishes routes this server does not offer (saved cards, categories administration,
vaults, crypto whitelists and deposits, bank lists, virtual accounts, the hosted checkout widget
and a few more): each answers a 4xx in Payluk's envelope saying so and what to use instead, with
or without a key, whatever the method; a path nobody publishes is still the surface's 404; the
OpenAPI schema lists every one."""

import pytest
from rest_framework.test import APIClient

from escrows.api.provider.not_offered import ROUTES
from tests.api.payluk_calls import refusal

pytestmark = pytest.mark.django_db

EXPECTED = {
    "/cards": (
        403,
        "Saved cards are not offered by this server: pay with gateway CARD and a cardToken each time.",
    ),
    "/card/{cardId}": (
        403,
        "Saved cards are not offered by this server: pay with gateway CARD and a cardToken each time.",
    ),
    "/whitelist-address": (
        403,
        "Crypto deposits and whitelisted addresses are not offered by this server: fund a wallet or pay an "
        "escrow by card.",
    ),
    "/escrow/category/create": (
        403,
        "Category administration is not offered by this server: an escrow keeps the categoryId it is "
        "created with, as given.",
    ),
    "/escrow/vault/create": (
        403,
        "Vault escrows are not offered by this server: create a standard or milestone escrow.",
    ),
    "/payment/bank-list": (
        403,
        "Bank lists and account checks are not offered by this server: payouts go to the settlement "
        "destination of the customer's account.",
    ),
    "/payment/virtual-account": (
        410,
        "Virtual accounts are not offered by this server: pay an escrow with POST /v1/payment/escrow.",
    ),
    "/checkout/session": (
        403,
        "The hosted checkout widget is not offered by this server: send the buyer to the escrow's payment "
        "link (/pay/<paymentToken>).",
    ),
}


def concrete(path):
    return "/v1" + path.replace("{cardId}", "card_1").replace("{addressId}", "addr_1").replace(
        "{categoryId}", "cat_1"
    ).replace("{paymentToken}", "pt_1").replace("{phone}", "2348012345678").replace("{customerId}", "cus_1")


@pytest.mark.parametrize("path, expected", EXPECTED.items())
def test_each_group_says_it_is_not_offered_and_what_to_use(seller_api, path, expected):
    status, message = expected
    route = next(r for r in ROUTES if r.path == path)
    r = getattr(seller_api, route.methods[0])(concrete(path), {}, format="json")
    refusal(r, status, message, code="not_offered")


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.methods[0]} {r.path}" for r in ROUTES])
def test_every_published_route_not_offered_answers_so_without_a_key_and_for_any_method(route):
    anonymous = APIClient()
    for method in (*route.methods, "get", "patch"):
        r = getattr(anonymous, method)(concrete(route.path))
        assert r.status_code == route.feature.status_code, (method, route.path, r.content)
        body = r.json()
        assert body["status"] == route.feature.status_code and body["code"] == "not_offered"
        assert body["message"] == route.feature.message and "not offered by this server" in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/cards/extra",
        "/v1/card",
        "/v1/whitelist-address/a/b",
        "/v1/escrow/category/rename/cat_1",
        "/v1/escrow/vault",
        "/v1/wallet/address",
        "/v1/customers/cus_1",
        "/v1/checkout",
        "/v1/merchant/settings",
    ],
)
def test_a_path_nobody_publishes_is_still_the_surfaces_404(seller_api, path):
    refusal(seller_api.get(path), 404, "Unknown API route", code="resource_missing")


def test_the_schema_documents_the_new_routes_and_the_ones_not_offered(client):
    paths = client.get("/v1/schema", HTTP_ACCEPT="application/json").json()["paths"]
    for path, method in [
        ("/v1/customers", "get"),
        ("/v1/customer/get/{customer_id}", "get"),
        ("/v1/customer/permissions/{customer_id}", "put"),
        ("/v1/customer/block/{customer_id}", "put"),
        ("/v1/customer/unblock/{customer_id}", "put"),
        ("/v1/wallet", "get"),
        ("/v1/escrow/transactions", "get"),
        ("/v1/payment/escrow", "post"),
    ]:
        assert method in paths[path], path
    documented = {
        path
        for path, operations in paths.items()
        if any(
            op.get("operationId", "").startswith("provider_not_offered")
            for op in operations.values()
            if isinstance(op, dict)
        )
    }
    assert len(documented) == len(ROUTES)
    pay = paths["/v1/payment/escrow"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert pay.endswith("PayInputRequest")
