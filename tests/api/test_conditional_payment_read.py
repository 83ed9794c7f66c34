"""Reading a paid intent's conditional payment (Finternet's escrow order) on both of its paths:
the published fields mapped from our escrow, its order and settlement statuses through a
payment's life, and the published 404 while nobody has paid."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import Escrow
from tests.api.conditional_payment_helpers import PATHS, create, error_of, paid, prove, read
from tests.helpers import fund, milestones

pytestmark = pytest.mark.django_db

NOT_FOUND = "Conditional payment not found for this payment intent"


@pytest.mark.parametrize("path", PATHS)
def test_an_unpaid_intent_has_no_conditional_payment_yet(seller_api, path):
    intent = create(seller_api)
    error = error_of(read(seller_api, intent["id"], path), 404, NOT_FOUND, "resource_missing")
    assert error["type"] == "invalid_request_error"


def test_a_cancelled_unpaid_intent_has_none_either(seller_api, seller):
    intent = create(seller_api)
    services.escrow_cancel(escrow=Escrow.objects.get(public_id=intent["id"]), by=seller)
    error_of(read(seller_api, intent["id"]), 404, NOT_FOUND)


def test_another_customers_intent_is_not_found_at_all(seller_api, buyer, stranger_api):
    escrow = paid(seller_api, buyer)
    error_of(read(stranger_api, escrow.public_id), 404, "Escrow not found")


@pytest.mark.parametrize("path", PATHS)
def test_a_paid_intent_answers_the_published_object(seller_api, buyer_api, buyer, path):
    escrow = paid(seller_api, buyer)
    for api in (seller_api, buyer_api):
        r = read(api, escrow.public_id, path)
        assert r.status_code == 200, r.json()
        body = r.json()
        assert (body["id"], body["object"]) == (escrow.public_id, "conditional_payment")
        data = body["data"]
        assert set(data) >= {
            "id",
            "paymentIntentId",
            "amount",
            "deliveryPeriod",
            "deliveryDeadline",
            "autoReleaseOnProof",
            "releaseType",
            "timeLockUntil",
            "orderStatus",
            "settlementStatus",
            "disputeWindow",
            "disputeRaisedAt",
            "disputeReason",
            "disputeRaisedBy",
            "releasedAt",
            "createdAt",
            "updatedAt",
        }
        assert data["paymentIntentId"] == escrow.public_id
        assert data["amount"] == "1000.00"
        assert (data["releaseType"], data["autoReleaseOnProof"], data["timeLockUntil"]) == (
            "DELIVERY_PROOF",
            False,
            None,
        )
        assert (data["orderStatus"], data["settlementStatus"]) == ("PENDING", "NONE")
        # The inspection period in seconds; the dispute window a dispute raised here would get.
        assert data["deliveryPeriod"] == 14 * 86400
        assert data["disputeWindow"] == "604800"
        assert data["deliveryDeadline"] is None
        assert data["disputeRaisedAt"] is data["disputeReason"] is data["disputeRaisedBy"] is None
        assert data["releasedAt"] is None
        funded = Escrow.objects.get(pk=escrow.pk).funded_at
        assert data["createdAt"] == funded.isoformat().replace("+00:00", "Z")


def test_the_inspection_period_chosen_is_the_delivery_period(seller_api, buyer):
    escrow = paid(seller_api, buyer, inspectionPeriodDays=3)
    assert read(seller_api, escrow.public_id).json()["data"]["deliveryPeriod"] == 3 * 86400


def test_a_milestone_escrow_is_delivered_while_its_current_stage_is_under_review(seller_api, seller, buyer):
    intent = create(seller_api, {"releaseType": "MILESTONE_LOCKED"})
    for i, amount in enumerate(("300.00", "700.00")):
        r = seller_api.post(
            f"/v1/payment-intents/{intent['id']}/escrow/milestones",
            {"milestoneIndex": i, "amount": amount},
            format="json",
        )
        assert r.status_code == 201, r.json()
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    assert read(seller_api, escrow.public_id).json()["data"]["orderStatus"] == "PENDING"
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    data = read(seller_api, escrow.public_id).json()["data"]
    assert data["orderStatus"] == "DELIVERED"
    deadline = services.review_deadline_of(milestones(escrow)[0])
    assert data["deliveryDeadline"] == str(int(deadline.timestamp()))
    services.milestone_release(milestone=first, by=buyer)
    data = read(seller_api, escrow.public_id).json()["data"]
    # The next stage is not delivered: pending again; the first stage's money went out.
    assert (data["orderStatus"], data["deliveryDeadline"]) == ("PENDING", None)
    assert data["settlementStatus"] == "EXECUTED"
    assert data["releasedAt"] is not None


def test_released_with_a_payout_is_confirmed_once_paid(seller_api, buyer, django_capture_on_commit_callbacks):
    escrow = paid(
        seller_api,
        buyer,
        {"autoRelease": True},
        settlementMethod="OFF_RAMP_MOCK",
        settlementDestination="bank_account_123",
    )
    # The payout goes out after the commit (the mock off-ramp pays in-process).
    with django_capture_on_commit_callbacks(execute=True):
        assert prove(seller_api, escrow.public_id).status_code == 200
    data = read(seller_api, escrow.public_id).json()["data"]
    assert (data["orderStatus"], data["settlementStatus"]) == ("COMPLETED", "CONFIRMED")
    closed = Escrow.objects.get(pk=escrow.pk).closed_at
    assert data["releasedAt"] == closed.isoformat().replace("+00:00", "Z")


def test_a_payout_still_on_its_way_is_scheduled(seller_api, buyer):
    escrow = paid(
        seller_api,
        buyer,
        {"autoRelease": True},
        settlementMethod="OFF_RAMP_MOCK",
        settlementDestination="bank_account_123",
    )
    # The payout is recorded but not handed to a worker yet.
    with mock.patch("escrows.services._internal._enqueue_settlement"):
        assert prove(seller_api, escrow.public_id).status_code == 200
    assert read(seller_api, escrow.public_id).json()["data"]["settlementStatus"] == "SCHEDULED"


def test_released_into_the_sellers_balance_without_a_payout_is_executed(seller_api, buyer):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    prove(seller_api, escrow.public_id)
    data = read(seller_api, escrow.public_id).json()["data"]
    assert (data["orderStatus"], data["settlementStatus"]) == ("COMPLETED", "EXECUTED")


def test_money_given_back_is_a_cancelled_order(seller_api, seller, buyer):
    escrow = paid(seller_api, buyer)
    services.escrow_refund(escrow=escrow, by=seller)
    data = read(seller_api, escrow.public_id).json()["data"]
    assert (data["orderStatus"], data["settlementStatus"]) == ("CANCELLED", "CANCELLED")


def test_both_paths_answer_the_same(seller_api, buyer):
    escrow = paid(seller_api, buyer, {"releaseType": "TIME_LOCKED", "timeLockUntil": "1735689600"})
    first, second = (read(seller_api, escrow.public_id, p).json() for p in PATHS)
    assert first == second
    assert first["data"]["timeLockUntil"] == "1735689600"


def test_a_time_lock_in_the_future_reads_as_unix_seconds(seller_api, buyer):
    when = int((timezone.now() + timedelta(days=2)).timestamp())
    escrow = paid(seller_api, buyer, {"releaseType": "TIME_LOCKED", "timeLockUntil": when})
    data = read(seller_api, escrow.public_id).json()["data"]
    assert (data["releaseType"], data["timeLockUntil"], data["autoReleaseOnProof"]) == (
        "TIME_LOCKED",
        str(when),
        False,
    )
