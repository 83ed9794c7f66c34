"""Request changes over the API: POST /v1/escrows/{id}/milestones/{mid}/request-changes sends a
delivered milestone back with a note; payment-intents envelope and idempotency; payment-intents
milestones show the rounds and the latest note."""

from datetime import timedelta
from unittest import mock

import pytest

from escrows import services
from escrows.models import Event, MilestoneStatus
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, completed_by="Sam", proof="done")
    return refresh(first)


def url(m):
    return f"/v1/escrows/{m.escrow.public_id}/milestones/{m.public_id}/request-changes"


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_the_buyer_sends_a_milestone_back(buyer_api, delivered):
    r = buyer_api.post(url(delivered), {"note": "Wrong colours"}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    m = refresh(delivered)
    assert m.status == MilestoneStatus.PENDING
    assert body["id"] == m.public_id and body["status"] == "PENDING"
    assert (body["changesRequested"], body["changesRequestedNote"]) == (1, "Wrong colours")
    assert body["changesRequestedAt"] == m.changes_requested_at.isoformat().replace("+00:00", "Z")
    assert (body["reviewDeadline"], body["reviewExtended"]) == (None, False)
    assert (body["completedBy"], body["completionProof"], body["completedAt"]) == (None, None, None)
    assert Event.objects.get(kind="milestone.changes_requested").details["note"] == "Wrong colours"


def test_the_milestone_list_shows_the_rounds_and_the_latest_note(seller_api, buyer_api, delivered):
    buyer_api.post(url(delivered), {"note": "One"}, format="json")
    r = seller_api.get(f"/v1/payment-intents/{delivered.escrow.public_id}/escrow/milestones")
    first, second, _ = r.json()["data"]
    assert (first["status"], first["changesRequested"], first["changesRequestedNote"]) == (
        "PENDING",
        1,
        "One",
    )
    assert (second["changesRequested"], second["changesRequestedNote"], second["changesRequestedAt"]) == (
        0,
        None,
        None,
    )


def test_the_seller_delivers_again_through_the_complete_route(seller_api, buyer_api, delivered):
    buyer_api.post(url(delivered), {"note": "Again"}, format="json")
    done = seller_api.post(
        f"/v1/payment-intents/{delivered.escrow.public_id}/escrow/milestones/{delivered.public_id}/complete",
        {"completedBy": "Sam", "completionProof": "fixed"},
        format="json",
    )
    assert done.status_code == 200, done.json()
    m = refresh(delivered)
    assert (m.status, m.completion_proof, m.changes_requested_count) == (
        MilestoneStatus.COMPLETED,
        "fixed",
        1,
    )
    assert m.review_deadline == m.completed_at + m.escrow.inspection_period


def test_refusals_in_the_envelope_change_nothing(seller_api, buyer_api, stranger_api, delivered):
    before = ledger_fingerprint(), Event.objects.count()
    error = error_of(seller_api.post(url(delivered), {"note": "x"}, format="json"), 403)
    assert error == {
        "code": "forbidden",
        "message": "Only the buyer can request changes to a delivered milestone",
        "type": "invalid_request_error",
    }
    assert error_of(stranger_api.post(url(delivered), {"note": "x"}, format="json"), 404)["code"] == (
        "resource_missing"
    )
    error = error_of(buyer_api.post(url(delivered), {}, format="json"), 400)
    assert (error["code"], error["message"], error["param"]) == (
        "note_required",
        "Say what needs to change",
        "note",
    )
    error = error_of(buyer_api.post(url(delivered), {"note": None}, format="json"), 400)
    assert error["code"] == "note_required"
    error = error_of(buyer_api.post(url(delivered), {"note": "x" * 2001}, format="json"), 400)
    assert (error["code"], error["message"], error["param"]) == (
        "note_too_long",
        "The note is too long: at most 2,000 characters",
        "note",
    )
    assert error_of(buyer_api.post(url(delivered), {"note": 5}, format="json"), 400)["param"] == "note"
    unknown = buyer_api.post(url(delivered), {"note": "x", "days": 3}, format="json")
    assert error_of(unknown, 400)["param"] == "days"
    other = milestones(delivered.escrow)[1]
    assert error_of(buyer_api.post(url(other), {"note": "x"}, format="json"), 400)["code"] == "not_in_review"
    bogus = f"/v1/escrows/{delivered.escrow.public_id}/milestones/milestone_nope/request-changes"
    missing = buyer_api.post(bogus, {"note": "x"}, format="json")
    assert error_of(missing, 404)["message"] == "Milestone not found"
    late = delivered.review_deadline + timedelta(minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=late):
        assert error_of(buyer_api.post(url(delivered), {"note": "x"}, format="json"), 400)["code"] == (
            "review_ended"
        )
    assert (ledger_fingerprint(), Event.objects.count()) == before


def test_a_disputed_milestone_is_refused(buyer_api, buyer, delivered):
    services.dispute_open(escrow=delivered.escrow, by=buyer, reason="Broken", milestone=delivered)
    assert error_of(buyer_api.post(url(delivered), {"note": "x"}, format="json"), 400)["code"] == (
        "milestone_disputed"
    )


def test_the_same_idempotency_key_replays_the_answer(buyer_api, delivered):
    first = buyer_api.post(url(delivered), {"note": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="rc-1")
    again = buyer_api.post(url(delivered), {"note": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="rc-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert refresh(delivered).changes_requested_count == 1
    assert Event.objects.filter(kind="milestone.changes_requested").count() == 1
    # Without the key a second call is a second request, refused: the milestone is no longer delivered.
    assert error_of(buyer_api.post(url(delivered), {"note": "Once"}, format="json"), 400)["code"] == (
        "not_in_review"
    )


def test_the_schema_documents_the_route_and_the_milestone_fields(seller_api):
    schema = seller_api.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    route = schema["paths"]["/v1/escrows/{escrow_id}/milestones/{milestone_id}/request-changes"]
    assert route["post"]["operationId"] == "escrow_milestone_request_changes"
    assert {"200", "400", "403", "404"} <= set(route["post"]["responses"])
    milestone = schema["components"]["schemas"]["IntentMilestoneOutput"]["properties"]
    assert {"changesRequested", "changesRequestedNote", "changesRequestedAt"} <= set(milestone)
