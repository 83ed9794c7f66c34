"""/v1/escrows/{id}/refunds, /refund-requests and /cancellation-proposals: happy paths, the
payment-intents error envelope, decimal-string money, BOLA 404s and idempotent replay."""

import pytest

from escrows.models import (
    CancellationProposal,
    EscrowStatus,
    LedgerTransaction,
    MilestoneStatus,
    RefundRequest,
)
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def url(escrow, *rest):
    return "/".join([f"/v1/escrows/{escrow.public_id}", *rest])


def post(client, path, body=None, **headers):
    return client.post(path, body if body is not None else {}, format="json", **headers)


# -- seller refunds ------------------------------------------------------------------------------


def test_seller_refunds_chosen_milestones(funded, seller_api, buyer):
    second = milestones(funded)[1]
    r = post(seller_api, url(funded, "refunds"), {"milestoneIds": [second.public_id], "reason": "Dropped"})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body == {
        "object": "refund",
        "escrowId": funded.public_id,
        "escrowStatus": "OPENED",
        "amount": "500.00",
        "currency": "USD",
        "milestoneIds": [second.public_id],
    }
    assert refresh(second).status == MilestoneStatus.REFUNDED
    assert wallet_balance(buyer, "USD") == 50_000
    assert_ledger_invariants()


def test_refund_errors_use_the_intent_envelope(funded, seller_api, buyer_api):
    r = post(buyer_api, url(funded, "refunds"), {"milestoneIds": [milestones(funded)[0].public_id]})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = post(seller_api, url(funded, "refunds"), {"milestoneIds": ["milestone_nope"]})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "milestone_unknown",
        "message": "No milestone milestone_nope in this escrow",
        "type": "invalid_request_error",
        "param": "milestoneIds",
    }
    r = post(seller_api, url(funded, "refunds"), {"milestoneIds": [], "extra": 1})
    assert r.status_code == 400 and r.json()["error"]["param"] == "extra"
    r = post(seller_api, url(funded, "refunds"), {"milestoneIds": [5]})
    assert r.status_code == 400
    assert LedgerTransaction.objects.filter(kind="REFUND").count() == 0


