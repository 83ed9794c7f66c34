"""Payluk's customer routes: a platform lists and reads its own customers a page at a time, sets
what each may do and blocks or unblocks them, in Payluk's envelope and words; another platform's
customer is not found, `customer-id` is refused on these routes, a key that is not a platform's is
refused, and bad input is a 4xx."""

import pytest

from accounts.models import User
from tests.api.conftest import client_for
from tests.api.payluk_calls import answer, customer, refusal

pytestmark = pytest.mark.django_db

FETCHED = "Customers fetched successfully"
STATUS_UPDATED = "Customers status updated successfully"
NOT_ALLOWED = "customer-id is not allowed in request header"


@pytest.fixture
def platform_api(platform):
    return client_for(platform)


def test_the_list_is_the_platforms_own_customers_newest_first_a_page_at_a_time(platform, platform_api):
    made = [customer(platform, f"c{i}@example.test", first_name=f"C{i}") for i in range(12)]
    other = User.objects.create_user("other-platform@example.test", is_platform=True)
    customer(other, "not-ours@example.test")

    first = answer(platform_api.get("/v1/customers"), message=FETCHED)
    assert [c["email"] for c in first["data"]] == [f"c{i}@example.test" for i in range(11, 1, -1)]
    assert first["pagination"] == {
        "count": 12,
        "pages": 2,
        "isLastPage": False,
        "nextPage": 2,
        "previousPage": None,
    }
    second = answer(platform_api.get("/v1/customers?page=2"))
    assert [c["email"] for c in second["data"]] == ["c1@example.test", "c0@example.test"]
    assert second["pagination"] == {
        "count": 12,
        "pages": 2,
        "isLastPage": True,
        "nextPage": None,
        "previousPage": 1,
    }
    five = answer(platform_api.get("/v1/customers?limit=5&page=3"))
    assert len(five["data"]) == 2 and five["pagination"]["pages"] == 3
    beyond = answer(platform_api.get("/v1/customers?page=9"))
    assert beyond["data"] == [] and beyond["pagination"]["isLastPage"] is True
    assert second["data"][1] == {
        "id": made[0].customer_id,
        "customerId": made[0].customer_id,
        "firstname": "C0",
        "lastname": "",
        "email": "c0@example.test",
        "phone": "",
        "canBuy": True,
        "canSell": True,
        "status": "active",
        "createdAt": second["data"][1]["createdAt"],
    }


def test_email_or_phone_looks_one_customer_up_and_none_matching_is_400(platform, platform_api):
    customer(platform, "ada@example.test", phone="+2348000000001")
    customer(platform, "obi@example.test", phone="+2348000000002")
    found = answer(platform_api.get("/v1/customers?email=ADA@example.test"), message=FETCHED)
    assert [c["email"] for c in found["data"]] == ["ada@example.test"]
    assert found["pagination"]["count"] == 1 and found["pagination"]["pages"] == 1
    by_phone = answer(platform_api.get("/v1/customers", {"phone": "+2348000000002"}))
    assert [c["email"] for c in by_phone["data"]] == ["obi@example.test"]
    refusal(
        platform_api.get("/v1/customers", {"email": "ada@example.test", "phone": "+2348000000002"}),
        400,
        "Customer not found",
    )
    refusal(platform_api.get("/v1/customers?email=nobody@example.test"), 400, "Customer not found")


def test_get_reads_one_of_the_platforms_customers_and_nobody_elses(platform, platform_api, seller):
    ada = customer(platform, "ada@example.test", first_name="Ada", last_name="Eze", phone="+2348000000001")
    data = answer(platform_api.get(f"/v1/customer/get/{ada.customer_id}"), message=FETCHED)
    assert (data["id"], data["firstname"], data["lastname"], data["phone"]) == (
        ada.customer_id,
        "Ada",
        "Eze",
        "+2348000000001",
    )
    other = User.objects.create_user("other-platform@example.test", is_platform=True)
    theirs = customer(other, "theirs@example.test")
    for customer_id in (theirs.customer_id, seller.customer_id, "cus_000000000000000000000000"):
        refusal(platform_api.get(f"/v1/customer/get/{customer_id}"), 404, "Customer not found")


def test_permissions_are_set_one_or_both_at_a_time(platform, platform_api):
    ada = customer(platform, "ada@example.test")
    url = f"/v1/customer/permissions/{ada.customer_id}"
    data = answer(platform_api.put(url, {"canBuy": False}, format="json"), message=FETCHED)
    assert data == {"id": ada.customer_id, "canBuy": False, "canSell": True}
    data = answer(platform_api.put(url, {"canSell": False, "canBuy": True}, format="json"))
    assert data == {"id": ada.customer_id, "canBuy": True, "canSell": False}
    ada.refresh_from_db()
    assert (ada.can_buy, ada.can_sell) == (True, False)
    assert answer(platform_api.get(f"/v1/customer/get/{ada.customer_id}"))["canSell"] is False


