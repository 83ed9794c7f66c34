"""Releasing a milestone in parts over the API: POST /v1/escrows/{id}/milestones/{mid}/release
with an optional amount; payment-intents envelope and idempotency; payment-intents milestones show
releasedAmount and remainingAmount; the seed surfaces' own confirm and complete release the whole
remaining amount."""

import pytest

from escrows import services
from escrows.models import EscrowStatus, Event, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def escrow(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)  # 300.00, 500.00, 200.00 USD
    fund(escrow, buyer)
    return escrow


def url(escrow, m):
    return f"/v1/escrows/{escrow.public_id}/milestones/{m.public_id}/release"


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_a_part_goes_now_and_the_rest_stays_held(buyer_api, escrow, seller):
    first = milestones(escrow)[0]
    r = buyer_api.post(url(escrow, first), {"amount": "100.00"}, format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["id"], body["object"], body["status"]) == (first.public_id, "milestone", "PENDING")
    assert (body["amount"], body["releasedAmount"], body["remainingAmount"]) == ("300.00", "100.00", "200.00")
    assert body["releasedAt"] is None
    assert wallet_balance(seller, "USD") == 10_000
    assert Event.objects.get(kind="milestone.partially_released").details["remaining"] == 20_000
    # The rest: all of what is left.
    r = buyer_api.post(url(escrow, first), {"amount": "200"}, format="json")
    body = r.json()
    assert (body["status"], body["releasedAmount"], body["remainingAmount"]) == ("RELEASED", "300.00", "0.00")
    assert body["releasedAt"] is not None
    assert wallet_balance(seller, "USD") == 30_000
    assert_ledger_invariants()


def test_without_an_amount_all_that_is_left_is_released(buyer_api, escrow, buyer, seller):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=12_345)
    r = buyer_api.post(url(escrow, first), {}, format="json")
    assert r.status_code == 200, r.json()
    assert (r.json()["status"], r.json()["releasedAmount"], r.json()["remainingAmount"]) == (
        "RELEASED",
        "300.00",
        "0.00",
    )
    assert wallet_balance(seller, "USD") == 30_000
    # A null amount is the same whole release, refused now the stage is released.
    again = buyer_api.post(url(escrow, first), {"amount": None}, format="json")
    assert error_of(again, 400)["message"] == "Milestone already released"
    assert wallet_balance(seller, "USD") == 30_000
    assert_ledger_invariants()


@pytest.mark.parametrize(
    ("amount", "code", "message"),
    [
        ("300.01", "amount_above_remaining", "amount can be at most 300.00 USD, what is left of this stage"),
        ("0", "invalid_request", "amount must be greater than zero"),
        ("-1", "invalid_request", "amount must be greater than zero"),
        ("1.001", "invalid_request", "amount has more than 2 decimal places for USD"),
        (1.5, "invalid_request", 'amount: Must be a decimal string such as "300.00".'),
        ("abc", "invalid_request", 'amount: Must be a decimal string such as "300.00".'),
    ],
)
def test_a_refused_amount_moves_nothing(buyer_api, escrow, amount, code, message):
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    error = error_of(buyer_api.post(url(escrow, first), {"amount": amount}, format="json"), 400)
    assert (error["code"], error["message"], error["param"]) == (code, message, "amount")
    assert ledger_fingerprint() == before


def test_unknown_fields_are_refused(buyer_api, escrow):
    error = error_of(buyer_api.post(url(escrow, milestones(escrow)[0]), {"amout": "1"}, format="json"), 400)
    assert error["param"] == "amout"


def test_who_may_release_and_in_what_order(seller_api, buyer_api, stranger_api, escrow):
    first, second, _ = milestones(escrow)
    before = ledger_fingerprint()
    assert error_of(seller_api.post(url(escrow, first), {"amount": "1"}, format="json"), 403)["message"] == (
        "Only the buyer can release a milestone"
    )
    assert error_of(stranger_api.post(url(escrow, first), {"amount": "1"}, format="json"), 404)[
        "message"
    ] == ("Escrow not found")
    assert error_of(buyer_api.post(url(escrow, second), {"amount": "1"}, format="json"), 400)["message"] == (
        "Previous milestone (index 0) must be released first"
    )
    missing = f"/v1/escrows/{escrow.public_id}/milestones/milestone_nope/release"
    assert error_of(buyer_api.post(missing, {"amount": "1"}, format="json"), 404)["message"] == (
        "Milestone not found"
    )
    assert ledger_fingerprint() == before


def test_the_same_idempotency_key_replays_the_answer(buyer_api, escrow):
    first = milestones(escrow)[0]
    once = buyer_api.post(
        url(escrow, first), {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="rp-1"
    )
    again = buyer_api.post(
        url(escrow, first), {"amount": "100.00"}, format="json", HTTP_IDEMPOTENCY_KEY="rp-1"
    )
    assert once.status_code == again.status_code == 200
    assert again.json() == once.json() and again["Idempotent-Replayed"] == "true"
    assert refresh(first).released_part == 10_000
    assert Event.objects.filter(kind="milestone.partially_released").count() == 1


def test_the_milestone_list_shows_what_was_released_and_what_is_left(seller_api, buyer, escrow):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    r = seller_api.get(f"/v1/payment-intents/{escrow.public_id}/escrow/milestones")
    shown = [(m["releasedAmount"], m["remainingAmount"]) for m in r.json()["data"]]
    assert shown == [("100.00", "200.00"), ("0.00", "500.00"), ("0.00", "200.00")]


def test_the_seed_surfaces_release_the_whole_remaining_amount(buyer_api, escrow, buyer, seller):
    first, second, _ = milestones(escrow)
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    # Payluk's confirm: the stage's rest, and its documented answer.
    r = buyer_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{first.public_id}", format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["data"]["milestones"][0]["status"] == "RELEASED"
    assert wallet_balance(seller, "USD") == 30_000
    # Finternet's complete, called by the buyer: the rest of the next stage.
    services.milestone_release_part(milestone=second, by=buyer, amount=20_000)
    r = buyer_api.post(
        f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{second.public_id}/complete",
        {"completedBy": "buyer"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json() == {"id": second.public_id, "object": "milestone", "status": "released"}
    assert refresh(second).status == MilestoneStatus.RELEASED
    assert wallet_balance(seller, "USD") == 80_000
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert_ledger_invariants()


def test_the_schema_documents_the_route_and_the_milestone_fields(seller_api):
    schema = seller_api.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    route = schema["paths"]["/v1/escrows/{escrow_id}/milestones/{milestone_id}/release"]
    assert route["post"]["operationId"] == "escrow_milestone_release"
    assert {"200", "400", "403", "404"} <= set(route["post"]["responses"])
    body = route["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["properties"]) == {"amount"}
    milestone = schema["components"]["schemas"]["IntentMilestoneOutput"]["properties"]
    assert {"releasedAmount", "remainingAmount"} <= set(milestone)
