"""/v1/escrows/{id}/change-orders: proposing, listing, accepting (the money moves), declining and
withdrawing, in the payment-intents envelope with decimal-string money; idempotent replay of an
acceptance; another customer's escrow or change order is a 404; the OpenAPI schema lists them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import ChangeProposal, LedgerTransaction
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, milestones, refresh

pytestmark = pytest.mark.django_db


def url(escrow, *rest):
    return "/".join([f"/v1/escrows/{escrow.public_id}/change-orders", *rest])


def post(client, path, body=None, **headers):
    return client.post(path, body if body is not None else {}, format="json", **headers)


def add(amount="300.00", **extra):
    return {"changes": [{"type": "add", "title": "Launch", "amount": amount, **extra}]}


def test_the_seller_proposes_and_the_buyer_accepts_paying_from_their_balance(
    funded, seller, seller_api, buyer, buyer_api
):
    r = post(seller_api, url(funded), {**add(), "note": "Launch week"})
    assert r.status_code == 201, r.json()
    body = r.json()
    proposal = ChangeProposal.objects.get()
    assert body == {
        "id": proposal.public_id,
        "object": "change_order",
        "escrowId": funded.public_id,
        "status": "OPEN",
        "proposerRole": "seller",
        "proposedBy": seller.customer_id,
        "changes": [
            {
                "kind": "add",
                "title": "Launch",
                "description": "",
                "amount": "300.00",
                "dueDate": None,
                "index": 3,
            }
        ],
        "currency": "USD",
        "amountBefore": "1000.00",
        "amountAfter": "1300.00",
        "difference": "300.00",
        "fee": "4.50",
        "buyerPays": "304.50",
        "buyerGetsBack": "0.00",
        "paySource": None,
        "note": "Launch week",
        "declineReason": None,
        "paid": None,
        "refunded": None,
        "termsVersion": None,
        "lapsesAt": proposal.lapses_at.isoformat().replace("+00:00", "Z"),
        "decidedAt": None,
        "createdAt": proposal.created_at.isoformat().replace("+00:00", "Z"),
    }
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    done = post(buyer_api, url(funded, proposal.public_id, "accept"), {"paySource": "WALLET"})
    assert done.status_code == 200, done.json()
    accepted = done.json()
    assert (accepted["status"], accepted["paid"], accepted["refunded"], accepted["termsVersion"]) == (
        "ACCEPTED",
        {"amount": "300.00", "fee": "4.50", "source": "WALLET"},
        None,
        2,
    )
    escrow = seller_api.get(f"/v1/payment-intents/{funded.public_id}").json()
    assert len(milestones(funded)) == 4
    assert escrow["termsVersion"] == 2
    assert_ledger_invariants()


def test_edit_and_remove_by_milestone_id_and_a_refund(funded, seller_api, buyer, buyer_api):
    second, third = milestones(funded)[1:]
    due = (timezone.now() + timedelta(days=9)).isoformat()
    body = {
        "changes": [
            {"type": "edit", "milestoneId": second.public_id, "amount": "400.00", "dueDate": due},
            {"type": "remove", "milestoneId": third.public_id},
        ]
    }
    r = post(buyer_api, url(funded), body)
    assert r.status_code == 201, r.json()
    change = r.json()
    assert [c["kind"] for c in change["changes"]] == ["edit", "remove"]
    assert change["changes"][0]["before"] == {"amount": "500.00", "dueDate": None}
    assert change["changes"][0]["after"]["amount"] == "400.00"
    assert (change["difference"], change["buyerGetsBack"], change["fee"]) == ("-300.00", "300.00", "0.00")
    done = post(seller_api, url(funded, change["id"], "accept"))
    assert done.json()["refunded"] == "300.00"
    assert wallet_balance(buyer, "USD") == 30_000


def test_listing_newest_first(funded, seller_api, buyer_api):
    first = post(seller_api, url(funded), add()).json()["id"]
    post(seller_api, url(funded, first, "withdraw"))
    second = post(buyer_api, url(funded), add("10.00")).json()["id"]
    listed = buyer_api.get(url(funded)).json()
    assert listed["object"] == "list" and listed["hasMore"] is False
    assert [(c["id"], c["status"]) for c in listed["data"]] == [(second, "OPEN"), (first, "WITHDRAWN")]


def test_refusals_use_the_intent_envelope(funded, seller_api, buyer_api):
    first = milestones(funded)[0]
    services.milestone_release(milestone=first, by=refresh(funded).buyer)
    r = post(
        seller_api,
        url(funded),
        {"changes": [{"type": "edit", "milestoneId": first.public_id, "amount": "1"}]},
    )
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "stage_not_future",
        "message": "Stage 1 is already released; a change order only changes the stages still to come",
        "type": "invalid_request_error",
    }
    r = post(seller_api, url(funded), {"changes": [{"type": "add", "title": "x"}]})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "changes[0].amount is required to add a milestone"
    r = post(seller_api, url(funded), {"changes": [{"type": "add", "amount": 1.5}]})
    assert r.status_code == 400
    r = post(seller_api, url(funded), {"changes": [], "extra": 1})
    assert r.status_code == 400
    pid = post(seller_api, url(funded), add()).json()["id"]
    again = post(buyer_api, url(funded), add())
    assert again.status_code == 409 and again.json()["error"]["code"] == "change_order_open"
    own = post(seller_api, url(funded, pid, "accept"))
    assert own.status_code == 403 and own.json()["error"]["code"] == "forbidden"
    short = post(buyer_api, url(funded, pid, "accept"))
    assert short.status_code == 400 and short.json()["error"]["code"] == "insufficient_funds"
    card = post(buyer_api, url(funded, pid, "accept"), {"paySource": "CARD", "cardToken": "tok_decline"})
    assert card.status_code == 402 and card.json()["error"]["code"] == "card_declined"
    no_reason = post(buyer_api, url(funded, pid, "decline"))
    assert no_reason.status_code == 400 and no_reason.json()["error"]["param"] == "reason"
    declined = post(buyer_api, url(funded, pid, "decline"), {"reason": "Over budget"})
    assert (declined.json()["status"], declined.json()["declineReason"]) == ("DECLINED", "Over budget")


def test_accepting_by_card_is_idempotent(funded, seller_api, buyer_api):
    pid = post(seller_api, url(funded), add()).json()["id"]
    path = url(funded, pid, "accept")
    body = {"paySource": "CARD", "cardToken": "tok_visa"}
    first = post(buyer_api, path, body, HTTP_IDEMPOTENCY_KEY="chg-1")
    again = post(buyer_api, path, body, HTTP_IDEMPOTENCY_KEY="chg-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["paid"] == {"amount": "300.00", "fee": "4.50", "source": "CARD"}
    assert LedgerTransaction.objects.filter(kind="CHANGE_ORDER").count() == 1


def test_strangers_get_404_everywhere(funded, seller_api, stranger_api):
    pid = post(seller_api, url(funded), add()).json()["id"]
    for path, body in (
        (url(funded), add()),
        (url(funded, pid, "accept"), {}),
        (url(funded, pid, "decline"), {"reason": "x"}),
        (url(funded, pid, "withdraw"), {}),
    ):
        r = post(stranger_api, path, body)
        assert r.status_code == 404, path
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert stranger_api.get(url(funded)).status_code == 404
    missing = post(seller_api, url(funded, "chg_nope", "withdraw"))
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Change order not found"


def test_the_schema_documents_the_routes(seller_api):
    schema = seller_api.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    base = "/v1/escrows/{escrow_id}/change-orders"
    assert set(paths[base]) >= {"get", "post"}
    for action in ("accept", "decline", "withdraw"):
        assert "post" in paths[f"{base}/{{change_order_id}}/{action}"]
    assert "ChangeOrder" in schema["components"]["schemas"]
