"""An integrator's whole day on the Payluk-compatible API, through HTTP only: the platform
creates its customers, a seller lists a laptop with pictures, the buyer finds and pays it,
one sale is confirmed, one claimed after its delivery window, one disputed and split by the
platform; lists, feeds and wallets agree with the ledger at every step. Sam's receiver on
127.0.0.1, written for Payluk, checks every webhook of the day with Payluk's own recipe."""

from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse

from escrows.models import Escrow
from tests.api.conftest import client_for
from tests.api.payluk import _acting, picture, standard_form
from tests.helpers import assert_ledger_invariants, at
from tests.webhooks.receivers import checked
from webhooks import services as webhooks

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media", "local_webhooks")]


def ok(r, status=200):
    assert r.status_code == status, r.content
    body = r.json()
    assert body["status"] == status and set(body) == {"status", "message", "data"}
    return body["data"]


def ok_created(r):
    assert r.status_code == 201, r.content
    return r.json()


def _route(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def wallet(api):
    """The customer's wallet: /v1/wallet where it is served, else nothing to read."""
    return ok(api.get("/v1/wallet")) if _route("api_provider_wallet") else None


def my_sales(api):
    """The seller's escrows: /v1/escrow/transactions where it is served, else /v1/escrow/list."""
    if _route("api_provider_transactions"):
        return ok(api.get("/v1/escrow/transactions", {"type": "sales"}))["data"]
    return ok(api.get("/v1/escrow/list", {"role": "selling"}))["escrows"]


def test_an_integrators_day(platform, settings, receiver, django_capture_on_commit_callbacks):
    api = client_for(platform)
    # Morning: the platform signs up its two customers.
    sam = ok(
        api.post("/v1/customer/create", {"email": "sam@shop.test", "firstname": "Sam"}, format="json"), 201
    )
    bea = ok(
        api.post("/v1/customer/create", {"email": "bea@shop.test", "firstname": "Bea"}, format="json"), 201
    )
    seller, buyer = _acting(api, _user(sam["id"])), _acting(api, _user(bea["id"]))
    # Sam's webhooks go to a receiver written for Payluk.
    hook = ok_created(seller.post("/v1/webhooks", {"url": receiver.url, "format": "payluk"}, format="json"))
    assert (hook["format"], hook["url"]) == ("payluk", receiver.url)

    # Sam lists three things for sale, with pictures.
    laptop = ok(
        seller.post(
            "/v1/escrow/create",
            {
                **standard_form(purpose="Laptop", amount="500"),
                "imageUrl": [picture("front.png"), picture("back.png")],
            },
            format="multipart",
        ),
        201,
    )
    phone = ok(
        seller.post("/v1/escrow/create", standard_form(purpose="Phone", amount="200"), format="multipart"),
        201,
    )
    camera = ok(
        seller.post("/v1/escrow/create", standard_form(purpose="Camera", amount="300"), format="multipart"),
        201,
    )
    assert {e["purpose"] for e in my_sales(seller)} >= {"Laptop", "Phone", "Camera"}
    assert len(laptop["imageUrl"]) == 2 and buyer.get(laptop["imageUrl"][0]).status_code == 200

    # Bea checks each link and pays from her wallet (topped up in test mode).
    ok(buyer.post("/v1/payment/topup", {"amount": 1100}, format="json"))
    for item in (laptop, phone, camera):
        preview = ok(buyer.get(f"/v1/escrow/verify/{item['paymentToken']}"))
        assert (preview["state"], preview["status"]) == ("AWAITING_PAYMENT", "PENDING")
        paid = ok(
            buyer.post(
                "/v1/payment/escrow",
                {"gateway": "WALLET", "transactionType": "ESCROW", "escrowDetails": {"escrowId": item["id"]}},
                format="json",
            )
        )
        assert (paid["state"], paid["escrowStatus"]) == ("OPENED", "ONGOING")
        assert_ledger_invariants()
    if (bea_wallet := wallet(buyer)) is not None:
        assert bea_wallet["escrowBalance"] == 1000

    # The laptop arrives: Bea confirms, Sam is paid.
    done = ok(buyer.post(f"/v1/escrow/confirm-payment/{laptop['id']}"))
    assert (done["state"], done["status"]) == ("CLOSED", "COMPLETED")
    assert_ledger_invariants()

    # The phone: Bea disputes with a photo, Sam answers, the platform splits it.
    opened = ok(
        buyer.post(
            f"/v1/escrow/submit-dispute/{phone['paymentToken']}",
            {"message": "Cracked screen", "file": picture("crack.png")},
            format="multipart",
        )
    )
    assert opened["status"] == "DISPUTED"
    answered = ok(
        seller.post(
            f"/v1/escrow/submit-dispute/{phone['paymentToken']}",
            {"message": "It was fine"},
            format="multipart",
        )
    )
    assert answered["status"] == "INVESTIGATING"
    queue = ok(api.get("/v1/escrow/all-dispute", {"status": "INVESTIGATING"}))
    assert [d["escrow"]["id"] for d in queue["data"]] == [phone["id"]]
    resolved = ok(
        api.post(
            f"/v1/escrow/dispute/resolve/{phone['id']}",
            {
                "resolution": "Both share the cost",
                "status": "SPLIT",
                "sellerAmount": "120",
                "buyerAmount": "80",
            },
            format="multipart",
        )
    )
    assert resolved == {"id": phone["id"], "status": "SPLIT", "state": "CLOSED"}
    assert_ledger_invariants()

    # The camera: Bea never confirms; after its delivery window Sam claims the money.
    funded_at = Escrow.objects.get(public_id=camera["id"]).funded_at
    claim = f"/v1/escrow/claim-funds/{camera['paymentToken']}"
    assert seller.get(claim).json()["message"] == "Escrow cannot be claimed yet"
    with at(funded_at + timedelta(days=3, seconds=1)):
        claimed = ok(seller.get(claim))
    assert (claimed["status"], claimed["state"]) == ("CLAIMED", "CLOSED")
    assert_ledger_invariants()

    # Evening: the feed shows each as it ended, and the wallets add up.
    feed = ok(api.get("/v1/escrow/feeds", {"limit": 10}))
    shown = {e["purpose"]: e["status"] for e in feed["data"]}
    assert shown == {"Laptop": "COMPLETED", "Phone": "SPLIT", "Camera": "CLAIMED"}
    assert feed["pagination"] == {
        "count": 3,
        "pages": 1,
        "isLastPage": True,
        "nextPage": None,
        "previousPage": None,
    }
    if (sam_wallet := wallet(seller)) is not None:
        assert (sam_wallet["mainBalance"], sam_wallet["escrowBalance"]) == (500 + 120 + 300, 0)
    if (bea_wallet := wallet(buyer)) is not None:
        assert bea_wallet["escrowBalance"] == 0
    from escrows.ledger import customer_account

    assert customer_account(_user(sam["id"]), "USD").balance == (500 + 120 + 300) * 100
    fee_total = sum(Escrow.objects.get(public_id=e["id"]).fee for e in (laptop, phone, camera))
    assert customer_account(_user(bea["id"]), "USD").balance == 110_000 - 100_000 - fee_total + 8_000

    # Night: the outbox goes out. Sam's receiver verifies every request with Payluk's recipe and
    # hears each of his escrows' Payluk statuses in the order they changed.
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.events_dispatch()
    bodies, bad_signatures = checked(receiver, "payluk", hook["secret"])
    assert bad_signatures == 0
    assert [(b["event"], b["data"]["id"]) for b in bodies] == [
        ("escrow.created", laptop["id"]),
        ("escrow.created", phone["id"]),
        ("escrow.created", camera["id"]),
        ("escrow.ongoing", laptop["id"]),
        ("escrow.ongoing", phone["id"]),
        ("escrow.ongoing", camera["id"]),
        ("escrow.completed", laptop["id"]),
        ("escrow.disputed", phone["id"]),
        ("escrow.investigating", phone["id"]),
        ("escrow.split", phone["id"]),
        ("escrow.claimed", camera["id"]),
    ]


def _user(customer_id):
    from accounts.models import User

    return User.objects.get(customer_id=customer_id)
