"""Payluk's escrow API: envelope, integer amounts, state mapping,
customer-id, pay (wallet, card, reference replay), top-up, confirm with payee routing."""

import pytest

from accounts.models import User
from escrows import services
from escrows.ledger import customer_account
from escrows.models import Escrow, EscrowStatus, MilestoneStatus, Payment
from tests.api.conftest import client_for
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def body(**changes):
    data = {
        "amount": 1000,
        "purpose": "Website build",
        "description": "Design, build, deploy",
        "whoPays": "buyer",
        "maxDelivery": 14,
        "deliveryTimeline": "days",
        "totalQuantity": 1,
        "milestones": [
            {"title": "Design", "description": "Mockups", "amount": 300},
            {"title": "Build", "description": "Code", "amount": 500},
            {"title": "Deploy", "description": "Go live", "amount": 200},
        ],
    }
    data.update(changes)
    return data


def create(api, **changes):
    r = api.post("/v1/escrow/milestone/create", body(**changes), format="json")
    assert r.status_code == 201, r.json()
    return r.json()["data"]


def pay(api, escrow_id, reference="ref-1", gateway="WALLET", **extra):
    return api.post(
        "/v1/payment/escrow",
        {
            "gateway": gateway,
            "transactionType": "ESCROW",
            "escrowDetails": {"escrowId": escrow_id},
            "reference": reference,
            **extra,
        },
        format="json",
    )


def assert_envelope_error(r, status, message=None):
    assert r.status_code == status, r.json()
    data = r.json()
    assert data["status"] == status and data["data"] == {} and data["message"]
    if message is not None:
        assert data["message"] == message


def test_create_answers_the_provider_shape(seller_api, seller):
    r = seller_api.post("/v1/escrow/milestone/create", body(), format="json")
    assert r.status_code == 201
    envelope = r.json()
    assert envelope["status"] == 201 and envelope["message"]
    data = envelope["data"]
    assert data["amount"] == 1000 and isinstance(data["amount"], int)
    assert data["purpose"] == "Website build"
    assert data["whoPays"] == "buyer"
    assert data["fee"] == 15
    assert data["status"] == "PENDING" and data["state"] == "AWAITING_PAYMENT"
    assert data["settlementType"] == "MILESTONE"
    assert data["paymentToken"].startswith("pt_")
    assert [(m["title"], m["amount"], m["status"], m["releasedAt"]) for m in data["milestones"]] == [
        ("Design", 300, "PENDING", None),
        ("Build", 500, "PENDING", None),
        ("Deploy", 200, "PENDING", None),
    ]
    assert all(m["id"].startswith("milestone_") for m in data["milestones"])
    assert Escrow.objects.get(public_id=data["id"]).seller == seller


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"whoPays": "seller"}, "whoPays must be buyer"),
        ({"milestones": [{"title": "All", "amount": 1000}]}, "at least 2 milestones"),
        ({"amount": 999}, "must sum to the escrow amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 10**40}, "amount"),
        (
            {"milestones": [{"title": "A", "amount": 1000}, {"title": "B", "amount": 0}], "amount": 1000},
            "positive integer",
        ),
        ({"deliveryTimeline": "weeks"}, "deliveryTimeline"),
        ({"maxDelivery": None}, "go together"),
        ({"colour": "red"}, "colour"),
        ({"purpose": ""}, "purpose"),
        ({"milestones": "three"}, "milestones"),
        (
            {
                "milestones": [
                    {"title": "A", "amount": 500, "dueDate": "2001-01-01T00:00:00Z"},
                    {"title": "B", "amount": 500},
                ]
            },
            "dueDate must be in the future",
        ),
        (
            {
                "milestones": [
                    {"title": "A", "amount": 500, "customerId": "cus_nobody"},
                    {"title": "B", "amount": 500},
                ]
            },
            "customer not found",
        ),
    ],
)
def test_create_refuses_bad_input(seller_api, changes, fragment):
    r = seller_api.post("/v1/escrow/milestone/create", body(**changes), format="json")
    assert_envelope_error(r, 400)
    assert fragment in r.json()["message"]
    assert Escrow.objects.count() == 0


def test_edit_replaces_details_and_milestones_and_recomputes_the_fee(seller_api):
    data = create(seller_api)
    old_ids = {m["id"] for m in data["milestones"]}
    r = seller_api.put(
        f"/v1/escrow/milestone/edit/{data['paymentToken']}",
        body(
            amount=2000,
            purpose="Bigger site",
            milestones=[{"title": "A", "amount": 1200}, {"title": "B", "amount": 800}],
        ),
        format="json",
    )
    assert r.status_code == 200, r.json()
    edited = r.json()["data"]
    assert (edited["amount"], edited["purpose"], edited["fee"]) == (2000, "Bigger site", 30)
    assert [m["amount"] for m in edited["milestones"]] == [1200, 800]
    assert not old_ids & {m["id"] for m in edited["milestones"]}