def test_refund_is_idempotent(funded, seller_api, buyer):
    body = {"milestoneIds": [milestones(funded)[0].public_id]}
    first = post(seller_api, url(funded, "refunds"), body, HTTP_IDEMPOTENCY_KEY="rf-1")
    again = post(seller_api, url(funded, "refunds"), body, HTTP_IDEMPOTENCY_KEY="rf-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert LedgerTransaction.objects.filter(kind="REFUND").count() == 1
    assert wallet_balance(buyer, "USD") == 30_000
    # Without the key a repeat is refused: the milestone is already refunded.
    r = post(seller_api, url(funded, "refunds"), body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "milestone_settled"


# -- refund requests -----------------------------------------------------------------------------


def test_buyer_requests_and_seller_accepts(funded, seller_api, buyer_api, buyer):
    third = milestones(funded)[2]
    r = post(
        buyer_api, url(funded, "refund-requests"), {"reason": "Not needed", "milestoneIds": [third.public_id]}
    )
    assert r.status_code == 201, r.json()
    created = r.json()
    assert created["id"].startswith("rfq_")
    assert (created["status"], created["amount"], created["milestoneIds"]) == (
        "REQUESTED",
        "200.00",
        [third.public_id],
    )
    listed = seller_api.get(url(funded, "refund-requests")).json()
    assert [i["id"] for i in listed["data"]] == [created["id"]]
    r = post(seller_api, url(funded, "refund-requests", created["id"], "accept"))
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ACCEPTED" and r.json()["decidedAt"]
    assert wallet_balance(buyer, "USD") == 20_000
    # Twice: refused, nothing moves.
    r = post(seller_api, url(funded, "refund-requests", created["id"], "accept"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "refund_request_closed"
    assert_ledger_invariants()


def test_decline_needs_a_reason_and_withdraw_is_the_buyers(funded, seller_api, buyer_api):
    rid = post(buyer_api, url(funded, "refund-requests"), {"reason": "Slow"}).json()["id"]
    r = post(buyer_api, url(funded, "refund-requests"), {"reason": "Again"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "refund_request_open"
    r = post(seller_api, url(funded, "refund-requests", rid, "decline"), {})
    assert r.status_code == 400 and r.json()["error"]["param"] == "reason"
    r = post(seller_api, url(funded, "refund-requests", rid, "withdraw"))
    assert r.status_code == 403
    r = post(seller_api, url(funded, "refund-requests", rid, "decline"), {"reason": "On schedule"})
    assert r.status_code == 200 and r.json()["declineReason"] == "On schedule"
    rid = post(buyer_api, url(funded, "refund-requests"), {"reason": "Still slow"}).json()["id"]
    r = post(buyer_api, url(funded, "refund-requests", rid, "withdraw"))
    assert r.status_code == 200 and r.json()["status"] == "WITHDRAWN"


def test_refund_request_create_is_idempotent(funded, buyer_api):
    body = {"reason": "Changed my mind"}
    first = post(buyer_api, url(funded, "refund-requests"), body, HTTP_IDEMPOTENCY_KEY="rq-1")
    again = post(buyer_api, url(funded, "refund-requests"), body, HTTP_IDEMPOTENCY_KEY="rq-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert RefundRequest.objects.count() == 1


# -- mutual cancellation -------------------------------------------------------------------------


def test_propose_and_accept_a_split(funded, seller_api, buyer_api, seller, buyer):
    r = post(
        buyer_api,
        url(funded, "cancellation-proposals"),
        {"buyerAmount": "600.00", "sellerAmount": "400.00", "note": "Let us stop"},
    )
    assert r.status_code == 201, r.json()
    proposal = r.json()
    assert proposal["id"].startswith("mcp_")
    assert (proposal["buyerAmount"], proposal["sellerAmount"], proposal["totalAmount"]) == (
        "600.00",
        "400.00",
        "1000.00",
    )
    assert proposal["proposerRole"] == "buyer"
    r = post(buyer_api, url(funded, "cancellation-proposals", proposal["id"], "accept"))
    assert r.status_code == 403
    r = post(seller_api, url(funded, "cancellation-proposals", proposal["id"], "accept"))
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ACCEPTED"
    assert refresh(funded).status == EscrowStatus.CANCELLED
    assert wallet_balance(buyer, "USD") == 60_000 and wallet_balance(seller, "USD") == 40_000
    listed = buyer_api.get(url(funded, "cancellation-proposals")).json()["data"]
    assert [p["status"] for p in listed] == ["ACCEPTED"]
    assert_ledger_invariants()


def test_split_must_match_and_amounts_are_decimal_strings(funded, buyer_api):
    r = post(
        buyer_api, url(funded, "cancellation-proposals"), {"buyerAmount": "600.00", "sellerAmount": "300.00"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "split_mismatch"
    r = post(
        buyer_api, url(funded, "cancellation-proposals"), {"buyerAmount": 600.5, "sellerAmount": "399.50"}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "buyerAmount"
    r = post(
        buyer_api, url(funded, "cancellation-proposals"), {"buyerAmount": "600.001", "sellerAmount": "400"}
    )
    assert r.status_code == 400 and "decimal places" in r.json()["error"]["message"]
    r = post(
        buyer_api, url(funded, "cancellation-proposals"), {"buyerAmount": "-1", "sellerAmount": "1001.00"}
    )
    assert r.status_code == 400
    r = post(buyer_api, url(funded, "cancellation-proposals"), {"buyerAmount": "0", "sellerAmount": "1000"})
    assert r.status_code == 201
    assert CancellationProposal.objects.count() == 1


def test_decline_and_withdraw_proposals(funded, seller_api, buyer_api):
    pid = post(
        seller_api, url(funded, "cancellation-proposals"), {"buyerAmount": "1000", "sellerAmount": "0"}
    ).json()["id"]
    r = post(seller_api, url(funded, "cancellation-proposals", pid, "decline"))
    assert r.status_code == 403
    r = post(buyer_api, url(funded, "cancellation-proposals", pid, "decline"), {"reason": "I want the work"})
    assert r.status_code == 200 and r.json()["status"] == "DECLINED"
    pid = post(
        seller_api, url(funded, "cancellation-proposals"), {"buyerAmount": "1000", "sellerAmount": "0"}
    ).json()["id"]
    r = post(buyer_api, url(funded, "cancellation-proposals", pid, "withdraw"))
    assert r.status_code == 403
    r = post(seller_api, url(funded, "cancellation-proposals", pid, "withdraw"))
    assert r.status_code == 200 and r.json()["status"] == "WITHDRAWN"


def test_accept_is_idempotent(funded, seller_api, buyer_api):
    pid = post(
        seller_api, url(funded, "cancellation-proposals"), {"buyerAmount": "500", "sellerAmount": "500"}
    ).json()["id"]
    path = url(funded, "cancellation-proposals", pid, "accept")
    first = post(buyer_api, path, HTTP_IDEMPOTENCY_KEY="acc-1")
    again = post(buyer_api, path, HTTP_IDEMPOTENCY_KEY="acc-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert LedgerTransaction.objects.filter(kind="CANCELLATION").count() == 1


# -- BOLA: another customer's escrow, request or proposal is a 404 --------------------------------


def test_strangers_get_404_everywhere(funded, seller, buyer_api, seller_api, stranger_api):
    rid = post(buyer_api, url(funded, "refund-requests"), {"reason": "x"}).json()["id"]
    pid = post(
        seller_api, url(funded, "cancellation-proposals"), {"buyerAmount": "1000", "sellerAmount": "0"}
    ).json()["id"]
    first = milestones(funded)[0].public_id
    calls = [
        ("post", url(funded, "refunds"), {"milestoneIds": [first]}),
        ("post", url(funded, "refund-requests"), {"reason": "x"}),
        ("get", url(funded, "refund-requests"), None),
        ("post", url(funded, "refund-requests", rid, "accept"), {}),
        ("post", url(funded, "refund-requests", rid, "decline"), {"reason": "x"}),
        ("post", url(funded, "refund-requests", rid, "withdraw"), {}),
        ("post", url(funded, "cancellation-proposals"), {"buyerAmount": "1000", "sellerAmount": "0"}),
        ("get", url(funded, "cancellation-proposals"), None),
        ("post", url(funded, "cancellation-proposals", pid, "accept"), {}),
        ("post", url(funded, "cancellation-proposals", pid, "decline"), {}),
        ("post", url(funded, "cancellation-proposals", pid, "withdraw"), {}),
    ]
    for method, path, body in calls:
        r = (
            getattr(stranger_api, method)(path, body, format="json")
            if body is not None
            else stranger_api.get(path)
        )
        assert r.status_code == 404, (path, r.status_code)
        assert r.json()["error"]["code"] == "resource_missing"
    # A request id of another escrow, even one the caller is party to, is a 404 too.
    other = make_escrow(seller)
    r = post(seller_api, url(other, "refund-requests", rid, "accept"))
    assert r.status_code == 404
    r = post(seller_api, url(funded, "refund-requests", "rfq_nope", "accept"))
    assert r.status_code == 404
    assert RefundRequest.objects.get(public_id=rid).status == "REQUESTED"
    assert CancellationProposal.objects.get(public_id=pid).status == "PROPOSED"
