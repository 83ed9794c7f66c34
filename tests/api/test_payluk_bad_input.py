"""No 500 on the Payluk standard escrow and dispute routes: every field given every JSON type and
some nasty strings, as JSON and as a form, bad query parameters and ids. Every refusal is a 4xx
in Payluk's envelope, and a refused write changed nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.payluk import create_standard, platform_with_customers, top_up_and_pay
from tests.helpers import ledger_fingerprint


def money_fingerprint():
    """The ledger alone: well-formed variations among the bodies may create or edit escrows."""
    return ledger_fingerprint()[:3]


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]

VALUES = [
    None,
    0,
    -1,
    1.5,
    10**40,
    True,
    [],
    [1],
    {},
    {"a": 1},
    "",
    "x" * 20_000,
    "a\u0000b",
    "😀",
    "null",
    "-5",
]
FORM_VALUES = ["", "x" * 20_000, "a\u0000b", "😀", "-5", "1e3", "99999999999999999999", "²"]


def check(response):
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == response.status_code and body["message"], body


def bodies(base, values):
    for field in base:
        for value in values:
            yield {**base, field: value}


@pytest.fixture
def shop(platform):
    return platform_with_customers(platform)


def test_create_edit_and_convert_fields(shop):
    base = {
        "amount": 500,
        "purpose": "Laptop",
        "whoPays": "buyer",
        "maxDelivery": 3,
        "deliveryTimeline": "days",
    }
    token = create_standard(shop.seller_api)["paymentToken"]
    before = money_fingerprint()
    for body in bodies({**base, "totalQuantity": 1, "categoryId": "c", "imageUrl": []}, VALUES):
        check(shop.seller_api.post("/v1/escrow/create", body, format="json"))
        check(shop.seller_api.put(f"/v1/escrow/edit/{token}", body, format="json"))
    for body in bodies({k: str(v) for k, v in base.items()}, FORM_VALUES):
        check(shop.seller_api.post("/v1/escrow/create", body, format="multipart"))
        check(shop.seller_api.put(f"/v1/escrow/edit/{token}", body, format="multipart"))
    odd_file = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    check(shop.seller_api.post("/v1/escrow/create", {**base, "imageUrl": [odd_file]}, format="multipart"))
    check(shop.seller_api.post("/v1/escrow/create", {**base, "other": odd_file}, format="multipart"))
    stages = [{"title": "A", "amount": 250}, {"title": "B", "amount": 250}]
    for body in bodies({"amount": 500, "milestones": stages}, VALUES):
        check(shop.seller_api.put(f"/v1/escrow/milestone/convert/{token}", body, format="json"))
    for body in bodies(stages[0], VALUES):
        check(
            shop.seller_api.put(
                f"/v1/escrow/milestone/convert/{token}", {"milestones": [body, stages[1]]}, format="json"
            )
        )
    check(shop.seller_api.post("/v1/escrow/create", b"{not json", content_type="application/json"))
    check(shop.seller_api.post("/v1/escrow/create", b"amount=1", content_type="text/plain"))
    assert money_fingerprint() == before


def test_dispute_and_resolve_fields(shop):
    data = create_standard(shop.seller_api)
    top_up_and_pay(shop.buyer_api, shop.buyer, data)
    token, escrow_id = data["paymentToken"], data["id"]
    for value in VALUES:
        check(shop.seller_api.post(f"/v1/escrow/submit-dispute/{token}", {"message": value}, format="json"))
    for value in FORM_VALUES:
        check(
            shop.buyer_api.post(
                f"/v1/escrow/submit-dispute/{token}", {"message": value, "file": value}, format="multipart"
            )
        )
    before = ledger_fingerprint()
    base = {"resolution": "r", "status": "SPLIT", "sellerAmount": 1, "buyerAmount": 1}
    for body in bodies(base, VALUES):
        check(shop.api.post(f"/v1/escrow/dispute/resolve/{escrow_id}", body, format="json"))
    for body in bodies({k: str(v) for k, v in base.items()}, FORM_VALUES):
        check(shop.api.post(f"/v1/escrow/dispute/resolve/{escrow_id}", body, format="multipart"))
    assert ledger_fingerprint() == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/escrow/dispute/get",
        "/v1/escrow/all-dispute",
        "/v1/escrow/feeds",
    ],
)
def test_list_parameters(shop, path):
    api = shop.seller_api if path == "/v1/escrow/dispute/get" else shop.api
    for name in ("page", "limit", "status", "customerId", "fromDate", "toDate", "paymentToken"):
        for value in [
            "0",
            "-1",
            "abc",
            "1.5",
            "99999999999",
            "²",
            "2024-02-30",
            "x" * 5000,
            "a\u0000b",
            "2024-01-01T00:00",
        ]:
            check(api.get(path, {name: value}))
    check(api.get(path, {"fromDate": "2024-02-02", "toDate": "2024-02-01"}))


@pytest.mark.parametrize("method", ["get", "post", "put", "delete", "patch"])
def test_every_route_with_unknown_ids_and_methods(shop, method):
    for path in (
        "/v1/escrow/edit/pt_nope",
        "/v1/escrow/delete/pt_nope",
        "/v1/escrow/verify/pt_nope",
        "/v1/escrow/claim-funds/pt_nope",
        "/v1/escrow/confirm-payment/intent_nope",
        "/v1/escrow/milestone/convert/pt_nope",
        "/v1/escrow/image/img_nope",
        "/v1/escrow/submit-dispute/pt_nope",
        "/v1/escrow/dispute/get/intent_nope",
        "/v1/escrow/dispute/resolve/intent_nope",
        "/v1/escrow/image/" + "x" * 200,
    ):
        api = shop.api if "resolve" in path else shop.seller_api
        check(getattr(api, method)(path, {}, format="json"))
