"""Dispute pages: open (a confirmation first; files go on the dispute page), the dispute page for
each viewer, answer (accepting asks to confirm), withdraw (a confirmation first), the staff
resolution page (split amounts validated, a confirmation before
money moves), the evidence record (HTML and JSON), and 404s for everyone else."""

import hashlib
import json
import re
from html import unescape

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


def test_escrow_page_offers_disputes_without_a_link_on_every_stage(escrow, buyer_client, seller):
    detail = reverse("escrow_detail", args=[escrow.public_id])
    html = buyer_client.get(detail).content.decode()
    # Freshly funded: nothing delivered, so one quiet "Open a dispute" link under the stages.
    assert html.count('data-action="dispute-stage"') == 1
    assert 'data-action="dispute"' not in html
    assert "data-evidence-export" in html
    form = buyer_client.get(reverse("escrow_dispute", args=[escrow.public_id])).content.decode()
    assert all(f'value="{m.public_id}"' in form for m in milestones(escrow))  # it asks which stage
    # A delivered stage gets its own (secondary) link.
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    html = buyer_client.get(detail).content.decode()
    assert f'?milestone={first.public_id}" data-action="dispute"' in html
    form = buyer_client.get(
        reverse("escrow_dispute", args=[escrow.public_id]) + f"?milestone={milestones(escrow)[1].public_id}"
    ).content.decode()
    assert "Dispute “Stage 1” (500.00 USD)" in form
    assert "If they contest, an arbiter (our staff) reads both sides and decides." in form


def open_form(milestone, **fields):
    return {
        "milestone": milestone.public_id,
        "reason": "Colours are wrong",
        "default_outcome": "refund",
        **fields,
    }


def test_opening_shows_what_happens_first_then_files_go_on_the_dispute_page(
    escrow, buyer_client, seller_client
):
    second = milestones(escrow)[1]
    url = reverse("escrow_dispute", args=[escrow.public_id])
    before = ledger_fingerprint()
    confirm = buyer_client.post(url, open_form(second, evidence_text="See the photo"))
    assert confirm.status_code == 200 and not Dispute.objects.exists()
    assert ledger_fingerprint() == before
    html = unescape(confirm.content.decode())
    assert "Open a dispute about stage 2, “Stage 1” and freeze 500.00 USD?" in html
    assert "You ask for: 500.00 USD back to the buyer." in html
    assert "If they contest, an arbiter (our staff) reviews both sides and decides." in html
    assert 'name="reason" value="Colours are wrong"' in html and 'name="confirmed" value="1"' in html
    assert "minor units" not in html
    # "Change what I wrote" goes back to the form with everything typed.
    back = buyer_client.post(url, {**open_form(second, evidence_text="See the photo"), "edit": "1"})
    assert back.status_code == 200 and not Dispute.objects.exists()
    assert "Colours are wrong</textarea>" in back.content.decode()
    response = buyer_client.post(url, open_form(second, evidence_text="See the photo", confirmed="1"))
    dispute = Dispute.objects.get()
    assert response["Location"] == dispute_url(dispute)
    assert refresh(second).status == MilestoneStatus.DISPUTED
    assert (dispute.default_outcome, dispute.default_buyer_amount) == ("refund", 50_000)
    data = b"photo bytes"
    buyer_client.post(
        dispute_url(dispute, "dispute_add_evidence"),
        {"evidence_file": SimpleUploadedFile("photo.png", data, content_type="image/png")},
    )
    for client in (buyer_client, seller_client):
        html = client.get(dispute_url(dispute)).content.decode()
        assert "Colours are wrong" in html and "See the photo" in html
        assert hashlib.sha256(data).hexdigest() in html
        assert "data-deadline" in html and "Refund to the buyer: seller 0.00 USD, buyer 500.00 USD" in html
        assert "If they have not answered by then, the buyer&#x27;s request applies" in html
    evidence = dispute.evidence.exclude(file="").get()
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