def test_edit_only_by_the_seller_and_only_while_awaiting_payment(seller_api, buyer, stranger_api):
    data = create(seller_api)
    escrow = Escrow.objects.get(public_id=data["id"])
    r = stranger_api.put(f"/v1/escrow/milestone/edit/{data['paymentToken']}", body(), format="json")
    assert_envelope_error(r, 404)
    fund(escrow, buyer)
    buyer_api = client_for(buyer)
    r = buyer_api.put(f"/v1/escrow/milestone/edit/{data['paymentToken']}", body(), format="json")
    assert_envelope_error(r, 403, "Only the seller who created this escrow can edit it")
    r = seller_api.put(f"/v1/escrow/milestone/edit/{data['paymentToken']}", body(), format="json")
    assert_envelope_error(r, 400, "An escrow can only be edited while it is awaiting payment")


def test_get_milestones_by_payment_token(seller_api, seller):
    data = create(seller_api)
    r = seller_api.get(f"/v1/escrow/milestone/{data['paymentToken']}")
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == [m["id"] for m in data["milestones"]]
    standard = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(title="Standard", currency="USD", amount=1000, settlement_type="STANDARD"),
        milestones=None,
    )
    r = seller_api.get(f"/v1/escrow/milestone/{standard.payment_token}")
    assert r.status_code == 200 and r.json()["data"] == []


def test_full_provider_flow_with_payee_routing(seller_api, seller, buyer, platform):
    payee = User.objects.create_user("payee@example.test", None)
    data = create(
        seller_api,
        milestones=[
            {"title": "Design", "amount": 300},
            {"title": "Build", "amount": 500, "customerId": payee.customer_id},
            {"title": "Deploy", "amount": 200},
        ],
    )
    # Edit keeps the payee routing when the new set names it again.
    r = seller_api.put(
        f"/v1/escrow/milestone/edit/{data['paymentToken']}",
        body(
            purpose="Website build v2",
            milestones=[
                {"title": "Design", "amount": 300},
                {"title": "Build", "amount": 500, "customerId": payee.customer_id},
                {"title": "Deploy", "amount": 200},
            ],
        ),
        format="json",
    )
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["milestones"][1]["customerId"] == payee.customer_id
    buyer_api = client_for(buyer)
    r = buyer_api.post("/v1/payment/topup", {"amount": 1015}, format="json")
    assert r.status_code == 200 and r.json()["data"]["balance"] == 1015
    r = pay(buyer_api, data["id"], reference="order-42")
    assert r.status_code == 200, r.json()
    paid = r.json()["data"]
    assert (paid["reference"], paid["status"], paid["amount"]) == ("order-42", "SUCCESS", 1015)
    assert (paid["state"], paid["escrowStatus"]) == ("OPENED", "ONGOING")
    for i, m in enumerate(data["milestones"]):
        r = buyer_api.post(f"/v1/escrow/milestone/confirm/{data['id']}/{m['id']}", format="json")
        assert r.status_code == 200, r.json()
        confirmed = r.json()["data"]
        assert confirmed["milestones"][i]["status"] == "RELEASED"
        assert confirmed["milestones"][i]["releasedAt"]
    assert (confirmed["state"], confirmed["status"]) == ("CLOSED", "COMPLETED")
    escrow = Escrow.objects.get(public_id=data["id"])
    assert escrow.status == EscrowStatus.COMPLETED
    assert customer_account(payee, "USD").balance == 50_000
    assert customer_account(seller, "USD").balance == 50_000
    assert customer_account(buyer, "USD").balance == 0
    assert_ledger_invariants()


def test_pay_reference_is_idempotent_and_not_reusable_by_others(seller_api, buyer, stranger):
    data = create(seller_api)
    services.wallet_topup(customer=buyer, amount=200_000, currency="USD")
    buyer_api = client_for(buyer)
    first = pay(buyer_api, data["id"], reference="same-ref")
    again = pay(buyer_api, data["id"], reference="same-ref")
    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["paymentId"] == again.json()["data"]["paymentId"]
    assert Payment.objects.count() == 1
    assert customer_account(buyer, "USD").balance == 200_000 - 101_500
    other = create(seller_api)
    r = pay(buyer_api, other["id"], reference="same-ref")
    assert_envelope_error(r, 409, "This payment reference was already used for another payment")
    assert_ledger_invariants()


def test_pay_without_enough_balance_is_a_clear_400(seller_api, buyer):
    data = create(seller_api)
    buyer_api = client_for(buyer)
    before = ledger_fingerprint()
    r = pay(buyer_api, data["id"])
    assert_envelope_error(r, 400)
    assert r.json()["message"].startswith("Insufficient wallet balance")
    assert r.json()["code"] == "insufficient_funds"
    assert ledger_fingerprint() == before


