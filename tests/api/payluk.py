"""What the Payluk standard escrow and dispute tests share: a platform with two customers (a
seller and a buyer) acting through the platform's key, pictures to upload, and the calls."""

import io
import os
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import customer_create_for_platform
from escrows import services
from escrows.models import Escrow
from tests.api.conftest import client_for


def picture(name="item.png", image_format="PNG", size=(4, 3)):
    """A small real picture; noise, so that a larger one is also a larger file."""
    data = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(data, image_format)
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}[image_format]
    return SimpleUploadedFile(name, data.getvalue(), content_type=content_type)


def standard_form(**changes):
    form = {
        "amount": "500",
        "purpose": "Used laptop",
        "description": "14 inch, 16 GB",
        "whoPays": "buyer",
        "maxDelivery": "3",
        "deliveryTimeline": "days",
        "totalQuantity": "1",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


@dataclass
class Platform:
    owner: User
    seller: User
    buyer: User
    api: APIClient  # the platform's key, no customer-id
    seller_api: APIClient  # the same key acting for the seller
    buyer_api: APIClient  # and for the buyer


def platform_with_customers(platform: User) -> Platform:
    seller = customer_create_for_platform(platform=platform, email="sam.seller@shop.test", first_name="Sam")
    buyer = customer_create_for_platform(platform=platform, email="bea.buyer@shop.test", first_name="Bea")
    api = client_for(platform)
    return Platform(
        owner=platform,
        seller=seller,
        buyer=buyer,
        api=api,
        seller_api=_acting(api, seller),
        buyer_api=_acting(api, buyer),
    )


def _acting(api: APIClient, customer: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api.key, HTTP_CUSTOMER_ID=customer.customer_id)
    return client


def create_standard(api, files=(), **changes):
    r = api.post(
        "/v1/escrow/create", {**standard_form(**changes), "imageUrl": list(files)}, format="multipart"
    )
    assert r.status_code == 201, r.json()
    return r.json()["data"]


def pay(api, escrow_id):
    return api.post(
        "/v1/payment/escrow",
        {"gateway": "WALLET", "transactionType": "ESCROW", "escrowDetails": {"escrowId": escrow_id}},
        format="json",
    )


def top_up_and_pay(api, buyer, data):
    """The buyer's wallet gets exactly what the escrow costs, then pays through the API."""
    escrow = Escrow.objects.get(public_id=data["id"])
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency=escrow.currency)
    r = pay(api, data["id"])
    assert r.status_code == 200, r.json()
    return r.json()["data"]


def assert_error(r, status, message=None):
    assert r.status_code == status, r.content
    body = r.json()
    assert body["status"] == status and body["message"] and body["data"] == {}, body
    if message is not None:
        assert body["message"] == message, body
    return body
