"""Request changes on the pages: the buyer's "Request changes" on a delivered stage (a plain form:
it works without JavaScript), a refusal shown on the form with the note kept, the stage's rounds
and latest note for both parties, the seller delivering again, and the history in words on the
timeline, the evidence record and the admin."""

import html as entities
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from escrows import services
from escrows.models import CHANGES_NOTE_MAX, Event, MilestoneStatus
from tests.helpers import ledger_fingerprint, milestones, refresh

pytestmark = pytest.mark.django_db


def detail(escrow):
    return reverse("escrow_detail", args=[escrow.public_id])


def send_back(m):
    return reverse("milestone_request_changes", args=[m.escrow.public_id, m.public_id])


def html_of(response, status=200):
    assert response.status_code == status, response.status_code
    return response.content.decode()


def text(html):
    """What a person reads: the page without its tags and attributes."""
    return " ".join(entities.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_only_the_buyer_gets_the_form_and_only_on_the_delivered_stage(delivered, buyer_client, seller_client):
    html = html_of(buyer_client.get(detail(delivered.escrow)))
    assert html.count('data-action="request-changes"') == 1
    assert f'action="{send_back(delivered)}"' in html
    assert 'name="note"' in html and f'maxlength="{CHANGES_NOTE_MAX}"' in html
    assert 'data-action="request-changes"' not in html_of(seller_client.get(detail(delivered.escrow)))


def test_a_plain_form_post_sends_the_stage_back(delivered, seller, buyer_client, seller_client):
    before = ledger_fingerprint()[:4]
    response = buyer_client.post(send_back(delivered), {"note": "The footer links are broken."})
    assert response.status_code == 302
    assert response["Location"] == f"{detail(delivered.escrow)}#stage-1"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Sent “Stage 0” back to {seller.display_name} for changes (round 1). Its review period has stopped; "
        "a new one starts when it is delivered again."
    ]
    m = refresh(delivered)
    assert (m.status, m.changes_requested_count, m.changes_requested_note) == (
        MilestoneStatus.PENDING,
        1,
        "The footer links are broken.",
    )
    assert ledger_fingerprint()[:4] == before
    # Both parties read the round and the note on the stage; the clock is gone.
    buyer_page = text(html_of(buyer_client.get(detail(delivered.escrow))))
    assert "Changes requested (round 1)" in buyer_page and "The footer links are broken." in buyer_page
    assert "waiting for the seller to deliver again" in buyer_page
    assert "Releases automatically" not in buyer_page and "Request changes" not in buyer_page
    seller_html = html_of(seller_client.get(detail(delivered.escrow)))
    seller_page = text(seller_html)
    assert "Changes requested (round 1)" in seller_page and "The footer links are broken." in seller_page
    assert "deliver it again when it is done" in seller_page and "Deliver again" in seller_page
    assert 'data-changes-requested="1"' in seller_html


def test_the_seller_delivers_again_and_a_new_review_starts(delivered, buyer, seller_client):
    services.milestone_request_changes(milestone=delivered, by=buyer, note="Fix the footer")
    deliver = reverse("milestone_deliver", args=[delivered.escrow.public_id, delivered.public_id])
    assert seller_client.post(deliver, {"proof": "Footer fixed"}).status_code == 302
    m = refresh(delivered)
    assert (m.status, m.completion_proof) == (MilestoneStatus.COMPLETED, "Footer fixed")
    assert m.review_deadline == m.completed_at + m.escrow.inspection_period
    page = text(html_of(seller_client.get(detail(delivered.escrow))))
    # The rounds stay on the stage after it is delivered again.
    assert "Changes requested (round 1)" in page and "Fix the footer" in page
    assert "Releases automatically on" in page


