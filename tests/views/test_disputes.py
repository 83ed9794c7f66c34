"""Dispute pages: open (with a file), the dispute page for each viewer, answer (accepting asks
to confirm), withdraw, the staff resolution page (split amounts validated, a confirmation before
money moves), the evidence record (HTML and JSON), and 404s for everyone else."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from escrows import services
from escrows.models import Dispute, DisputeStatus, MilestoneStatus
from escrows.selectors import wallet_balance
from escrows.services import EvidenceInput
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.views.conftest import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_media")]


@pytest.fixture
def escrow(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    return escrow


@pytest.fixture
def staff_client(admin_user):
    return client_for(admin_user)


def dispute_url(dispute, name="dispute_detail", *extra):
    return reverse(name, args=[dispute.escrow.public_id, dispute.public_id, *extra])


def test_escrow_page_offers_a_dispute_per_milestone(escrow, buyer_client):
    html = buyer_client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    for m in milestones(escrow):
        assert f"?milestone={m.public_id}" in html
    assert "data-evidence-export" in html
    form = buyer_client.get(
        reverse("escrow_dispute", args=[escrow.public_id]) + f"?milestone={milestones(escrow)[1].public_id}"
    ).content.decode()
    assert "Dispute “Stage 1” (500.00 USD)" in form and 'enctype="multipart/form-data"' in form


def test_open_with_a_file_then_the_page_shows_everything(escrow, buyer_client, seller_client):
    data = b"photo bytes"
    second = milestones(escrow)[1]
    response = buyer_client.post(
        reverse("escrow_dispute", args=[escrow.public_id]),
        {
            "milestone": second.public_id,
            "reason": "Colours are wrong",
            "evidence_text": "See the photo",
            "evidence_file": SimpleUploadedFile("photo.png", data, content_type="image/png"),
            "default_outcome": "refund",
        },
    )
    dispute = Dispute.objects.get()
    assert response["Location"] == dispute_url(dispute)
    assert refresh(second).status == MilestoneStatus.DISPUTED
    assert (dispute.default_outcome, dispute.default_buyer_amount) == ("refund", 50_000)
    for client in (buyer_client, seller_client):
        html = client.get(dispute_url(dispute)).content.decode()
        assert "Colours are wrong" in html and "See the photo" in html
        assert hashlib.sha256(data).hexdigest() in html
        assert "data-deadline" in html and "Refund to the buyer: seller 0.00 USD, buyer 500.00 USD" in html
    evidence = dispute.evidence.get()
    download = seller_client.get(dispute_url(dispute, "dispute_evidence_file", evidence.public_id))
    assert download.status_code == 200 and b"".join(download.streaming_content) == data
    assert (
        download["Content-Disposition"].startswith("attachment")
        and download["X-Content-Type-Options"] == "nosniff"
    )
    seller_html = seller_client.get(dispute_url(dispute)).content.decode()
    assert "data-answer-box" in seller_html and 'data-action="withdraw"' not in seller_html
    buyer_html = buyer_client.get(dispute_url(dispute)).content.decode()
    assert "data-answer-box" not in buyer_html and 'data-action="withdraw"' in buyer_html


def test_open_refused_goes_back_with_the_reason(escrow, buyer, buyer_client):
    first = milestones(escrow)[0]
    services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="x")
    response = buyer_client.post(
        reverse("escrow_dispute", args=[escrow.public_id]),
        {"milestone": first.public_id, "reason": "again", "default_outcome": "split"},
        follow=True,
    )
    assert "already disputed" in response.content.decode()
    assert Dispute.objects.count() == 1


def test_strangers_get_404_everywhere(escrow, buyer, stranger_client):
    dispute = services.dispute_open(
        escrow=escrow,
        milestone=milestones(escrow)[0],
        by=buyer,
        reason="x",
        evidence=EvidenceInput(file=SimpleUploadedFile("a.txt", b"a", content_type="text/plain")),
    )
    evidence = dispute.evidence.get()
    before = ledger_fingerprint()
    for url in (
        dispute_url(dispute),
        dispute_url(dispute, "dispute_evidence_file", evidence.public_id),
        dispute_url(dispute, "dispute_resolve"),
        reverse("evidence_export", args=[escrow.public_id]),
        reverse("evidence_export_json", args=[escrow.public_id]),
        reverse("staff_disputes"),
    ):
        assert stranger_client.get(url).status_code == 404, url
    for name in ("dispute_add_evidence", "dispute_answer", "dispute_withdraw", "dispute_resolve"):
        assert (
            stranger_client.post(
                dispute_url(dispute, name),
                {"answer": "accept", "outcome": "refund", "confirmed": "1", "evidence_text": "x"},
            ).status_code
            == 404
        )
    assert ledger_fingerprint() == before


def test_add_evidence_answer_contest_and_withdraw(escrow, buyer, seller_client, buyer_client):
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[0], by=buyer, reason="x")
    seller_client.post(
        dispute_url(dispute, "dispute_add_evidence"),
        {
            "evidence_text": "Sent on Monday",
            "evidence_file": SimpleUploadedFile("log.txt", b"log", content_type="text/plain"),
        },
    )
    assert dispute.evidence.get().submitter_role == "seller"
    seller_client.post(dispute_url(dispute, "dispute_answer"), {"answer": "contest", "text": "Delivered"})
    assert refresh(dispute).status == DisputeStatus.ANSWERED
    buyer_client.post(dispute_url(dispute, "dispute_withdraw"))
    assert refresh(dispute).status == DisputeStatus.WITHDRAWN
    assert refresh(milestones(escrow)[0]).status == MilestoneStatus.PENDING


def test_accepting_asks_to_confirm_before_money_moves(escrow, buyer, seller_client):
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="x")
    before = ledger_fingerprint()
    confirm = seller_client.post(dispute_url(dispute, "dispute_answer"), {"answer": "accept", "text": "ok"})
    assert confirm.status_code == 200
    assert "send 500.00 USD to the buyer?" in confirm.content.decode()
    assert ledger_fingerprint() == before
    seller_client.post(
        dispute_url(dispute, "dispute_answer"), {"answer": "accept", "text": "ok", "confirmed": "1"}
    )
    assert refresh(dispute).status == DisputeStatus.RESOLVED
    assert wallet_balance(buyer, "USD") == 50_000
    assert_ledger_invariants()


def test_staff_page_validates_the_split_and_confirms(escrow, buyer, seller, staff_client, seller_client):
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="x")
    assert seller_client.get(dispute_url(dispute, "dispute_resolve")).status_code == 404
    assert (
        seller_client.post(
            dispute_url(dispute, "dispute_resolve"), {"outcome": "release", "confirmed": "1"}
        ).status_code
        == 404
    )
    queue = staff_client.get(reverse("staff_disputes")).content.decode()
    assert dispute_url(dispute, "dispute_resolve") in queue
    assert "Resolve (staff)" in staff_client.get(dispute_url(dispute)).content.decode()
    before = ledger_fingerprint()
    bad = staff_client.post(
        dispute_url(dispute, "dispute_resolve"),
        {"outcome": "split", "seller_amount": "300.00", "buyer_amount": "100.00"},
    )
    assert bad.status_code == 400 and "must add up" in bad.content.decode()
    confirm = staff_client.post(
        dispute_url(dispute, "dispute_resolve"),
        {"outcome": "split", "seller_amount": "300.00", "buyer_amount": "200.00", "note": "Half done"},
    )
    assert "300.00 USD to the seller, 200.00 USD to the buyer?" in confirm.content.decode()
    assert ledger_fingerprint() == before
    done = staff_client.post(
        dispute_url(dispute, "dispute_resolve"),
        {
            "outcome": "split",
            "seller_amount": "300.00",
            "buyer_amount": "200.00",
            "note": "Half done",
            "confirmed": "1",
        },
    )
    assert done["Location"] == dispute_url(dispute)
    assert refresh(milestones(escrow)[1]).status == MilestoneStatus.SPLIT
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (30_000, 20_000)
    for client in (seller_client, client_for(buyer)):
        html = client.get(dispute_url(dispute)).content.decode()
        assert "Split between them: seller 300.00 USD, buyer 200.00 USD" in html and "Half done" in html
    assert_ledger_invariants()


def test_evidence_record_html_and_json(escrow, buyer, buyer_client, seller_client, staff_client):
    data = b"%PDF-1.4"
    services.dispute_open(
        escrow=escrow,
        milestone=milestones(escrow)[0],
        by=buyer,
        reason="Late",
        evidence=EvidenceInput(
            text="see", file=SimpleUploadedFile("a.pdf", data, content_type="application/pdf")
        ),
    )
    digest = hashlib.sha256(data).hexdigest()
    for client in (buyer_client, seller_client, staff_client):
        html = client.get(reverse("evidence_export", args=[escrow.public_id])).content.decode()
        assert (
            digest in html
            and "Dispute opened" in html
            and "Escrow funded" in html
            and "seller@example.test" in html
        )
        response = client.get(reverse("evidence_export_json", args=[escrow.public_id]))
        record = json.loads(response.content)
        assert response["Content-Disposition"].startswith("attachment")
        assert record["disputes"][0]["evidence"][0]["file"]["sha256"] == digest


def test_an_oversized_upload_is_refused_by_its_declared_size(escrow, buyer, buyer_client, settings):
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[0], by=buyer, reason="x")
    settings.ESCROW_EVIDENCE_MAX_BYTES = 1024
    big = SimpleUploadedFile("big.txt", b"x" * 200_000, content_type="text/plain")
    response = buyer_client.post(
        dispute_url(dispute, "dispute_add_evidence"), {"evidence_file": big}, follow=True
    )
    assert "larger than" in response.content.decode()
    assert not dispute.evidence.exists()
