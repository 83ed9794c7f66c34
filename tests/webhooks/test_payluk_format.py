"""A Payluk-format endpoint: Payluk's `{event, data, timestamp}` envelope, `escrow.created` and
`escrow.<status>` when the escrow's Payluk status changes, `data` the escrow object Payluk's API
answers, in bytes a receiver that parses and serialises the body again gets back unchanged."""

import json

import pytest

from escrows import services
from escrows.api.common import iso
from escrows.models import Event
from tests.api.conftest import client_for
from tests.helpers import fund, make_escrow, make_standard, milestones
from tests.webhooks.helpers import endpoint_for, names, sent

pytestmark = pytest.mark.django_db


def test_a_milestone_escrow_is_told_created_paid_and_completed_each_as_it_was_then(seller, buyer, admin_user):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_release(milestone=first, by=buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")

    got = sent(endpoint)  # all at once: the escrow is completed by now
    # A stage's delivery, release and dispute leave the escrow ONGOING: nothing to tell.
    assert [name for name, _, _ in got] == ["escrow.created", "escrow.ongoing", "escrow.completed"]
    assert [(body["data"]["state"], body["data"]["status"]) for _, body, _ in got] == [
        ("AWAITING_PAYMENT", "PENDING"),
        ("OPENED", "ONGOING"),
        ("CLOSED", "COMPLETED"),
    ]
    events = Event.objects.filter(
        escrow=escrow, kind__in=("escrow.created", "escrow.funded", "escrow.completed")
    ).order_by("id")
    for (name, body, _), event in zip(got, events, strict=True):
        assert list(body) == ["event", "data", "timestamp"]
        assert body["event"] == name
        assert body["timestamp"] == iso(event.created_at)
        assert body["data"]["id"] == escrow.public_id
        assert [m["status"] for m in body["data"]["milestones"]] == ["RELEASED", "RELEASED"]


def test_a_standard_escrows_dispute_is_told_in_payluk_statuses(seller, buyer, admin_user):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_standard(seller)

    def latest():
        name, body, _ = sent(endpoint)[-1]
        return name, body["data"]["state"], body["data"]["status"]

    assert latest() == ("escrow.created", "AWAITING_PAYMENT", "PENDING")
    fund(escrow, buyer)
    assert latest() == ("escrow.ongoing", "OPENED", "ONGOING")
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Not as described")
    assert latest() == ("escrow.disputed", "OPENED", "DISPUTED")
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert latest() == ("escrow.ongoing", "OPENED", "ONGOING")
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Broken after all")
    assert latest() == ("escrow.disputed", "OPENED", "DISPUTED")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert latest() == ("escrow.refunded", "CLOSED", "REFUNDED")
    assert len(sent(endpoint)) == 6


def test_an_unpaid_escrow_cancelled_is_told(seller):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_escrow(seller)
    services.escrow_cancel(escrow=escrow, by=seller)
    assert names(endpoint) == ["escrow.created", "escrow.cancelled"]


def test_what_changes_no_payluk_status_is_not_sent(seller, buyer):
    endpoint = endpoint_for(seller, "payluk")
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_review_extend(milestone=first, by=buyer)
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    services.milestone_release(milestone=first, by=buyer)
    assert names(endpoint) == ["escrow.created", "escrow.ongoing"]
    assert Event.objects.filter(escrow=escrow).count() > 5


def test_data_is_what_the_payluk_api_answers_in_bytes_a_reserialising_receiver_gets_back(seller):
    answer = client_for(seller).post(
        "/v1/escrow/milestone/create",
        {
            "amount": 1010,
            "purpose": "Café ☕ rebuild",
            "description": 'Design, build, "deploy"',
            "whoPays": "buyer",
            "milestones": [{"title": "Design", "amount": 410}, {"title": "Build", "amount": 600}],
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    endpoint = endpoint_for(seller, "payluk")
    ((name, body, raw),) = sent(endpoint)
    assert name == "escrow.created"
    # The escrow object as the API answers it, but for whom it is asked: nobody asks a webhook.
    assert body["data"] == {**answer.json()["data"], "isSeller": None}
    assert answer.json()["data"]["isSeller"] is True
    assert body["data"]["fee"] == 15.15  # not whole: a number with its cents, as the API shows it
    # Older receivers hash JSON.stringify(parsed body): compact, keys as sent, text unescaped.
    assert json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False) == raw
    assert "Café ☕ rebuild" in raw


def test_the_endpoint_names_the_payluk_events_it_may_receive(seller):
    api = client_for(seller)
    created = api.post("/v1/webhooks", {"url": "http://127.0.0.1:9/hooks", "format": "payluk"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["eventTypes"] == [
        "escrow.created",
        "escrow.ongoing",
        "escrow.disputed",
        "escrow.investigating",
        "escrow.completed",
        "escrow.claimed",
        "escrow.split",
        "escrow.refunded",
        "escrow.cancelled",
    ]