@pytest.mark.parametrize(
    ("note", "error"),
    [
        ("   ", "Say what needs to change"),
        ("z" * (CHANGES_NOTE_MAX + 1), "The note is too long: at most 2,000 characters"),
    ],
)
def test_a_bad_note_is_shown_on_the_form_and_kept(delivered, buyer_client, note, error):
    before = ledger_fingerprint(), Event.objects.count()
    html = html_of(buyer_client.post(send_back(delivered), {"note": note}), status=400)
    assert error in text(html)
    assert f"\n{note}</textarea>" in html  # what was typed, kept
    assert (ledger_fingerprint(), Event.objects.count()) == before
    assert refresh(delivered).status == MilestoneStatus.COMPLETED


def test_a_stage_no_longer_delivered_says_so_and_keeps_the_note(delivered, buyer, buyer_client):
    # A second tab: the stage was sent back meanwhile.
    services.milestone_request_changes(milestone=delivered, by=buyer, note="First tab")
    html = html_of(buyer_client.post(send_back(delivered), {"note": "Second tab"}), status=400)
    refusal = "Only a delivered milestone that is waiting for your review can be sent back for changes"
    assert refusal in text(html)
    assert "\nSecond tab</textarea>" in html
    assert refresh(delivered).changes_requested_count == 1


def test_the_form_page_works_alone_for_the_buyer_only(
    delivered, buyer_client, seller_client, stranger_client
):
    html = html_of(buyer_client.get(send_back(delivered)))
    assert "Send “Stage 0” back for changes" in text(html)
    assert "Its 300.00 USD stays held: nothing is paid or refunded." in text(html)
    refused = seller_client.get(send_back(delivered))
    assert refused.status_code == 302
    assert [str(m) for m in get_messages(refused.wsgi_request)] == [
        "This stage cannot be sent back for changes by you now."
    ]
    assert stranger_client.get(send_back(delivered)).status_code == 404
    assert stranger_client.post(send_back(delivered), {"note": "x"}).status_code == 404


def test_the_seller_posting_is_refused_and_nothing_changes(delivered, seller_client):
    before = ledger_fingerprint(), Event.objects.count()
    html = html_of(seller_client.post(send_back(delivered), {"note": "Mine"}), status=400)
    assert "Only the buyer can request changes to a delivered milestone" in text(html)
    assert (ledger_fingerprint(), Event.objects.count()) == before


def test_an_undelivered_stage_offers_no_form(funded, buyer_client):
    second = milestones(funded)[1]
    assert 'data-action="request-changes"' not in html_of(buyer_client.get(detail(funded)))
    assert buyer_client.get(send_back(second)).status_code == 302


def test_the_timeline_and_the_evidence_record_say_it_in_words(delivered, buyer, buyer_client, seller_client):
    services.milestone_request_changes(milestone=delivered, by=buyer, note="Bigger buttons")
    timeline = text(html_of(seller_client.get(detail(delivered.escrow))))
    assert f"Sent back for changes · Stage 0 by {buyer.display_name}" in timeline
    assert "Round 1: back in progress until the seller delivers again." in timeline
    assert "“Bigger buttons”" in timeline
    html = html_of(buyer_client.get(reverse("evidence_export", args=[delivered.escrow.public_id])))
    record = text(html[html.index("data-evidence-record") : html.rindex("</article>")])
    assert "Sent back for changes · Stage 0" in record
    assert "“Bigger buttons”" in record and "Round: 1" in record and "Requested by: the buyer" in record
    assert "Delivery note: done" in record
    assert "milestone_" not in record.split("Sent back for changes", 1)[1].split("Marked delivered", 1)[0]


def test_admin_shows_the_rounds_read_only(delivered, buyer, admin_user):
    services.milestone_request_changes(milestone=delivered, by=buyer, note="Admin can read this")
    client = Client()
    client.force_login(admin_user)
    html = html_of(client.get(reverse("admin:escrows_escrow_change", args=[delivered.escrow.pk])))
    assert "Admin can read this" in html and "Changes requested count" in html
    assert 'name="milestones-0-changes_requested_note"' not in html
    listing = html_of(client.get(reverse("admin:escrows_milestone_changelist")))
    assert "Changes requested count" in listing
