"""Finternet's escrow fields at the top level of a new intent: `deliveryPeriod` (seconds) is our
inspection period, `autoRelease` our release on proof; Finternet's own time-locked example is
taken as published."""

import pytest

from escrows.models import Escrow
from tests.api.conditional_payment_helpers import error_of

pytestmark = pytest.mark.django_db


def post(api, **body):
    return api.post("/v1/payment-intents", {"amount": "1000.00", "currency": "USDC", **body}, format="json")


def test_the_published_time_locked_example_is_taken(seller_api):
    r = post(
        seller_api,
        type="DELIVERY_VS_PAYMENT",
        settlementMethod="OFF_RAMP_MOCK",
        settlementDestination="bank_account_123",
        deliveryPeriod=2592000,
        autoRelease=True,
        metadata={"releaseType": "TIME_LOCKED", "timeLockUntil": "1735689600"},
    )
    assert r.status_code == 201, r.json()
    intent = r.json()
    assert (intent["inspectionPeriodDays"], intent["releaseType"], intent["timeLockUntil"]) == (
        30,
        "TIME_LOCKED",
        "1735689600",
    )
    # A time lock releases at its time: autoRelease plays no part.
    assert intent["autoReleaseOnProof"] is False


def test_top_level_auto_release_is_release_on_proof(seller_api):
    assert post(seller_api, autoRelease=True).json()["autoReleaseOnProof"] is True
    assert post(seller_api, autoRelease=False).json()["autoReleaseOnProof"] is False
    # The metadata's own says it when both are sent.
    r = post(seller_api, autoRelease=True, metadata={"autoRelease": False})
    assert r.json()["autoReleaseOnProof"] is False


def test_delivery_period_is_the_inspection_period_in_seconds(seller_api):
    intent = post(seller_api, deliveryPeriod=3 * 86400).json()
    assert Escrow.objects.get(public_id=intent["id"]).inspection_days == 3


@pytest.mark.parametrize("seconds", [0, 3600, 86401, 31 * 86400, -86400])
def test_a_delivery_period_that_is_not_whole_days_within_bounds_is_a_400(seller_api, seconds):
    error = error_of(
        post(seller_api, deliveryPeriod=seconds),
        400,
        "deliveryPeriod must be whole days in seconds (86400 a day), from 86400 to 2592000",
    )
    assert error["param"] == "deliveryPeriod"
    assert not Escrow.objects.exists()


@pytest.mark.parametrize(
    "body, param",
    [
        ({"deliveryPeriod": "86400"}, "deliveryPeriod"),
        ({"deliveryPeriod": 86400, "inspectionPeriodDays": 1}, "deliveryPeriod"),
        ({"autoRelease": "true"}, "autoRelease"),
        ({"autoRelease": 1}, "autoRelease"),
        ({"expectedDeliveryHash": "0x" + "00" * 32}, "expectedDeliveryHash"),
    ],
)
def test_other_shapes_are_a_400_naming_the_field(seller_api, body, param):
    assert error_of(post(seller_api, **body), 400)["param"] == param
    assert not Escrow.objects.exists()
