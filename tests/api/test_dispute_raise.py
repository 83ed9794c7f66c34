"""Raising a dispute on a paid intent's order, on both of Finternet's paths: the published answer
and messages, the dispute opened through the dispute service (release paused, the other party's
time to answer from disputeWindow), and what the order read shows of it."""

from datetime import timedelta

import pytest

from escrows import services
from escrows.models import Dispute, DisputeStatus, Escrow, EscrowStatus, LedgerTransaction, MilestoneStatus
from tests.api.conditional_payment_helpers import DISPUTE, PATHS, create, dispute, error_of, paid, prove, read
from tests.helpers import fund, milestones

pytestmark = pytest.mark.django_db

RAISED = {"object": "dispute", "status": "raised"}


def about(period, expected):
    """The deadline is counted from a moment a few microseconds before the row's creation."""
    return abs(period - expected) < timedelta(seconds=1)


@pytest.mark.parametrize("path", PATHS)
def test_the_buyer_raises_a_dispute_and_release_pauses(seller_api, buyer_api, buyer, path):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    postings = LedgerTransaction.objects.count()
    r = dispute(buyer_api, escrow.public_id, path)
    assert (r.status_code, r.json()) == (200, RAISED)
    assert LedgerTransaction.objects.count() == postings  # no money moves: it is frozen
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.DISPUTED
    d = Dispute.objects.get()
    assert (d.status, d.opener_role, d.reason, d.opener_reference) == (
        DisputeStatus.OPEN,
        "buyer",
        DISPUTE["reason"],
        DISPUTE["raisedBy"],
    )
    # The published default window: the seller has 7 days to answer.
    assert about(d.deadline - d.created_at, timedelta(days=7))
    order = read(seller_api, escrow.public_id, path).json()["data"]
    assert (order["orderStatus"], order["disputeReason"], order["disputeRaisedBy"]) == (
        "DISPUTED",
        DISPUTE["reason"],
        DISPUTE["raisedBy"],
    )
    assert order["disputeWindow"] == "604800"
    assert order["disputeRaisedAt"] == d.created_at.isoformat().replace("+00:00", "Z")
    assert (order["disputeId"], order["disputeStatus"]) == (d.public_id, "OPEN")
    # Release is paused: a proof of delivery changes nothing now.
    error_of(prove(seller_api, escrow.public_id), 400, "Cannot submit delivery proof: order is disputed")


def test_the_seller_may_raise_one_too(seller_api, buyer):
    escrow = paid(seller_api, buyer)
    assert dispute(seller_api, escrow.public_id, raisedBy="merchant").json() == RAISED
    assert Dispute.objects.get().opener_role == "seller"


@pytest.mark.parametrize(
    "window, seconds",
    [("86400", 86_400), ("259200", 259_200), ("2592000", 2_592_000), (1_209_600, 1_209_600), (None, 604_800)],
)
def test_the_dispute_window_is_the_other_partys_time_to_answer(seller_api, buyer_api, buyer, window, seconds):
    escrow = paid(seller_api, buyer)
    assert dispute(buyer_api, escrow.public_id, disputeWindow=window).json() == RAISED
    d = Dispute.objects.get()
    assert about(d.deadline - d.created_at, timedelta(seconds=seconds))
    assert read(buyer_api, escrow.public_id).json()["data"]["disputeWindow"] == str(seconds)


@pytest.mark.parametrize(
    "window",
    ["", "abc", "0", "60", "86399", "2592001", "-604800", "6048OO", "1e6", 604800.0, True, [], {}, "٣٣٣٣٣٣"],
)
def test_a_window_that_is_not_1_to_30_days_of_seconds_is_a_400(seller_api, buyer_api, buyer, window):
    escrow = paid(seller_api, buyer)
    error = error_of(dispute(buyer_api, escrow.public_id, disputeWindow=window), 400)
    assert error["param"] == "disputeWindow" and "seconds" in error["message"]
    assert not Dispute.objects.exists()


def test_a_second_dispute_on_the_order_is_refused_with_the_published_message(seller_api, buyer_api, buyer):
    escrow = paid(seller_api, buyer)
    dispute(buyer_api, escrow.public_id)
    for api in (buyer_api, seller_api):
        for path in PATHS:
            error = error_of(
                dispute(api, escrow.public_id, path),
                400,
                "Dispute already raised for this order",
                "invalid_request",
            )
            assert error["type"] == "invalid_request_error"
    assert Dispute.objects.count() == 1


@pytest.mark.parametrize("path", PATHS)
def test_a_completed_order_cannot_be_disputed(seller_api, buyer_api, buyer, path):
    escrow = paid(seller_api, buyer, {"autoRelease": True})
    prove(seller_api, escrow.public_id)
    error_of(
        dispute(buyer_api, escrow.public_id, path),
        400,
        "Cannot raise dispute: order is already completed",
        "invalid_status",
    )


