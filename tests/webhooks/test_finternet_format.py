"""A Finternet-format endpoint: Finternet's `{id, object, type, data: {object}, created}` event,
its event types for ours where there is one (and nothing where there is none), the payment intent
Finternet's API answers (the milestone for a milestone's event), an id a receiver dedupes on."""

import pytest

from escrows import services
from escrows.models import Event, Settlement
from tests.api.conftest import client_for
from tests.helpers import at, fund, make_escrow, make_settling_escrow, milestones, refresh
from tests.webhooks.helpers import endpoint_for, names, sent

pytestmark = pytest.mark.django_db


def a_day(seller, buyer, admin_user):
    """Created, paid, a stage delivered and released (and paid out), the next disputed and
    resolved in the seller's favour, which completes the escrow."""
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller, proof="0xabc")
    services.milestone_release(milestone=first, by=buyer)
    services.settlement_process(settlement_id=Settlement.objects.get().pk)
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    return escrow


def test_a_day_is_told_in_finternets_event_types(seller, buyer, admin_user):
    endpoint = endpoint_for(seller, "finternet")
    escrow = a_day(seller, buyer, admin_user)
    got = sent(endpoint)
    assert [name for name, _, _ in got] == [
        "payment_intent.created",
        "payment_intent.status_changed",
        "milestone.completed",
        "payment_intent.settlement_initiated",
        "payment_intent.settlement_completed",
        "dispute.raised",
        "dispute.resolved",
        "payment_intent.settlement_initiated",
        "payment_intent.status_changed",
    ]
    for name, body, _ in got:
        event = Event.objects.get(public_id=body["id"])
        assert list(body) == ["id", "object", "type", "data", "created"]
        assert (body["object"], body["type"]) == ("event", name)
        assert body["id"].startswith("evt_") and event.escrow == escrow
        assert body["created"] == int(event.created_at.timestamp())
        assert list(body["data"]) == ["object"]
    objects = [body["data"]["object"] for _, body, _ in got]
    assert [o["object"] for o in objects] == ["payment_intent"] * 2 + ["milestone"] + ["payment_intent"] * 6
    assert {o.get("paymentIntentId", o["id"]) for o in objects} == {escrow.public_id}


@pytest.mark.parametrize(
    ("outcome", "parts", "expected"),
    [
        ("release", {}, "MERCHANT_WON"),
        ("refund", {}, "BUYER_WON"),
        ("split", {"seller_amount": 30_000, "buyer_amount": 40_000}, "PARTIAL_REFUND"),
    ],
)
def test_a_resolved_dispute_tells_its_outcome_in_finternets_words(
    seller, buyer, admin_user, outcome, parts, expected
):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    endpoint = endpoint_for(seller, "finternet")
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="Late")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome=outcome, **parts)
    (obj,) = [body["data"]["object"] for name, body, _ in sent(endpoint) if name == "dispute.resolved"]
    assert (obj["object"], obj["id"]) == ("payment_intent", escrow.public_id)  # still the intent
    assert (obj["disputeId"], obj["disputeOutcome"]) == (dispute.public_id, expected)


def test_a_status_change_carries_the_status_before_and_after_it(seller, buyer, admin_user):
    endpoint = endpoint_for(seller, "finternet")
    a_day(seller, buyer, admin_user)
    changes = [body["data"]["object"] for name, body, _ in sent(endpoint) if name.endswith("status_changed")]
    # Told after the escrow completed, the payment still says what it changed to then.
    assert [(o["previous_status"], o["status"]) for o in changes] == [
        ("AWAITING_PAYMENT", "OPENED"),
        ("OPENED", "COMPLETED"),
    ]


def test_the_object_is_the_payment_intent_finternets_api_answers(seller, buyer):
    api = client_for(seller)
    intent = api.post(
        "/v1/payment-intents",
        {"amount": "1000.00", "currency": "USDC", "description": "Ré-design", "metadata": {"orderId": "A-1"}},
        format="json",
    ).json()
    endpoint = endpoint_for(seller, "finternet")
    ((name, body, _),) = sent(endpoint)
    assert name == "payment_intent.created"
    assert body["data"]["object"] == api.get(f"/v1/payment-intents/{intent['id']}").json() == intent


def test_a_milestones_event_carries_finternets_milestone(seller, delivered):
    endpoint = endpoint_for(seller, "finternet")
    completed = next(body for name, body, _ in sent(endpoint) if name == "milestone.completed")
    milestone = completed["data"]["object"]
    assert (milestone["object"], milestone["id"]) == ("milestone", delivered.public_id)
    assert (milestone["paymentIntentId"], milestone["milestoneIndex"]) == (delivered.escrow.public_id, 0)
    assert (milestone["status"], milestone["completionProof"]) == ("COMPLETED", "done")


def test_a_stage_released_by_the_buyer_or_by_its_review_clock_is_not_sent(seller, buyer, delivered):
    endpoint = endpoint_for(seller, "finternet")
    with at(refresh(delivered).review_deadline):
        assert services.milestone_auto_release(milestone=delivered) is not None
    second = milestones(delivered.escrow)[1]
    services.milestone_complete(milestone=second, by=seller)
    services.milestone_release(milestone=second, by=buyer)
    assert Event.objects.filter(kind="milestone.released").count() == 2
    assert names(endpoint) == [
        "payment_intent.created",
        "payment_intent.status_changed",
        "milestone.completed",
        "milestone.completed",
    ]


def test_what_finternet_has_no_event_for_is_not_sent(seller, buyer):
    endpoint = endpoint_for(seller, "finternet")
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_review_extend(milestone=first, by=buyer)
    services.milestone_request_changes(milestone=first, by=buyer, note="Bigger logo")
    services.refund_request_create(
        escrow=escrow, by=buyer, milestones=[milestones(escrow)[1]], reason="Not needed"
    )
    assert names(endpoint) == [
        "payment_intent.created",
        "payment_intent.status_changed",
        "milestone.completed",
    ]


def test_the_endpoint_names_the_finternet_events_it_may_receive(seller):
    created = client_for(seller).post(
        "/v1/webhooks", {"url": "http://127.0.0.1:9/hooks", "format": "finternet"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["eventTypes"] == [
        "payment_intent.created",
        "payment_intent.status_changed",
        "payment_intent.settlement_initiated",
        "payment_intent.settlement_completed",
        "milestone.completed",
        "delivery_proof.submitted",
        "time_lock.released",
        "dispute.raised",
        "dispute.resolved",
    ]
