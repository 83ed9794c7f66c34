"""Review clock and fee quote over the API: POST /v1/escrows/{id}/milestones/{mid}/extend-review,
POST and GET /v1/fee-quote; payment-intents error envelope; another customer's object is a 404."""

from datetime import timedelta
from unittest import mock

import pytest

from escrows import services
from escrows.models import Event
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    return refresh(first)


def extend_url(m):
    return f"/v1/escrows/{m.escrow.public_id}/milestones/{m.public_id}/extend-review"


def error_of(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_buyer_extends_review_once(buyer_api, delivered, settings):
    settings.ESCROW_REVIEW_EXTENSION = timedelta(days=7)
    r = buyer_api.post(extend_url(delivered), format="json")
    assert r.status_code == 200, r.json()
    body = r.json()
    m = refresh(delivered)
    assert body["reviewExtended"] is True and body["status"] == "COMPLETED"
    assert body["reviewDeadline"] == m.review_deadline.isoformat().replace("+00:00", "Z")
    assert m.review_deadline == delivered.review_deadline + timedelta(days=7)
    again = buyer_api.post(extend_url(delivered), format="json")
    assert error_of(again, 400)["code"] == "already_extended"
    assert Event.objects.filter(kind="milestone.review_extended").count() == 1


def test_milestone_list_shows_the_deadline(seller_api, delivered):
    r = seller_api.get(f"/v1/payment-intents/{delivered.escrow.public_id}/escrow/milestones")
    first, second, _ = r.json()["data"]
    assert first["reviewDeadline"].endswith("Z") and first["reviewExtended"] is False
    assert second["reviewDeadline"] is None
    intent = seller_api.get(f"/v1/payment-intents/{delivered.escrow.public_id}").json()
    assert intent["feeScheduleVersion"] == delivered.escrow.fee_schedule_version


def test_extend_refusals(seller_api, buyer_api, stranger_api, delivered):
    assert error_of(seller_api.post(extend_url(delivered)), 403)["message"] == (
        "Only the buyer can extend the review period"
    )
    before = ledger_fingerprint(), refresh(delivered).review_deadline
    assert error_of(stranger_api.post(extend_url(delivered)), 404)["code"] == "resource_missing"
    other = milestones(delivered.escrow)[1]
    assert error_of(buyer_api.post(extend_url(other)), 400)["code"] == "not_in_review"
    bogus = f"/v1/escrows/{delivered.escrow.public_id}/milestones/milestone_nope/extend-review"
    assert error_of(buyer_api.post(bogus), 404)["message"] == "Milestone not found"
    assert (
        error_of(buyer_api.post(extend_url(delivered), {"days": 30}, format="json"), 400)["param"] == "days"
    )
    with mock.patch(
        "django.utils.timezone.now", return_value=delivered.review_deadline + timedelta(minutes=1)
    ):
        assert error_of(buyer_api.post(extend_url(delivered)), 400)["code"] == "review_ended"
    assert (ledger_fingerprint(), refresh(delivered).review_deadline) == before


def test_another_customers_milestone_is_404_even_with_the_right_escrow(buyer_api, delivered, seller):
    foreign = make_escrow(seller)
    m = milestones(foreign)[0]
    url = f"/v1/escrows/{delivered.escrow.public_id}/milestones/{m.public_id}/extend-review"
    assert error_of(buyer_api.post(url), 404)["message"] == "Milestone not found"


def test_extend_is_idempotent_with_a_key(buyer_api, delivered):
    first = buyer_api.post(extend_url(delivered), format="json", HTTP_IDEMPOTENCY_KEY="ext-1")
    replay = buyer_api.post(extend_url(delivered), format="json", HTTP_IDEMPOTENCY_KEY="ext-1")
    assert first.status_code == replay.status_code == 200
    assert first.json() == replay.json()


# -- fee quote -------------------------------------------------------------------------------------

QUOTE = {"currency": "USD", "amount": "1000.00", "milestones": [{"amount": "300.00"}, {"amount": "700.00"}]}


def test_fee_quote(seller_api, seller, payee_user):
    body = {
        **QUOTE,
        "milestones": [{"amount": "300.00"}, {"amount": "700.00", "payee": payee_user.customer_id}],
    }
    r = seller_api.post("/v1/fee-quote", body, format="json")
    assert r.status_code == 200, r.json()
    q = r.json()
    assert (q["fee"], q["buyerTotal"], q["buyerFee"], q["whoPays"]) == ("15.00", "1015.00", "15.00", "buyer")
    assert q["feeScheduleVersion"] == "2026-11-v1"
    assert q["milestones"] == [
        {
            "milestoneIndex": 0,
            "amount": "300.00",
            "payee": seller.customer_id,
            "payeeIsSeller": True,
            "payeeFee": "0.00",
            "payeeNet": "300.00",
        },
        {
            "milestoneIndex": 1,
            "amount": "700.00",
            "payee": payee_user.customer_id,
            "payeeIsSeller": False,
            "payeeFee": "0.00",
            "payeeNet": "700.00",
        },
    ]
    # The escrow created with the same terms charges exactly the quote.
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    assert (escrow.fee, escrow.total_charge) == (1500, 101_500)
    got = seller_api.get(
        "/v1/fee-quote", {"currency": "USD", "amount": "1000.00", "milestones": "300.00,700.00"}
    )
    assert got.status_code == 200 and got.json()["buyerTotal"] == "1015.00"


@pytest.fixture
def payee_user(db):
    from tests.factories import UserFactory

    return UserFactory(email="quote-payee@example.test")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"currency": "XXX"}, "Unsupported currency: XXX."),
        ({"amount": "0"}, "amount must be greater than zero"),
        ({"amount": "10.001"}, "amount has more than 2 decimal places for USD"),
        ({"amount": 1.5}, 'amount: Must be a decimal string such as "300.00".'),
        ({"whoPays": "seller"}, "whoPays must be buyer for milestone escrows"),
        ({"milestones": [{"amount": "1000.00"}]}, "A milestone escrow needs at least 2 milestones"),
        (
            {"milestones": [{"amount": "1000.00"}, {"amount": "0"}]},
            "milestones[1].amount must be greater than zero",
        ),
        (
            {"milestones": [{"amount": "100.00"}, {"amount": "200.00"}]},
            "Milestone amounts must sum to the escrow amount: they sum to 300.00 USD, "
            "the escrow is 1,000.00 USD",
        ),
        (
            {"milestones": [{"amount": "300.00"}, {"amount": "700.00", "payee": "cus_nobody"}]},
            "milestones[1].payee: customer not found",
        ),
        (
            {"milestones": [{"amount": "300.00", "extra": 1}, {"amount": "700.00"}]},
            "milestones.0.extra: Unknown field.",
        ),
        ({"milestones": "300,700"}, "milestones: Expected a list of items"),
        ({"colour": "red"}, "colour: Unknown field."),
    ],
)
def test_fee_quote_validation(seller_api, change, message):
    r = seller_api.post("/v1/fee-quote", {**QUOTE, **change}, format="json")
    error = error_of(r, 400)
    assert error["message"].startswith(message), error
    assert error["type"] == "invalid_request_error"


