"""Payluk's disputes: the buyer opens one with an evidence file, the seller answers once
(INVESTIGATING), each lists theirs; the platform lists every dispute and escrow of its
customers (page-numbered, without customer-id) and resolves COMPLETED, REFUNDED or SPLIT."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.services import customer_create_for_platform
from escrows.ledger import customer_account
from escrows.models import Dispute, DisputeStatus, Escrow, EscrowStatus
from tests.api.conftest import client_for
from tests.api.payluk import assert_error, create_standard, platform_with_customers, top_up_and_pay
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, ledger_fingerprint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


@pytest.fixture
def shop(platform):
    return platform_with_customers(platform)


@pytest.fixture
def paid(shop):
    data = create_standard(shop.seller_api)
    top_up_and_pay(shop.buyer_api, shop.buyer, data)
    return data


def evidence(name="receipt.pdf", content=b"%PDF-1.4 receipt", content_type="application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def submit(api, token, message, file=None):
    form = {"message": message, **({"file": file} if file is not None else {})}
    return api.post(f"/v1/escrow/submit-dispute/{token}", form, format="multipart")


def test_buyer_opens_with_evidence_seller_answers_once(shop, paid):
    token = paid["paymentToken"]
    assert_error(
        submit(shop.seller_api, token, "They want to keep it"),
        403,
        "Only the buyer can open a dispute; the seller can answer one the buyer opened",
    )
    r = submit(shop.buyer_api, token, "Item not as described", evidence())
    assert r.status_code == 200 and r.json()["message"] == "Escrow dispute submitted successfully"
    data = r.json()["data"]
    assert (data["id"], data["status"]) == (paid["id"], "DISPUTED")
    assert [(m["type"], m["message"]) for m in data["dispute"]] == [("buyer", "Item not as described")]
    dispute = Dispute.objects.get(escrow__public_id=paid["id"])
    stored = dispute.evidence.get()
    assert (
        stored.submitter_role == "buyer" and stored.file_sha256 and stored.content_type == "application/pdf"
    )
    assert_error(submit(shop.buyer_api, token, "Again"), 400, "This escrow is already disputed")
    r = submit(shop.seller_api, token, "It was as described", evidence("photo.txt", b"shipped", "text/plain"))
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["status"] == "INVESTIGATING"
    assert [(m["type"], m["message"]) for m in data["dispute"]] == [
        ("buyer", "Item not as described"),
        ("seller", "It was as described"),
    ]
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.ANSWERED
    assert dispute.evidence.count() == 2
    assert_error(submit(shop.seller_api, token, "And again"), 400, "This dispute is already answered")
    # Shown as INVESTIGATING with the escrow still OPENED.
    r = shop.seller_api.get(f"/v1/escrow/verify/{token}")
    assert (r.json()["data"]["state"], r.json()["data"]["status"]) == ("OPENED", "INVESTIGATING")


def test_submit_refusals(shop, paid, stranger_api):
    token = paid["paymentToken"]
    assert_error(submit(shop.buyer_api, token, ""), 400, "message: This field may not be blank.")
    assert_error(
        submit(shop.buyer_api, token, "Bad", evidence("x.exe", b"MZ", "application/x-msdownload")),
        400,
        "The evidence file must be a PDF, an image (PNG, JPEG, GIF, WebP), text, CSV or ZIP",
    )
    assert_error(submit(stranger_api, token, "Nosy"), 404, "Escrow not found")
    assert not Dispute.objects.exists()
    unpaid = create_standard(shop.seller_api)
    assert_error(
        submit(shop.seller_api, unpaid["paymentToken"], "Early"), 400, "This escrow is not funded yet"
    )
    r = shop.seller_api.post(
        "/v1/escrow/milestone/create",
        {
            "amount": 500,
            "purpose": "Site",
            "milestones": [{"title": "A", "amount": 200}, {"title": "B", "amount": 300}],
        },
        format="json",
    )
    milestone_escrow = r.json()["data"]
    top_up_and_pay(shop.buyer_api, shop.buyer, milestone_escrow)
    assert_error(
        submit(shop.buyer_api, milestone_escrow["paymentToken"], "Bad"),
        400,
        "Milestone escrows cannot be disputed",
    )


def test_each_customer_lists_their_disputes_paged(shop, paid):
    submit(shop.buyer_api, paid["paymentToken"], "Late")
    other = create_standard(shop.seller_api, purpose="Phone")
    top_up_and_pay(shop.buyer_api, shop.buyer, other)
    submit(shop.buyer_api, other["paymentToken"], "Broken")
    r = shop.seller_api.get("/v1/escrow/dispute/get", {"limit": 1})
    assert r.status_code == 200 and r.json()["message"] == "Escrow retrieved successfully"
    page = r.json()["data"]
    assert page["pagination"] == {
        "count": 2,
        "pages": 2,
        "isLastPage": False,
        "nextPage": 2,
        "previousPage": None,
    }
    assert [d["escrow"]["purpose"] for d in page["data"]] == ["Phone"]
    assert page["data"][0]["dispute"][0] == {
        "type": "buyer",
        "message": "Broken",
        "createdAt": page["data"][0]["dispute"][0]["createdAt"],
    }
    r = shop.buyer_api.get("/v1/escrow/dispute/get", {"paymentToken": paid["paymentToken"]})
    assert [d["escrow"]["id"] for d in r.json()["data"]["data"]] == [paid["id"]]
    assert r.json()["data"]["pagination"]["isLastPage"] is True
    r = shop.buyer_api.get("/v1/escrow/dispute/get", {"fromDate": "2000-01-01", "toDate": "2000-01-02"})
    assert r.json()["data"]["data"] == [] and r.json()["data"]["pagination"]["count"] == 0
    # Someone else sees none of them.
    assert client_for(UserFactory()).get("/v1/escrow/dispute/get").json()["data"]["data"] == []


def test_dispute_of_one_escrow(shop, paid, stranger_api):
    assert_error(
        shop.buyer_api.get(f"/v1/escrow/dispute/get/{paid['id']}"), 400, "No dispute found for this escrow"
    )
    submit(shop.buyer_api, paid["paymentToken"], "Late")
    r = shop.seller_api.get(f"/v1/escrow/dispute/get/{paid['id']}")
    assert r.status_code == 200 and r.json()["message"] == "Escrow dispute retrieved successfully"
    assert r.json()["data"]["escrow"]["status"] == "DISPUTED"
    assert_error(stranger_api.get(f"/v1/escrow/dispute/get/{paid['id']}"), 404, "Escrow not found")


@pytest.mark.parametrize(
    "path", ["/v1/escrow/all-dispute", "/v1/escrow/feeds", "/v1/escrow/dispute/resolve/intent_x"]
)
def test_platform_routes_refuse_customer_id_and_other_keys(shop, seller_api, path):
    call = shop.seller_api.post if "resolve" in path else shop.seller_api.get
    assert_error(call(path), 400, "customer-id is not allowed in request header")
    call = seller_api.post if "resolve" in path else seller_api.get
    assert_error(call(path), 403, "Only platform accounts can see and decide across their customers")


@pytest.mark.parametrize(
    "path", ["/v1/escrow/all-dispute", "/v1/escrow/feeds", "/v1/escrow/dispute/resolve/intent_x"]
)
def test_platform_routes_check_the_key_before_refusing_customer_id(shop, path):
    # A wrong key is told so (401) even when it also sends customer-id: the refusal of the header
    # comes only once the key is known good.
    api = APIClient()
    api.credentials(HTTP_X_API_KEY="sk_test_not_a_key", HTTP_CUSTOMER_ID=shop.seller.customer_id)
    call = api.post if "resolve" in path else api.get
    assert_error(call(path), 401)


def test_platform_sees_every_dispute_and_escrow_of_its_customers(shop, paid, seller, buyer):
    submit(shop.buyer_api, paid["paymentToken"], "Late")
    create_standard(shop.seller_api, purpose="Unpaid")
    # Someone else's escrow is not the platform's.
    create_standard(client_for(seller), purpose="Elsewhere")
    r = shop.api.get("/v1/escrow/all-dispute")
    assert r.status_code == 200 and r.json()["message"] == "Escrow disputes fetched successfully"
    assert [d["escrow"]["id"] for d in r.json()["data"]["data"]] == [paid["id"]]
    for status, count in (("DISPUTED", 1), ("INVESTIGATING", 0), ("split", 0)):
        r = shop.api.get("/v1/escrow/all-dispute", {"status": status})
        assert r.json()["data"]["pagination"]["count"] == count, status
    assert_error(shop.api.get("/v1/escrow/all-dispute", {"status": "LOST"}), 400)
    r = shop.api.get("/v1/escrow/feeds")
    assert r.status_code == 200 and r.json()["message"] == "Escrow transactions fetched successfully"
    assert [e["purpose"] for e in r.json()["data"]["data"]] == ["Unpaid", "Used laptop"]
    r = shop.api.get("/v1/escrow/feeds", {"status": "PENDING"})
    assert [e["purpose"] for e in r.json()["data"]["data"]] == ["Unpaid"]
    r = shop.api.get("/v1/escrow/feeds", {"status": "DISPUTED", "customerId": shop.buyer.customer_id})
    assert [e["id"] for e in r.json()["data"]["data"]] == [paid["id"]]
    r = shop.api.get("/v1/escrow/feeds", {"customerId": "cus_nobody"})
    assert r.json()["data"]["data"] == []


def resolve(api, escrow_id, **form):
    return api.post(f"/v1/escrow/dispute/resolve/{escrow_id}", form, format="multipart")


def test_resolve_refusals_in_the_published_words(shop, paid):
    assert_error(
        resolve(shop.api, paid["id"], resolution="x", status="COMPLETED"),
        400,
        "No dispute found for this escrow",
    )
    submit(shop.buyer_api, paid["paymentToken"], "Late")
    before = ledger_fingerprint()
    assert_error(
        resolve(shop.api, paid["id"], resolution="x", status="LOST"),
        400,
        'status: "LOST" is not a valid choice.',
    )
    assert_error(
        resolve(shop.api, paid["id"], status="COMPLETED"), 400, "resolution: This field is required."
    )
    assert_error(
        resolve(shop.api, paid["id"], resolution="Half each", status="SPLIT", sellerAmount="100"),
        400,
        "A split needs both sellerAmount and buyerAmount",
    )
    r = resolve(
        shop.api, paid["id"], resolution="Half each", status="SPLIT", sellerAmount="100", buyerAmount="100"
    )
    assert_error(r, 400)
    assert r.json()["message"].startswith("The split must add up to the disputed amount")
    assert_error(
        resolve(shop.api, "intent_unknown", resolution="x", status="COMPLETED"), 404, "Escrow not found"
    )
    assert ledger_fingerprint() == before
    assert resolve(shop.api, paid["id"], resolution="Delivered", status="COMPLETED").status_code == 200
    assert_error(
        resolve(shop.api, paid["id"], resolution="x", status="REFUNDED"), 400, "Escrow already completed"
    )


@pytest.mark.parametrize(
    "form, shown, seller_gets, buyer_gets",
    [
        ({"status": "COMPLETED"}, ("CLOSED", "COMPLETED"), 50_000, 0),
        ({"status": "REFUNDED"}, ("CLOSED", "REFUNDED"), 0, 50_000),
        (
            {"status": "SPLIT", "sellerAmount": "300", "buyerAmount": "200"},
            ("CLOSED", "SPLIT"),
            30_000,
            20_000,
        ),
    ],
)
def test_resolve_moves_the_money_once(shop, paid, form, shown, seller_gets, buyer_gets):
    submit(shop.buyer_api, paid["paymentToken"], "Late")
    submit(shop.seller_api, paid["paymentToken"], "On time")
    r = resolve(shop.api, paid["id"], resolution="Decided on the photos", file=evidence(), **form)
    assert r.status_code == 200 and r.json()["message"] == "Dispute resolution submitted successfully"
    assert r.json()["data"] == {"id": paid["id"], "status": shown[1], "state": shown[0]}
    assert customer_account(shop.seller, "USD").balance == seller_gets
    assert customer_account(shop.buyer, "USD").balance == buyer_gets
    assert_ledger_invariants()
    dispute = Dispute.objects.get(escrow__public_id=paid["id"])
    assert dispute.status == DisputeStatus.RESOLVED and dispute.resolved_by == shop.owner
    assert dispute.evidence.filter(submitter_role="arbiter").count() == 1
    r = shop.buyer_api.get(f"/v1/escrow/dispute/get/{paid['id']}")
    assert r.json()["data"]["dispute"][-1] == {
        "type": "admin",
        "message": "Decided on the photos",
        "createdAt": r.json()["data"]["dispute"][-1]["createdAt"],
    }
    assert (r.json()["data"]["escrow"]["state"], r.json()["data"]["escrow"]["status"]) == shown
    r = shop.api.get("/v1/escrow/feeds", {"status": shown[1]})
    assert [e["id"] for e in r.json()["data"]["data"]] == [paid["id"]]


def test_a_platform_decides_only_between_its_own_customers(shop, platform, seller):
    # The seller is the platform's customer, the buyer someone from outside: not the platform's to decide.
    data = create_standard(shop.seller_api)
    outsider = UserFactory(email="outsider@example.test")
    top_up_and_pay(client_for(outsider), outsider, data)
    submit(client_for(outsider), data["paymentToken"], "Late")
    assert_error(resolve(shop.api, data["id"], resolution="x", status="REFUNDED"), 404, "Escrow not found")
    other_platform = UserFactory(email="other-platform@example.test", is_platform=True)
    customer_create_for_platform(platform=other_platform, email="someone@else.test")
    assert_error(resolve(client_for(other_platform), data["id"], resolution="x", status="REFUNDED"), 404)
    assert Escrow.objects.get(public_id=data["id"]).status == EscrowStatus.DISPUTED
