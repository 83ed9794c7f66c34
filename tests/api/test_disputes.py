"""/v1/escrows/{id}/disputes and /v1/escrows/{id}/evidence: shapes, errors in the
payment-intents envelope, BOLA (another customer's escrow or dispute is a 404), file hashing."""

import hashlib

import pytest
from rest_framework.test import APIClient

from escrows import services
from escrows.models import Dispute, DisputeStatus, MilestoneStatus
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


@pytest.fixture
def escrow(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    return escrow


def url(escrow, rest=""):
    return f"/v1/escrows/{escrow.public_id}/disputes{rest}"


def open_dispute(api, escrow, **body):
    body = {"milestoneId": milestones(escrow)[1].public_id, "reason": "Staging link broken", **body}
    return api.post(url(escrow), body, format="json")


def error(r, status_code, code=None):
    assert r.status_code == status_code, r.content
    err = r.json()["error"]
    assert set(err) >= {"code", "message", "type"}
    if code:
        assert err["code"] == code, err
    return err


def test_open_returns_the_dispute(buyer_api, escrow):
    r = open_dispute(
        buyer_api,
        escrow,
        evidenceText="Screenshot attached",
        evidenceUrl="https://example.com/s.png",
        defaultOutcome="split",
        defaultSellerAmount="100.00",
        defaultBuyerAmount="400.00",
        **{},
    )
    assert r.status_code == 201, r.json()
    d = r.json()
    assert d["id"].startswith("dsp_") and d["object"] == "dispute"
    assert (d["status"], d["openedBy"], d["amount"], d["currency"]) == ("OPEN", "buyer", "500.00", "USD")
    assert d["milestoneId"] == milestones(escrow)[1].public_id
    assert d["defaultOutcome"] == {"outcome": "split", "sellerAmount": "100.00", "buyerAmount": "400.00"}
    assert d["answer"] is None and d["resolution"] is None
    [ev] = d["evidence"]
    assert ev["url"] == "https://example.com/s.png" and ev["file"] is None and len(ev["textSha256"]) == 64
    assert milestones(escrow)[1].status == MilestoneStatus.DISPUTED
    listed = buyer_api.get(url(escrow)).json()
    assert listed["object"] == "list" and [x["id"] for x in listed["data"]] == [d["id"]]
    assert buyer_api.get(url(escrow, f"/{d['id']}")).json() == d


@pytest.mark.parametrize(
    "body, status_code, code, param",
    [
        ({"reason": ""}, 400, "invalid_request", "reason"),
        ({"milestoneId": None}, 400, "invalid_request", "milestoneId"),
        ({"defaultOutcome": "keep"}, 400, "invalid_request", "outcome"),
        (
            {"defaultOutcome": "split", "defaultSellerAmount": "1.00", "defaultBuyerAmount": "1.00"},
            400,
            "split_mismatch",
            None,
        ),
        ({"defaultSellerAmount": 1.5}, 400, "invalid_request", "defaultSellerAmount"),
        ({"evidenceUrl": "ftp://x"}, 400, "invalid_request", "url"),
        ({"surprise": 1}, 400, "invalid_request", "surprise"),
        ({"milestoneId": "milestone_nope"}, 404, "resource_missing", None),
    ],
)
def test_open_errors_change_nothing(buyer_api, escrow, body, status_code, code, param):
    before = ledger_fingerprint()
    err = error(open_dispute(buyer_api, escrow, **body), status_code, code)
    if param:
        assert err.get("param") == param
    assert ledger_fingerprint() == before and not Dispute.objects.exists()


def test_open_twice_is_invalid_state(buyer_api, seller_api, escrow):
    assert open_dispute(buyer_api, escrow).status_code == 201
    error(open_dispute(seller_api, escrow), 400, "already_disputed")


def test_bola_another_customers_escrow_and_dispute_are_404(buyer_api, stranger_api, seller, escrow, stranger):
    d = open_dispute(buyer_api, escrow).json()
    for r in (
        stranger_api.get(url(escrow)),
        stranger_api.get(url(escrow, f"/{d['id']}")),
        stranger_api.post(
            url(escrow), {"milestoneId": milestones(escrow)[0].public_id, "reason": "x"}, format="json"
        ),
        stranger_api.post(url(escrow, f"/{d['id']}/evidence"), {"text": "x"}, format="json"),
        stranger_api.post(url(escrow, f"/{d['id']}/answer"), {"answer": "accept"}, format="json"),
        stranger_api.post(url(escrow, f"/{d['id']}/withdraw"), {}, format="json"),
        stranger_api.post(url(escrow, f"/{d['id']}/resolve"), {"outcome": "refund"}, format="json"),
        stranger_api.get(f"/v1/escrows/{escrow.public_id}/evidence"),
    ):
        error(r, 404, "resource_missing")
    # A dispute id from another escrow is not found under this one.
    other = make_escrow(stranger)
    fund(other, seller)
    error(buyer_api.get(url(other, f"/{d['id']}")), 404)
    from tests.api.conftest import client_for

    error(client_for(seller).get(f"/v1/escrows/{other.public_id}/disputes/{d['id']}"), 404)
    assert refresh(Dispute.objects.get()).status == DisputeStatus.OPEN


def test_evidence_json_and_multipart_file_hashing(buyer_api, seller_api, escrow):
    d = open_dispute(buyer_api, escrow).json()
    r = seller_api.post(url(escrow, f"/{d['id']}/evidence"), {"text": "Delivered on time"}, format="json")
    assert r.status_code == 201, r.json()
    data = b"%PDF-1.4\nsigned delivery note\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("note.pdf", data, content_type="application/pdf")
    r = seller_api.post(
        url(escrow, f"/{d['id']}/evidence"), {"text": "The note", "file": upload}, format="multipart"
    )
    assert r.status_code == 201, r.json()
    files = [e["file"] for e in r.json()["evidence"] if e["file"]]
    assert files == [
        {
            "name": "note.pdf",
            "size": len(data),
            "contentType": "application/pdf",
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    ]
    assert [e["submittedBy"] for e in r.json()["evidence"]] == ["seller", "seller"]


def test_evidence_errors(buyer_api, escrow, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    d = open_dispute(buyer_api, escrow).json()
    ev = url(escrow, f"/{d['id']}/evidence")
    error(buyer_api.post(ev, {}, format="json"), 400, "invalid_request")
    error(buyer_api.post(ev, {"file": "abc"}, format="json"), 400, "invalid_request")
    exe = SimpleUploadedFile("x.exe", b"MZ\x90", content_type="application/x-msdownload")
    error(buyer_api.post(ev, {"file": exe}, format="multipart"), 400, "unsupported_file_type")
    settings.ESCROW_EVIDENCE_MAX_BYTES = 4
    big = SimpleUploadedFile("x.txt", b"12345", content_type="text/plain")
    error(buyer_api.post(ev, {"file": big}, format="multipart"), 400, "file_too_large")
    error(buyer_api.post(url(escrow, "/dsp_nope/evidence"), {"text": "x"}, format="json"), 404)


def test_answer_contest_then_staff_resolves_split(buyer_api, seller_api, escrow, admin_user, seller, buyer):
    d = open_dispute(buyer_api, escrow).json()
    error(
        buyer_api.post(url(escrow, f"/{d['id']}/answer"), {"answer": "contest"}, format="json"),
        403,
        "forbidden",
    )
    error(seller_api.post(url(escrow, f"/{d['id']}/answer"), {"answer": "maybe"}, format="json"), 400)
    r = seller_api.post(
        url(escrow, f"/{d['id']}/answer"), {"answer": "contest", "text": "It works"}, format="json"
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ANSWERED" and r.json()["answer"]["choice"] == "contest"
    # Customers (and their API keys) cannot resolve.
    error(seller_api.post(url(escrow, f"/{d['id']}/resolve"), {"outcome": "release"}, format="json"), 403)
    staff = APIClient()
    staff.force_login(admin_user)
    split = {"outcome": "split", "sellerAmount": "300.00", "buyerAmount": "100.00"}
    error(staff.post(url(escrow, f"/{d['id']}/resolve"), split, format="json"), 400, "split_mismatch")
    split["buyerAmount"] = "200.00"
    r = staff.post(url(escrow, f"/{d['id']}/resolve"), split, format="json")
    assert r.status_code == 200, r.json()
    res = r.json()["resolution"]
    assert (res["outcome"], res["sellerAmount"], res["buyerAmount"], res["resolvedBy"]) == (
        "split",
        "300.00",
        "200.00",
        "staff",
    )
    assert milestones(escrow)[1].status == MilestoneStatus.SPLIT
    error(staff.post(url(escrow, f"/{d['id']}/resolve"), split, format="json"), 400, "dispute_closed")
    assert_ledger_invariants()


def test_accept_refunds_and_withdraw(buyer_api, seller_api, escrow):
    d = open_dispute(buyer_api, escrow, defaultOutcome="refund").json()
    r = seller_api.post(url(escrow, f"/{d['id']}/answer"), {"answer": "accept"}, format="json")
    assert r.json()["status"] == "RESOLVED" and r.json()["resolution"]["outcome"] == "refund"
    d2 = open_dispute(seller_api, escrow, milestoneId=milestones(escrow)[0].public_id).json()
    error(buyer_api.post(url(escrow, f"/{d2['id']}/withdraw"), {}, format="json"), 403)
    r = seller_api.post(url(escrow, f"/{d2['id']}/withdraw"), {}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "WITHDRAWN"
    assert milestones(escrow)[0].status == MilestoneStatus.PENDING
    assert_ledger_invariants()


def test_accept_applies_the_split_the_opener_asked_for(buyer_api, seller_api, seller, buyer, escrow):
    d = open_dispute(
        buyer_api, escrow, defaultOutcome="split", defaultSellerAmount="200.00", defaultBuyerAmount="300.00"
    ).json()
    r = seller_api.post(url(escrow, f"/{d['id']}/answer"), {"answer": "accept"}, format="json")
    assert r.status_code == 200, r.content
    res = r.json()["resolution"]
    assert (res["outcome"], res["sellerAmount"], res["buyerAmount"]) == ("split", "200.00", "300.00")
    assert milestones(escrow)[1].status == MilestoneStatus.SPLIT
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (20_000, 30_000)
    assert_ledger_invariants()


def test_idempotency_key_replays_the_open(buyer_api, escrow):
    body = {"milestoneId": milestones(escrow)[0].public_id, "reason": "late"}
    first = buyer_api.post(url(escrow), body, format="json", HTTP_IDEMPOTENCY_KEY="dsp-1")
    again = buyer_api.post(url(escrow), body, format="json", HTTP_IDEMPOTENCY_KEY="dsp-1")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and Dispute.objects.count() == 1


def test_whole_escrow_dispute_of_a_standard_escrow(seller, buyer, buyer_api):
    std = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Bike", currency="USD", amount=10_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(std, buyer)
    r = buyer_api.post(url(std), {"reason": "Not as described"}, format="json")
    assert r.status_code == 201 and r.json()["milestoneId"] is None and r.json()["amount"] == "100.00"
    assert refresh(std).status == "DISPUTED"


def test_evidence_export(buyer_api, seller_api, escrow, admin_user):
    d = open_dispute(buyer_api, escrow, evidenceText="Broken link").json()
    for api in (buyer_api, seller_api):
        r = api.get(f"/v1/escrows/{escrow.public_id}/evidence")
        assert r.status_code == 200
    staff = APIClient()
    staff.force_login(admin_user)
    record = staff.get(f"/v1/escrows/{escrow.public_id}/evidence").json()
    assert record["object"] == "evidence_export" and len(record["recordSha256"]) == 64
    assert record["parties"]["seller"]["email"] == "seller@example.test"
    assert [m["status"] for m in record["milestones"]] == ["PENDING", "DISPUTED", "PENDING"]
    kinds = [e["type"] for e in record["events"]]
    assert kinds[:2] == ["escrow.created", "escrow.funded"]
    assert {"dispute.opened", "milestone.disputed", "dispute.evidence_added"} <= set(kinds)
    assert all(e["at"] and e["actor"]["kind"] for e in record["events"])
    [funding] = record["ledger"]
    assert funding["kind"] == "FUNDING" and {x["kind"] for x in funding["entries"]} >= {"ESCROW_HOLD"}
    [dispute] = record["disputes"]
    assert dispute["id"] == d["id"] and dispute["evidence"][0]["textSha256"]


def test_an_evidence_file_may_be_larger_than_other_bodies_but_is_capped(buyer_api, escrow, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    d = open_dispute(buyer_api, escrow).json()
    ev = url(escrow, f"/{d['id']}/evidence")
    data = b"x" * (4 * 1024 * 1024)  # above DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), below 5 MB
    r = buyer_api.post(
        ev, {"file": SimpleUploadedFile("big.txt", data, content_type="text/plain")}, format="multipart"
    )
    assert r.status_code == 201, r.content[:300]
    assert r.json()["evidence"][0]["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    settings.ESCROW_EVIDENCE_MAX_BYTES = 1024 * 1024
    r = buyer_api.post(
        ev, {"file": SimpleUploadedFile("big.txt", data, content_type="text/plain")}, format="multipart"
    )
    error(r, 413, "request_too_large")
    # JSON bodies keep the ordinary limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error(buyer_api.post(ev, {"text": "y" * 2000}, format="json"), 413)
