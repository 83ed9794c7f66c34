"""Due dates in both API surfaces: an optional `dueDate` on each milestone (payment intents: when
adding one; escrows: on create and edit), a past one refused in the surface's own envelope, and
the milestone's due date (and, on payment intents, whether it is overdue) in its representation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows.models import Escrow, Milestone
from tests.api.test_payment_intents import add_milestone, create_intent
from tests.api.test_provider import body
from tests.helpers import fund, milestones

pytestmark = pytest.mark.django_db

FUTURE = "2099-12-10T17:00:00Z"


# -- payment intents -------------------------------------------------------------------------------


def test_a_milestone_is_added_with_its_due_date(seller_api):
    intent = create_intent(seller_api)
    r = add_milestone(seller_api, intent["id"], 0, "400.00", dueDate=FUTURE)
    assert r.status_code == 201, r.json()
    data = r.json()["data"]
    assert (data["dueDate"], data["overdue"]) == (FUTURE, False)
    listed = seller_api.get(f"/v1/payment-intents/{intent['id']}/escrow/milestones").json()["data"]
    assert [(m["dueDate"], m["overdue"]) for m in listed] == [(FUTURE, False)]


def test_a_milestone_without_a_due_date_has_none(seller_api):
    intent = create_intent(seller_api)
    for changes in ({}, {"dueDate": None}):
        r = add_milestone(seller_api, intent["id"], len(changes), "100.00", **changes)
        assert r.status_code == 201 and r.json()["data"]["dueDate"] is None


def test_a_past_due_date_is_refused_in_the_envelope(seller_api):
    intent = create_intent(seller_api)
    r = add_milestone(seller_api, intent["id"], 0, "400.00", dueDate="2001-01-01T00:00:00Z")
    assert r.status_code == 400
    error = r.json()["error"]
    assert (error["message"], error["param"], error["type"]) == (
        "dueDate must be in the future",
        "dueDate",
        "invalid_request_error",
    )
    assert not Milestone.objects.exists()


def test_a_due_date_that_is_no_date_is_refused(seller_api):
    intent = create_intent(seller_api)
    r = add_milestone(seller_api, intent["id"], 0, "400.00", dueDate="next tuesday")
    assert r.status_code == 400 and r.json()["error"]["param"] == "dueDate"
    assert not Milestone.objects.exists()


def test_a_late_milestone_of_a_paid_intent_reads_overdue(seller_api, buyer):
    intent = create_intent(seller_api, metadata={"releaseType": "MILESTONE_LOCKED"})
    for i in range(2):
        assert add_milestone(seller_api, intent["id"], i, "500.00", dueDate=FUTURE).status_code == 201
    escrow = Escrow.objects.get(public_id=intent["id"])
    fund(escrow, buyer)
    Milestone.objects.filter(escrow=escrow, index=0).update(due_date=timezone.now() - timedelta(hours=1))
    listed = seller_api.get(f"/v1/payment-intents/{intent['id']}/escrow/milestones").json()["data"]
    assert [m["overdue"] for m in listed] == [True, False]


# -- escrows (Payluk) --------------------------------------------------------------------------------


def with_due_dates(*dues):
    data = body()
    for m, due in zip(data["milestones"], dues, strict=False):
        m["dueDate"] = due
    return data


def test_escrow_create_and_edit_take_due_dates(seller_api):
    r = seller_api.post("/v1/escrow/milestone/create", with_due_dates(None, FUTURE), format="json")
    assert r.status_code == 201, r.json()
    data = r.json()["data"]
    assert [m["dueDate"] for m in data["milestones"]] == [None, FUTURE, None]
    r = seller_api.put(
        f"/v1/escrow/milestone/edit/{data['paymentToken']}",
        with_due_dates("2099-01-02T03:04:05Z"),
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert [m["dueDate"] for m in r.json()["data"]["milestones"]] == ["2099-01-02T03:04:05Z", None, None]
    escrow = Escrow.objects.get(public_id=data["id"])
    assert milestones(escrow)[0].due_date.year == 2099


def test_escrow_create_refuses_a_past_due_date_naming_the_milestone(seller_api):
    r = seller_api.post(
        "/v1/escrow/milestone/create", with_due_dates(None, "2001-01-01T00:00:00Z"), format="json"
    )
    assert r.status_code == 400
    assert r.json()["message"] == "milestones[1].dueDate must be in the future"
    assert not Escrow.objects.exists()