@pytest.mark.parametrize(
    "payload, message",
    [
        ({}, "Send canBuy or canSell (true or false)"),
        ({"canBuy": "false"}, "canBuy: Must be true or false."),
        ({"canSell": 0}, "canSell: Must be true or false."),
        ({"canBuy": None}, "canBuy: This field may not be null."),
        ({"canWithdraw": True}, "canWithdraw: Unknown field."),
    ],
)
def test_permissions_refuse_what_is_not_a_boolean(platform, platform_api, payload, message):
    ada = customer(platform, "ada@example.test")
    refusal(
        platform_api.put(f"/v1/customer/permissions/{ada.customer_id}", payload, format="json"), 400, message
    )
    ada.refresh_from_db()
    assert (ada.can_buy, ada.can_sell) == (True, True)


def test_block_and_unblock_answer_the_status(platform, platform_api):
    ada = customer(platform, "ada@example.test")
    data = answer(platform_api.put(f"/v1/customer/block/{ada.customer_id}"), message=STATUS_UPDATED)
    assert data == {"id": ada.customer_id, "status": "blocked"}
    ada.refresh_from_db()
    blocked_at = ada.blocked_at
    assert blocked_at is not None
    again = answer(platform_api.put(f"/v1/customer/block/{ada.customer_id}"))
    assert again["status"] == "blocked"
    ada.refresh_from_db()
    assert ada.blocked_at == blocked_at
    assert answer(platform_api.get(f"/v1/customer/get/{ada.customer_id}"))["status"] == "blocked"
    data = answer(platform_api.put(f"/v1/customer/unblock/{ada.customer_id}"), message=STATUS_UPDATED)
    assert data == {"id": ada.customer_id, "status": "active"}
    ada.refresh_from_db()
    assert ada.blocked_at is None


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/v1/customers"),
        ("get", "/v1/customer/get/{id}"),
        ("put", "/v1/customer/permissions/{id}"),
        ("put", "/v1/customer/block/{id}"),
        ("put", "/v1/customer/unblock/{id}"),
        ("post", "/v1/customer/create"),
    ],
)
def test_the_platforms_routes_refuse_customer_id(platform, method, path):
    ada = customer(platform, "ada@example.test")
    api = client_for(platform, customer_id=ada.customer_id)
    r = (
        getattr(api, method)(
            path.format(id=ada.customer_id), {"canBuy": False, "email": "x@example.test"}, format="json"
        )
        if method != "get"
        else api.get(path.format(id=ada.customer_id))
    )
    refusal(r, 400, NOT_ALLOWED, code="customer_id_not_allowed")
    ada.refresh_from_db()
    assert ada.can_buy and not ada.is_blocked
    assert not User.objects.filter(email="x@example.test").exists()


@pytest.mark.parametrize(
    "method, path, message",
    [
        ("get", "/v1/customers", "Only platform accounts can list customers"),
        ("get", "/v1/customer/get/{id}", "Only platform accounts can read customers"),
        ("put", "/v1/customer/permissions/{id}", "Only platform accounts can manage customers"),
        ("put", "/v1/customer/block/{id}", "Only platform accounts can manage customers"),
        ("put", "/v1/customer/unblock/{id}", "Only platform accounts can manage customers"),
    ],
)
def test_a_key_that_is_not_a_platforms_is_refused(seller, buyer, method, path, message):
    r = getattr(client_for(seller), method)(path.format(id=buyer.customer_id))
    refusal(r, 403, message, code="not_platform")


def test_no_key_is_401_in_the_envelope(client):
    refusal(
        client.get("/v1/customers"),
        401,
        "No API key provided: send it in X-API-Key or as Authorization: Bearer <key>",
    )


@pytest.mark.parametrize(
    "query, message",
    [
        ("page=0", "page must be a whole number from 1 to 1000000"),
        ("page=abc", "page must be a whole number from 1 to 1000000"),
        ("limit=101", "limit must be a whole number from 1 to 100"),
        ("limit=-1", "limit must be a whole number from 1 to 100"),
        ("email=" + "a" * 255, "email must be at most 254 characters"),
        ("phone=%00", "phone is not valid"),
    ],
)
def test_bad_paging_or_filters_are_400(platform_api, query, message):
    refusal(platform_api.get(f"/v1/customers?{query}"), 400, message)


def test_customer_create_answers_the_same_customer_object_and_takes_payluks_newer_fields(platform_api):
    data = answer(
        platform_api.post(
            "/v1/customer/create",
            {
                "firstname": "Ada",
                "lastname": "Eze",
                "email": "ada@example.test",
                "phone": "2348012345678",
                "countryId": "NG",
                "bvn": "12345678901",
            },
            format="json",
        ),
        201,
        "Customer created successfully",
    )
    assert data["firstname"] == "Ada" and data["status"] == "active" and data["canBuy"] is True
    assert answer(platform_api.get(f"/v1/customer/get/{data['id']}")) == data
