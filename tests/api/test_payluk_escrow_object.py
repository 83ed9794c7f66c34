"""Payluk's escrow object carries what Payluk's does beside our own fields: `channel` "API",
`category` (always null: we keep no categories), `isSeller` for whoever asks, and `logs`, what
happened to the escrow, on the routes answering one escrow (the lists leave them empty)."""

import pytest

from escrows.models import Escrow, Event
from tests.api.payluk import create_standard, platform_with_customers, top_up_and_pay

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


@pytest.fixture
def shop(platform):
    return platform_with_customers(platform)


def logs_of(escrow_id):
    return [
        {"action": kind, "createdAt": created_at.isoformat().replace("+00:00", "Z")}
        for kind, created_at in Event.objects.filter(escrow__public_id=escrow_id)
        .order_by("id")
        .values_list("kind", "created_at")
    ]


def test_one_escrow_says_who_asks_and_what_happened_to_it(shop):
    created = create_standard(shop.seller_api, categoryId="phones")
    assert (created["channel"], created["category"], created["categoryId"]) == ("API", None, "phones")
    assert created["isSeller"] is True
    assert [log["action"] for log in created["logs"]] == ["escrow.created"]
    assert created["logs"] == logs_of(created["id"])
    top_up_and_pay(shop.buyer_api, shop.buyer, created)

    as_buyer = shop.buyer_api.get(f"/v1/escrow/verify/{created['paymentToken']}").json()["data"]
    assert as_buyer["isSeller"] is False
    assert len(as_buyer["logs"]) > 1 and as_buyer["logs"] == logs_of(created["id"])
    as_seller = shop.seller_api.get(f"/v1/escrow/verify/{created['paymentToken']}").json()["data"]
    assert as_seller["isSeller"] is True and as_seller["logs"] == as_buyer["logs"]


def test_the_lists_say_who_asks_and_leave_the_logs_out(shop):
    created = create_standard(shop.seller_api)
    Escrow.objects.filter(public_id=created["id"]).update(buyer=shop.buyer)

    def listed(api, path, key):
        data = api.get(path).json()["data"][key]
        ((escrow,),) = [[e for e in data if e["id"] == created["id"]]]
        assert (escrow["channel"], escrow["category"], escrow["logs"]) == ("API", None, [])
        return escrow["isSeller"]

    assert listed(shop.seller_api, "/v1/escrow/list", "escrows") is True
    assert listed(shop.buyer_api, "/v1/escrow/list", "escrows") is False
    assert listed(shop.seller_api, "/v1/escrow/transactions?type=sales", "data") is True
    assert listed(shop.buyer_api, "/v1/escrow/transactions?type=buy", "data") is False
    # The platform asks for itself on its feeds: it sells none of its customers' escrows.
    assert listed(shop.api, "/v1/escrow/feeds", "data") is False