def test_pay_by_mock_card(seller_api, buyer):
    data = create(seller_api)
    buyer_api = client_for(buyer)
    declined = pay(buyer_api, data["id"], gateway="CARD", cardToken="tok_decline")
    assert_envelope_error(declined, 402, "Your card was declined")
    r = pay(buyer_api, data["id"], gateway="CARD", cardToken="tok_visa", reference="card-1")
    assert r.status_code == 200 and r.json()["data"]["gateway"] == "CARD"
    assert refresh(Escrow.objects.get(public_id=data["id"])).status == EscrowStatus.OPENED
    assert_ledger_invariants()


def test_seller_cannot_pay_or_confirm_and_buyer_cannot_confirm_out_of_order(seller_api, seller, buyer):
    data = create(seller_api)
    services.wallet_topup(customer=seller, amount=200_000, currency="USD")
    assert_envelope_error(pay(seller_api, data["id"]), 403, "The seller cannot pay their own escrow")
    escrow = Escrow.objects.get(public_id=data["id"])
    fund(escrow, buyer)
    first, second = milestones(escrow)[:2]
    r = seller_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{first.public_id}")
    assert_envelope_error(r, 403, "Only the buyer can release a milestone")
    buyer_api = client_for(buyer)
    r = buyer_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{second.public_id}")
    assert_envelope_error(r, 400, "Previous milestone (index 0) must be released first")
    assert (
        buyer_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{first.public_id}").status_code
        == 200
    )
    r = buyer_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{first.public_id}")
    assert_envelope_error(r, 400, "Milestone already released")
    assert_ledger_invariants()


def test_bola_other_customers_escrow_milestone_and_payment_token_are_404(seller, buyer, stranger_api):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    own = make_escrow(User.objects.get(email="stranger@example.test"))
    before = ledger_fingerprint()
    for r in (
        stranger_api.get(f"/v1/escrow/milestone/{escrow.payment_token}"),
        stranger_api.put(f"/v1/escrow/milestone/edit/{escrow.payment_token}", body(), format="json"),
        stranger_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{first.public_id}"),
        pay(stranger_api, escrow.public_id),
        pay(stranger_api, escrow.payment_token),
    ):
        assert_envelope_error(r, 404, "Escrow not found")
    # A stranger's own escrow cannot reach into someone else's milestone either.
    r = stranger_api.post(f"/v1/escrow/milestone/confirm/{own.public_id}/{first.public_id}")
    assert_envelope_error(r, 404, "Milestone not found")
    assert ledger_fingerprint() == before
    assert milestones(escrow)[0].status == MilestoneStatus.PENDING


def test_state_mapping_of_every_status(seller, buyer, seller_api):
    from escrows.api.provider.base import STATE_MAP

    assert STATE_MAP == {
        "AWAITING_PAYMENT": ("AWAITING_PAYMENT", "PENDING"),
        "OPENED": ("OPENED", "ONGOING"),
        "DISPUTED": ("OPENED", "DISPUTED"),
        "COMPLETED": ("CLOSED", "COMPLETED"),
        "REFUNDED": ("CLOSED", "REFUNDED"),
        "CANCELLED": ("CLOSED", "CANCELLED"),
    }
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="late")
    buyer_api = client_for(buyer)
    r = buyer_api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{first.public_id}")
    assert_envelope_error(r, 400, "Milestone 0 is disputed; it is frozen until the dispute is resolved")
    cancelled = make_escrow(seller)
    services.escrow_cancel(escrow=cancelled, by=seller)
    r = seller_api.put(f"/v1/escrow/milestone/edit/{cancelled.payment_token}", body(), format="json")
    assert_envelope_error(r, 400)


def test_topup_is_test_mode_only(buyer_api, settings):
    r = buyer_api.post("/v1/payment/topup", {"amount": 0}, format="json")
    assert_envelope_error(r, 400, "amount must be a positive integer")
    settings.ESCROW_TEST_MODE = False
    r = buyer_api.post("/v1/payment/topup", {"amount": 10}, format="json")
    assert_envelope_error(r, 403, "Top-ups from a mock deposit are only available in test mode")


def test_platform_creates_customers_and_acts_for_them(platform, seller):
    platform_api = client_for(platform)
    r = platform_api.post(
        "/v1/customer/create",
        {"firstname": "Ada", "lastname": "Obi", "email": "ada@example.test", "phone": "+2348000000000"},
        format="json",
    )
    assert r.status_code == 201, r.json()
    customer_id = r.json()["data"]["id"]
    customer = User.objects.get(customer_id=customer_id)
    assert customer.created_by_platform == platform and customer.first_name == "Ada"
    acting = client_for(platform, customer_id=customer_id)
    data = create(acting)
    assert Escrow.objects.get(public_id=data["id"]).seller == customer
    # Duplicate email, non-platform key:
    r = platform_api.post("/v1/customer/create", {"email": "ada@example.test"}, format="json")
    assert_envelope_error(r, 409, "A customer with this email already exists")
    r = client_for(seller).post("/v1/customer/create", {"email": "x@example.test"}, format="json")
    assert_envelope_error(r, 403, "Only platform accounts can create customers")