def test_a_refunded_order_cannot_be_disputed(seller_api, seller, buyer_api, buyer):
    escrow = paid(seller_api, buyer)
    services.escrow_refund(escrow=escrow, by=seller)
    error_of(dispute(buyer_api, escrow.public_id), 400, "Cannot raise dispute: order is already cancelled")


def test_a_withdrawn_dispute_leaves_room_for_another(seller_api, buyer_api, buyer):
    escrow = paid(seller_api, buyer)
    dispute(buyer_api, escrow.public_id)
    services.dispute_withdraw(dispute=Dispute.objects.get(), by=buyer)
    assert dispute(buyer_api, escrow.public_id, reason="Broken after all").json() == RAISED
    order = read(buyer_api, escrow.public_id).json()["data"]
    assert (order["disputeReason"], order["disputeStatus"]) == ("Broken after all", "OPEN")


@pytest.mark.parametrize(
    ("outcome", "parts", "expected"),
    [
        ("release", {}, "MERCHANT_WON"),
        ("refund", {}, "BUYER_WON"),
        ("split", {"seller_amount": 60_000, "buyer_amount": 40_000}, "PARTIAL_REFUND"),
    ],
)
@pytest.mark.parametrize("path", PATHS)
def test_the_read_tells_the_disputes_outcome_once_it_is_settled(
    seller_api, buyer_api, buyer, admin_user, path, outcome, parts, expected
):
    escrow = paid(seller_api, buyer)
    dispute(buyer_api, escrow.public_id)
    assert read(buyer_api, escrow.public_id, path).json()["data"]["disputeOutcome"] is None
    services.dispute_resolve(dispute=Dispute.objects.get(), by=admin_user, outcome=outcome, **parts)
    for api in (buyer_api, seller_api):
        assert read(api, escrow.public_id, path).json()["data"]["disputeOutcome"] == expected


def test_no_outcome_before_a_dispute_or_once_it_is_withdrawn(seller_api, buyer_api, buyer):
    escrow = paid(seller_api, buyer)
    assert read(buyer_api, escrow.public_id).json()["data"]["disputeOutcome"] is None
    dispute(buyer_api, escrow.public_id)
    services.dispute_withdraw(dispute=Dispute.objects.get(), by=buyer)
    assert read(buyer_api, escrow.public_id).json()["data"]["disputeOutcome"] is None


def test_an_unpaid_intent_cannot_be_disputed(seller_api):
    intent = create(seller_api)
    error_of(dispute(seller_api, intent["id"]), 404, "Conditional payment not found for this payment intent")


def test_a_stranger_learns_nothing(seller_api, buyer, stranger_api):
    escrow = paid(seller_api, buyer)
    error_of(dispute(stranger_api, escrow.public_id), 404, "Escrow not found")
    assert not Dispute.objects.exists()


@pytest.mark.parametrize(
    "changes, param",
    [
        ({"reason": ...}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "x" * 5001}, "reason"),
        ({"reason": 5}, "reason"),
        ({"raisedBy": ...}, "raisedBy"),
        ({"raisedBy": "   "}, "raisedBy"),
        ({"raisedBy": "x" * 201}, "raisedBy"),
        ({"outcome": "refund"}, "outcome"),
    ],
)
def test_bad_fields_are_a_400_naming_them(seller_api, buyer_api, buyer, changes, param):
    escrow = paid(seller_api, buyer)
    error = error_of(dispute(buyer_api, escrow.public_id, **changes), 400)
    assert error["param"] == param
    assert not Dispute.objects.exists()


def test_on_a_milestone_escrow_the_current_stage_is_disputed(seller_api, buyer_api, seller, buyer):
    intent = create(seller_api, {"releaseType": "MILESTONE_LOCKED"})
    for i, amount in enumerate(("300.00", "700.00")):
        seller_api.post(
            f"/v1/payment-intents/{intent['id']}/escrow/milestones",
            {"milestoneIndex": i, "amount": amount},
            format="json",
        )
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_release(milestone=first, by=buyer)
    assert dispute(buyer_api, escrow.public_id).json() == RAISED
    d = Dispute.objects.get()
    second = milestones(escrow)[1]
    assert (d.milestone_id, d.amount, second.status) == (second.pk, 70_000, MilestoneStatus.DISPUTED)
    assert read(buyer_api, escrow.public_id).json()["data"]["orderStatus"] == "DISPUTED"
    error_of(dispute(seller_api, escrow.public_id), 400, "Dispute already raised for this order")