def test_fee_quote_missing_fields(seller_api):
    error = error_of(seller_api.post("/v1/fee-quote", {}, format="json"), 400)
    assert "This field is required." in error["message"]
    error = error_of(seller_api.get("/v1/fee-quote", {"currency": "USD", "amount": "10.00"}), 400)
    assert error["message"] == "milestones is required"
    error = error_of(seller_api.get("/v1/fee-quote", {**QUOTE, "milestones": "1e3,abc"}), 400)
    assert error["message"] == 'milestones[0].amount must be a decimal string such as "300.00"'


def test_fee_quote_needs_a_key(client):
    assert error_of(client.post("/v1/fee-quote", QUOTE, content_type="application/json"), 401)


def test_schema_documents_the_new_routes(seller_api):
    schema = seller_api.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    assert "/v1/fee-quote" in schema["paths"]
    assert {"get", "post"} <= set(schema["paths"]["/v1/fee-quote"])
    assert "/v1/escrows/{escrow_id}/milestones/{milestone_id}/extend-review" in schema["paths"]


def test_provider_escrow_shows_the_fee_schedule_version(seller, seller_api, settings):
    r = seller_api.post(
        "/v1/escrow/milestone/create",
        {
            "amount": 1000,
            "purpose": "Versioned",
            "whoPays": "buyer",
            "milestones": [{"title": "A", "amount": 400}, {"title": "B", "amount": 600}],
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["data"]["feeScheduleVersion"] == settings.ESCROW_FEE_SCHEDULE["version"]
