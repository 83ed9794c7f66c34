"""Payluk's standard escrows: create from multipart with pictures (how many, how large, what
they are), edit and delete while unpaid, the buyer's preview, the seller's claim after the
delivery window, the buyer's confirmation, and turning one into a milestone escrow."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from escrows import services
from escrows.ledger import customer_account
from escrows.models import Escrow, EscrowImage, EscrowStatus, Event
from tests.api.payluk import (
    assert_error,
    create_standard,
    pay,
    picture,
    platform_with_customers,
    standard_form,
    top_up_and_pay,
)
from tests.helpers import assert_ledger_invariants, at, ledger_fingerprint, refresh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


@pytest.fixture
def shop(platform):
    return platform_with_customers(platform)


def test_create_from_multipart_keeps_the_pictures_and_serves_them_to_who_may_see(shop, stranger_api):
    data = create_standard(shop.seller_api, files=[picture("a.png"), picture("b.jpg", "JPEG")])
    assert data["settlementType"] == "STANDARD" and data["milestones"] == []
    assert (data["amount"], data["purpose"], data["whoPays"]) == (500, "Used laptop", "buyer")
    assert (data["maxDelivery"], data["deliveryTimeline"]) == (3, "days")
    assert (data["state"], data["status"], data["paidAt"]) == ("AWAITING_PAYMENT", "PENDING", None)
    assert len(data["imageUrl"]) == 2
    first = data["imageUrl"][0]
    assert first.startswith("https://escrow.example.test/v1/escrow/image/img_")
    r = shop.seller_api.get(first.removeprefix("https://escrow.example.test"))
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")
    # Stored under a name of our choosing, the submitted one kept as a label.
    image = EscrowImage.objects.get(escrow__public_id=data["id"], position=0)
    assert image.file.name.endswith(f"{image.public_id}.png") and image.file_name == "a.png"
    # Whoever holds the payment link may see it while it is unpaid; once paid, only the parties.
    assert stranger_api.get(first.removeprefix("https://escrow.example.test")).status_code == 200
    top_up_and_pay(shop.buyer_api, shop.buyer, data)
    r = stranger_api.get(first.removeprefix("https://escrow.example.test"))
    assert_error(r, 404, "Escrow not found")
    assert shop.buyer_api.get(first.removeprefix("https://escrow.example.test")).status_code == 200


# Each case makes its files afresh: an uploaded file is closed once a request has read it, so
# files made once at collection would be empty the second time the test runs in one process.
@pytest.mark.parametrize(
    "files, message",
    [
        (lambda: [picture(f"{i}.png") for i in range(6)], "At most 5 pictures (imageUrl)"),
        (
            lambda: [
                picture(),
                SimpleUploadedFile("x.png", b"not a picture at all", content_type="image/png"),
            ],
            "imageUrl[1] must be a PNG, JPEG, GIF or WebP picture",
        ),
        (
            lambda: [SimpleUploadedFile("x.pdf", b"%PDF-1.4 a document", content_type="application/pdf")],
            "imageUrl[0] must be a PNG, JPEG, GIF or WebP picture",
        ),
        (lambda: [SimpleUploadedFile("empty.png", b"", content_type="image/png")], "imageUrl[0] is empty"),
    ],
    ids=["six", "not-a-picture", "a-document", "empty"],
)
def test_pictures_refused_with_nothing_created(shop, files, message):
    r = shop.seller_api.post(
        "/v1/escrow/create", {**standard_form(), "imageUrl": files()}, format="multipart"
    )
    assert_error(r, 400, message)
    assert not Escrow.objects.exists() and not EscrowImage.objects.exists()


def test_a_picture_over_the_size_limit_is_refused(shop, settings):
    settings.ESCROW_IMAGE_MAX_BYTES = 1024
    big = picture(size=(40, 40))
    assert big.size > 1024
    r = shop.seller_api.post("/v1/escrow/create", {**standard_form(), "imageUrl": [big]}, format="multipart")
    assert_error(r, 400, "imageUrl[0] is larger than 1 KB")
    assert not Escrow.objects.exists()


def test_a_body_larger_than_the_pictures_allow_is_refused_before_it_is_read(shop, settings):
    settings.ESCROW_IMAGES_MAX, settings.ESCROW_IMAGE_MAX_BYTES = 1, 1024
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * 100_000, content_type="image/png")
    r = shop.seller_api.post("/v1/escrow/create", {**standard_form(), "imageUrl": [big]}, format="multipart")
    assert_error(r, 413, "The request body is too large")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"amount": None}, "amount: This field is required."),
        ({"amount": "12.5"}, "amount: Must be a whole number."),
        ({"amount": "0"}, "amount must be a positive integer"),
        ({"purpose": None}, "purpose: This field is required."),
        ({"whoPays": None}, "whoPays: This field is required."),
        ({"whoPays": "seller"}, "whoPays must be buyer: the buyer pays the fee on top of the amount"),
        ({"maxDelivery": "366"}, "maxDelivery: Ensure this value is less than or equal to 365."),
        ({"deliveryTimeline": "weeks"}, 'deliveryTimeline: "weeks" is not a valid choice.'),
        ({"deliveryTimeline": None}, "maxDelivery and deliveryTimeline go together"),
        ({"colour": "red"}, "colour: Unknown field."),
    ],
)
def test_create_refusals_in_the_surface_envelope(shop, changes, message):
    r = shop.seller_api.post("/v1/escrow/create", standard_form(**changes), format="multipart")
    assert_error(r, 400, message)


def test_create_from_json_without_pictures(shop):
    r = shop.seller_api.post(
        "/v1/escrow/create", {"amount": 500, "purpose": "Laptop", "whoPays": "buyer"}, format="json"
    )
    assert r.status_code == 201 and r.json()["message"] == "Created successfully"
    assert r.json()["data"]["imageUrl"] == []


def test_edit_while_unpaid_replaces_terms_and_pictures_seller_only(shop):
    data = create_standard(shop.seller_api, files=[picture("a.png"), picture("b.png")])
    token = data["paymentToken"]
    r = shop.seller_api.put(
        f"/v1/escrow/edit/{token}",
        {**standard_form(amount="800", purpose="Newer laptop"), "imageUrl": [picture("c.gif", "GIF")]},
        format="multipart",
    )
    assert r.status_code == 200 and r.json()["message"] == "Escrow updated successfully"
    edited = r.json()["data"]
    assert (edited["amount"], edited["purpose"], edited["fee"]) == (800, "Newer laptop", 12)
    assert len(edited["imageUrl"]) == 1
    # Without pictures, the pictures stay.
    r = shop.seller_api.put(f"/v1/escrow/edit/{token}", standard_form(amount="700"), format="multipart")
    assert r.status_code == 200 and len(r.json()["data"]["imageUrl"]) == 1
    # The buyer (not a party yet) does not find it; once paid, nobody edits it.
    assert_error(shop.buyer_api.put(f"/v1/escrow/edit/{token}", standard_form(), format="multipart"), 404)
    top_up_and_pay(shop.buyer_api, shop.buyer, r.json()["data"])
    r = shop.seller_api.put(f"/v1/escrow/edit/{token}", standard_form(), format="multipart")
    assert_error(r, 400, "An escrow can only be edited while it is awaiting payment")
    assert_error(shop.buyer_api.put(f"/v1/escrow/edit/{token}", standard_form(), format="multipart"), 403)


def test_edit_of_a_milestone_escrow_points_to_its_own_route(shop):
    r = shop.seller_api.post(
        "/v1/escrow/milestone/create",
        {
            "amount": 500,
            "purpose": "Site",
            "milestones": [{"title": "A", "amount": 200}, {"title": "B", "amount": 300}],
        },
        format="json",
    )
    token = r.json()["data"]["paymentToken"]
    r = shop.seller_api.put(f"/v1/escrow/edit/{token}", standard_form(), format="multipart")
    assert_error(
        r, 400, "This is a milestone escrow: edit it with PUT /v1/escrow/milestone/edit/{paymentToken}"
    )


def test_delete_while_unpaid_cancels_and_keeps_the_record(shop, stranger_api):
    data = create_standard(shop.seller_api)
    token = data["paymentToken"]
    assert_error(stranger_api.delete(f"/v1/escrow/delete/{token}"), 404, "Escrow not found")
    r = shop.seller_api.delete(f"/v1/escrow/delete/{token}")
    assert r.status_code == 200 and r.json()["message"] == "Escrow deleted successfully"
    assert r.json()["data"] == {
        "id": data["id"],
        "paymentToken": token,
        "status": "CANCELLED",
        "state": "CLOSED",
    }
    assert Escrow.objects.get(public_id=data["id"]).status == EscrowStatus.CANCELLED
    # The link no longer takes payments: whoever held it no longer finds the escrow.
    assert_error(pay(shop.buyer_api, data["id"]), 404, "Escrow not found")
    assert_error(
        shop.seller_api.delete(f"/v1/escrow/delete/{token}"),
        400,
        "Only an escrow that is awaiting payment can be cancelled",
    )


def test_only_the_seller_deletes_even_with_the_buyer_already_set(shop):
    data = create_standard(shop.seller_api)
    token = data["paymentToken"]
    # A buyer named on an unpaid escrow (as the payment-intents surface and the pages name one)
    # may cancel it there, but Payluk's delete is the seller's.
    Escrow.objects.filter(public_id=data["id"]).update(buyer=shop.buyer)
    assert_error(
        shop.buyer_api.delete(f"/v1/escrow/delete/{token}"), 403, "Only the seller can delete this escrow"
    )
    assert Escrow.objects.get(public_id=data["id"]).status == EscrowStatus.AWAITING_PAYMENT
    assert shop.seller_api.delete(f"/v1/escrow/delete/{token}").status_code == 200


def test_verify_shows_the_buyer_what_they_would_pay(shop, stranger_api):
    data = create_standard(shop.seller_api, files=[picture()])
    r = stranger_api.get(f"/v1/escrow/verify/{data['paymentToken']}")
    assert r.status_code == 200 and r.json()["message"] == "Escrow verified successfully"
    assert r.json()["data"]["id"] == data["id"] and len(r.json()["data"]["imageUrl"]) == 1
    # The id is not the link: only the payment token verifies.
    assert_error(stranger_api.get(f"/v1/escrow/verify/{data['id']}"), 404, "Escrow not found")
    assert_error(stranger_api.get("/v1/escrow/verify/pt_unknown"), 404, "Escrow not found")


def test_claim_funds_only_after_the_delivery_window_then_claimed(shop):
    data = create_standard(shop.seller_api, maxDelivery="2", deliveryTimeline="hours")
    token = data["paymentToken"]
    # Not paid yet: nothing to claim.
    assert_error(shop.seller_api.get(f"/v1/escrow/claim-funds/{token}"), 400, "Escrow cannot be claimed yet")
    top_up_and_pay(shop.buyer_api, shop.buyer, data)
    escrow = Escrow.objects.get(public_id=data["id"])
    before = ledger_fingerprint()
    with at(escrow.funded_at + timedelta(hours=2) - timedelta(seconds=1)):
        assert_error(
            shop.seller_api.get(f"/v1/escrow/claim-funds/{token}"), 400, "Escrow cannot be claimed yet"
        )
    assert ledger_fingerprint() == before
    # The buyer cannot claim; a stranger does not find it.
    with at(escrow.funded_at + timedelta(hours=2)):
        assert_error(
            shop.buyer_api.get(f"/v1/escrow/claim-funds/{token}"),
            403,
            "Only the seller can claim the funds of this escrow",
        )
        r = shop.seller_api.get(f"/v1/escrow/claim-funds/{token}")
    assert r.status_code == 200 and r.json()["message"] == "Funds claimed successfully"
    assert r.json()["data"] == {
        "id": data["id"],
        "paymentToken": token,
        "status": "CLAIMED",
        "state": "CLOSED",
    }
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.COMPLETED and escrow.claimed_at is not None
    assert customer_account(shop.seller, "USD").balance == 50_000
    assert_ledger_invariants()
    # Shown as CLAIMED wherever the escrow shows.
    r = shop.seller_api.get(f"/v1/escrow/verify/{token}")
    assert (r.json()["data"]["state"], r.json()["data"]["status"]) == ("CLOSED", "CLAIMED")
    assert r.json()["data"]["completedAt"] is not None
    assert Event.objects.filter(escrow=escrow, kind="escrow.completed", details__claimed=True).exists()
    # Once: a second claim finds it closed.
    assert_error(shop.seller_api.get(f"/v1/escrow/claim-funds/{token}"), 400, "Escrow cannot be claimed yet")


def test_no_claim_while_disputed_nor_without_a_window(shop):
    data = create_standard(shop.seller_api)
    top_up_and_pay(shop.buyer_api, shop.buyer, data)
    escrow = Escrow.objects.get(public_id=data["id"])
    services.dispute_submit(escrow=escrow, by=shop.buyer, message="Not delivered")
    with at(timezone.now() + timedelta(days=30)):
        r = shop.seller_api.get(f"/v1/escrow/claim-funds/{data['paymentToken']}")
    assert_error(r, 400, "Escrow cannot be claimed yet")
    windowless = create_standard(shop.seller_api, maxDelivery=None, deliveryTimeline=None)
    top_up_and_pay(shop.buyer_api, shop.buyer, windowless)
    with at(timezone.now() + timedelta(days=3650)):
        r = shop.seller_api.get(f"/v1/escrow/claim-funds/{windowless['paymentToken']}")
    assert_error(r, 400, "Escrow cannot be claimed yet")


def test_claim_takes_an_api_key_never_a_browser_session(shop, client):
    data = create_standard(shop.seller_api)
    client.force_login(shop.seller)
    r = client.get(f"/v1/escrow/claim-funds/{data['paymentToken']}")
    assert_error(r, 401)


def test_confirm_payment_releases_the_whole_escrow_to_the_seller(shop):
    data = create_standard(shop.seller_api)
    assert_error(
        shop.buyer_api.post(f"/v1/escrow/confirm-payment/{data['id']}"), 404, "Escrow not found"
    )  # not the buyer's yet: the link holder may pay, not confirm
    top_up_and_pay(shop.buyer_api, shop.buyer, data)
    assert_error(
        shop.seller_api.post(f"/v1/escrow/confirm-payment/{data['id']}"),
        403,
        "Only the buyer can confirm delivery",
    )
    r = shop.buyer_api.post(f"/v1/escrow/confirm-payment/{data['id']}")
    assert r.status_code == 200 and r.json()["message"] == "Payment confirmed successfully"
    assert (r.json()["data"]["state"], r.json()["data"]["status"]) == ("CLOSED", "COMPLETED")
    assert customer_account(shop.seller, "USD").balance == 50_000
    assert_ledger_invariants()
    assert_error(
        shop.buyer_api.post(f"/v1/escrow/confirm-payment/{data['id']}"), 400, "This escrow is completed"
    )


def test_convert_to_milestones_while_unpaid(shop):
    data = create_standard(shop.seller_api, files=[picture()])
    token = data["paymentToken"]
    stages = [{"title": "Half", "amount": 300}, {"title": "Rest", "amount": 300}]
    r = shop.seller_api.put(f"/v1/escrow/milestone/convert/{token}", {"milestones": stages}, format="json")
    assert_error(r, 400)
    assert "sum to the escrow amount" in r.json()["message"]
    r = shop.seller_api.put(
        f"/v1/escrow/milestone/convert/{token}", {"amount": 600, "milestones": stages}, format="json"
    )
    assert r.status_code == 200 and r.json()["message"] == "Escrow converted to milestone successfully"
    converted = r.json()["data"]
    assert (converted["settlementType"], converted["whoPays"], converted["amount"]) == (
        "MILESTONE",
        "buyer",
        600,
    )
    assert [m["amount"] for m in converted["milestones"]] == [300, 300] and converted["fee"] == 9
    assert converted["purpose"] == "Used laptop" and converted["maxDelivery"] == 3
    r = shop.seller_api.put(
        f"/v1/escrow/milestone/convert/{token}",
        {"milestones": [{"title": "One", "amount": 600}]},
        format="json",
    )
    assert_error(r, 400, "A milestone escrow needs at least 2 milestones")
    top_up_and_pay(shop.buyer_api, shop.buyer, converted)
    r = shop.seller_api.put(
        f"/v1/escrow/milestone/convert/{token}", {"amount": 600, "milestones": stages}, format="json"
    )
    assert_error(r, 400, "An escrow can only be edited while it is awaiting payment")
