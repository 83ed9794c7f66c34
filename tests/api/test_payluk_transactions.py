"""GET /v1/escrow/transactions: the acting customer's escrows they sell (`type=sales`) or buy
(`type=buy`), newest first, a page at a time, by status (every one of Payluk's, each showing on
exactly the escrows it filters) and category, as the same escrow objects as every other route;
`type` is required and bad input is 400."""

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import Dispute, DisputeOutcome, DisputeStatus, Escrow, EscrowStatus
from tests.api.conftest import client_for
from tests.api.payluk_calls import answer, customer, refusal
from tests.helpers import fund, make_escrow, make_standard, milestones

pytestmark = pytest.mark.django_db

FETCHED = "Transaction fetched successfully"


@pytest.fixture
def ada(platform):
    return customer(platform, "ada@example.test")


@pytest.fixture
def ada_api(platform, ada):
    return client_for(platform, customer_id=ada.customer_id)


def test_sales_and_buys_are_the_customers_own_newest_first(ada, ada_api, seller, buyer):
    sold = [make_escrow(ada, title=f"Sold {i}") for i in range(3)]
    bought = make_escrow(seller, title="Bought")
    fund(bought, ada)
    make_escrow(seller, title="Someone else's")

    sales = answer(ada_api.get("/v1/escrow/transactions?type=sales"), message=FETCHED)
    assert [e["purpose"] for e in sales["data"]] == ["Sold 2", "Sold 1", "Sold 0"]
    assert sales["pagination"] == {
        "count": 3,
        "pages": 1,
        "isLastPage": True,
        "nextPage": None,
        "previousPage": None,
    }
    assert [m["title"] for m in sales["data"][0]["milestones"]] == ["Stage 0", "Stage 1", "Stage 2"]
    assert sales["data"][0]["id"] == sold[2].public_id and sales["data"][0]["sellerId"] == ada.customer_id
    buys = answer(ada_api.get("/v1/escrow/transactions", {"type": "buy"}))
    assert [(e["purpose"], e["state"], e["status"]) for e in buys["data"]] == [
        ("Bought", "OPENED", "ONGOING")
    ]
    # The same object as the single-escrow routes answer with.
    single = answer(ada_api.get(f"/v1/escrow/milestone/{bought.payment_token}"))
    assert [m["id"] for m in buys["data"][0]["milestones"]] == [m["id"] for m in single]


def test_pages_of_a_long_history(ada, ada_api):
    for i in range(23):
        make_escrow(ada, title=f"E{i}")
    first = answer(ada_api.get("/v1/escrow/transactions?type=sales"))
    assert (
        len(first["data"]) == 10
        and first["pagination"]["nextPage"] == 2
        and first["pagination"]["pages"] == 3
    )
    last = answer(ada_api.get("/v1/escrow/transactions?type=sales&page=3"))
    assert [e["purpose"] for e in last["data"]] == ["E2", "E1", "E0"]
    assert last["pagination"]["isLastPage"] is True and last["pagination"]["previousPage"] == 2
    twenty = answer(ada_api.get("/v1/escrow/transactions?type=sales&limit=20&page=2"))
    assert len(twenty["data"]) == 3


def _settle_split(escrow, seller, buyer):
    """A standard escrow whose dispute a ruling split."""
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched")
    Dispute.objects.filter(pk=dispute.pk).update(
        status=DisputeStatus.RESOLVED, outcome=DisputeOutcome.SPLIT, seller_amount=100, buyer_amount=100
    )
    Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.COMPLETED)


def test_each_status_filters_the_escrows_that_show_it(ada, ada_api, buyer, stranger):
    shows = {}
    shows["PENDING"] = make_escrow(ada, title="PENDING")
    shows["ONGOING"] = make_escrow(ada, title="ONGOING")
    fund(shows["ONGOING"], buyer)
    shows["DISPUTED"] = make_standard(ada)
    fund(shows["DISPUTED"], buyer)
    services.dispute_open(escrow=shows["DISPUTED"], by=buyer, reason="Late")
    shows["INVESTIGATING"] = make_standard(ada)
    fund(shows["INVESTIGATING"], stranger)
    answered = services.dispute_open(escrow=shows["INVESTIGATING"], by=stranger, reason="Broken")
    Dispute.objects.filter(pk=answered.pk).update(status=DisputeStatus.ANSWERED)
    shows["COMPLETED"] = make_escrow(ada, parts=(10_000, 10_000))
    fund(shows["COMPLETED"], buyer)
    for m in milestones(shows["COMPLETED"]):
        services.milestone_release(milestone=m, by=buyer)
    shows["CLAIMED"] = make_standard(ada)
    fund(shows["CLAIMED"], buyer)
    Escrow.objects.filter(pk=shows["CLAIMED"].pk).update(
        status=EscrowStatus.COMPLETED, claimed_at=timezone.now()
    )
    shows["SPLIT"] = make_standard(ada)
    _settle_split(shows["SPLIT"], ada, buyer)
    shows["REFUNDED"] = make_escrow(ada)
    fund(shows["REFUNDED"], buyer)
    services.escrow_refund_milestones(
        escrow=shows["REFUNDED"], by=ada, milestones=milestones(shows["REFUNDED"])
    )
    shows["CANCELLED"] = make_escrow(ada)
    services.escrow_cancel(escrow=shows["CANCELLED"], by=ada)

    everything = answer(ada_api.get("/v1/escrow/transactions?type=sales&limit=100"))["data"]
    assert sorted(e["status"] for e in everything) == sorted(shows)
    for status, escrow in shows.items():
        for spelled in (status, status.lower()):
            page = answer(ada_api.get(f"/v1/escrow/transactions?type=sales&status={spelled}"))
            assert [(e["id"], e["status"]) for e in page["data"]] == [(escrow.public_id, status)], status


def test_category_filters(ada, ada_api):
    make_escrow(ada, title="Shoes", category_id="cat_shoes")
    make_escrow(ada, title="Hats", category_id="cat_hats")
    page = answer(ada_api.get("/v1/escrow/transactions?type=sales&categoryId=cat_hats"))
    assert [(e["purpose"], e["categoryId"]) for e in page["data"]] == [("Hats", "cat_hats")]


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "type is required: sales or buy"),
        ("type=", "type is required: sales or buy"),
        ("type=SALES", "type must be one of: sales, buy"),
        ("type=all", "type must be one of: sales, buy"),
        (
            "type=buy&status=LOST",
            "status must be one of: PENDING, ONGOING, DISPUTED, INVESTIGATING, COMPLETED, CLAIMED, SPLIT, "
            "REFUNDED, CANCELLED",
        ),
        ("type=buy&page=0", "page must be a whole number from 1 to 1000000"),
        ("type=buy&limit=1000", "limit must be a whole number from 1 to 100"),
        ("type=buy&categoryId=" + "x" * 65, "categoryId must be at most 64 characters"),
        ("type=buy&categoryId=a%00b", "categoryId is not valid"),
    ],
)
def test_bad_input_is_400(ada_api, query, message):
    refusal(ada_api.get(f"/v1/escrow/transactions?{query}"), 400, message)