@pytest.mark.parametrize(
    "seller_amount, buyer_amount, field, message",
    [
        (
            "300.00",
            "300.00",
            "default_seller_amount",
            "The split must add up to the disputed amount, 500.00 USD: 300.00 USD + 300.00 USD is 600.00 USD",
        ),
        ("300.00", "", "default_buyer_amount", None),  # its words: the form's wording, owned there
    ],
)
def test_a_wrong_split_keeps_everything_typed_and_speaks_in_the_currency(
    escrow, buyer_client, seller_amount, buyer_amount, field, message
):
    second = milestones(escrow)[1]
    typed = open_form(
        second,
        reason="Only half of it works",
        evidence_text="The checkout fails",
        evidence_url="https://example.test/bug",
        default_outcome="split",
        default_seller_amount=seller_amount,
        default_buyer_amount=buyer_amount,
    )
    for step in ({}, {"confirmed": "1"}):
        response = buyer_client.post(reverse("escrow_dispute", args=[escrow.public_id]), {**typed, **step})
        assert response.status_code == 400 and not Dispute.objects.exists()
        html = response.content.decode()
        assert "minor units" not in html and "sellerAmount" not in html and "buyerAmount" not in html
        form = response.context["form"]
        assert list(form.errors) == [field], "the message is on the field it is about"
        if message is not None:
            assert form.errors[field] == [message] and unescape(message) in unescape(html)
        assert "Only half of it works</textarea>" in html and "The checkout fails</textarea>" in html
        assert 'value="https://example.test/bug"' in html
        assert f'value="{seller_amount}"' in html
        assert re.search(r'value="split"[^>]*checked|checked[^>]*value="split"', html)


def test_open_refused_keeps_what_was_typed_with_the_reason(escrow, buyer, buyer_client):
    first = milestones(escrow)[0]
    services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="x")
    response = buyer_client.post(
        reverse("escrow_dispute", args=[escrow.public_id]),
        {"milestone": first.public_id, "reason": "again", "default_outcome": "split", "confirmed": "1"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This milestone is already disputed" in html and "again</textarea>" in html
    assert Dispute.objects.count() == 1


def test_withdrawing_asks_first(escrow, buyer, buyer_client, seller_client):
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="x")
    url = dispute_url(dispute, "dispute_withdraw")
    page = buyer_client.get(dispute_url(dispute)).content.decode()
    outside = re.sub(r"<dialog.*?</dialog>", "", page, flags=re.S)
    assert f'action="{url}"' not in outside and f'href="{url}"' in outside
    assert re.search(r'<dialog id="confirm-withdraw-[^"]+"', page)
    confirm = buyer_client.get(url)
    assert confirm.status_code == 200 and refresh(dispute).status == DisputeStatus.OPEN
    assert "500.00 USD is no longer frozen" in confirm.content.decode()
    assert seller_client.get(url)["Location"] == dispute_url(dispute), "only the opener may withdraw"
    buyer_client.post(url)
    assert refresh(dispute).status == DisputeStatus.WITHDRAWN


def test_a_contested_dispute_says_an_arbiter_decides(escrow, buyer, seller, buyer_client):
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="x")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest")
    html = unescape(buyer_client.get(dispute_url(dispute)).content.decode())
    assert "The seller contested it, so an arbiter decides: nothing moves by itself." in html
    assert "Contested: an arbiter decides" in html and "Answer due" not in html


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


def test_accepting_asks_to_confirm_what_the_opener_asked_for_before_money_moves(
    escrow, buyer, seller, seller_client
):
    dispute = services.dispute_open(
        escrow=escrow,
        milestone=milestones(escrow)[1],
        by=buyer,
        reason="x",
        default_outcome="split",
        default_seller_amount=20_000,
        default_buyer_amount=30_000,
    )
    page = seller_client.get(dispute_url(dispute, "dispute_detail")).content.decode()
    assert (
        "Accepting settles it now with what the buyer asked for: "
        "200.00 USD to the seller and 300.00 USD back to the buyer." in page
    )
    before = ledger_fingerprint()
    confirm = seller_client.post(dispute_url(dispute, "dispute_answer"), {"answer": "accept", "text": "ok"})
    assert confirm.status_code == 200
    assert (
        "Accept the claim: 200.00 USD to the seller and 300.00 USD back to the buyer?"
        in confirm.content.decode()
    )
    assert ledger_fingerprint() == before
    done = seller_client.post(
        dispute_url(dispute, "dispute_answer"),
        {"answer": "accept", "text": "ok", "confirmed": "1"},
        follow=True,
    )
    assert (
        "Claim accepted; the dispute is settled: 200.00 USD to the seller and 300.00 USD back to the buyer."
        in done.content.decode()
    )
    assert refresh(dispute).status == DisputeStatus.RESOLVED
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (20_000, 30_000)
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
