"""The escrow's history as a person reads it: the timeline names no internal ids, says who
proposed and who accepted a mutual cancellation from each reader's side, and explains a closed
escrow that moved money both ways; the evidence record names staff only as Milestone Escrow
staff and shows details as labelled money, never Python dicts or minor units."""

import html as entities
import re

import pytest
from django.urls import reverse

from escrows import services
from escrows.services import EvidenceInput
from tests.helpers import fund, make_escrow, milestones, refresh
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db


def page(client, escrow):
    return client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()


def text(html):
    """What a person reads: the page without its tags and attributes."""
    return entities.unescape(re.sub(r"<[^>]+>", " ", html))


def record(client, escrow):
    """The evidence record itself, without the site's header and footer."""
    html = client.get(reverse("evidence_export", args=[escrow.public_id])).content.decode()
    return html[html.index("data-evidence-record") : html.rindex("</article>")]


@pytest.fixture
def cancelled(seller, buyer):
    """The buyer proposes to cancel, 600.00 back to them and 400.00 to the seller; the seller
    accepts."""
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    return refresh(escrow)


def test_each_party_reads_who_proposed_and_who_accepted(
    cancelled, seller, buyer, seller_client, buyer_client
):
    for client, proposer, accepter in (
        (seller_client, buyer.display_name, "you"),
        (buyer_client, "you", seller.display_name),
    ):
        html = page(client, cancelled)
        assert "Escrow closed by mutual cancellation" in html
        assert f"proposed by {proposer}, accepted by {accepter}" in html
        assert "As agreed: 400.00 USD to the seller, 600.00 USD back to the buyer." in html
        assert "Escrow cancelled</strong>" not in html
    assert "cancelled by you" not in page(buyer_client, cancelled).lower()


def test_a_closed_escrow_says_why_it_reads_as_it_does(cancelled, buyer_client):
    html = page(buyer_client, cancelled)
    assert (
        "400.00 USD released to the seller, 600.00 USD refunded to the buyer. It reads “Cancelled” "
        "because both parties agreed to end it and split what was held."
    ) in html


def test_completed_after_a_refund_is_explained(seller, buyer, seller_client):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[third])
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    html = page(seller_client, escrow)
    assert (
        "800.00 USD released to the seller, 200.00 USD refunded to the buyer. "
        "It reads “Completed” because it ended with a payment to the seller."
    ) in html
    dashboard = seller_client.get(reverse("dashboard")).content.decode()
    assert "800.00 USD released · 200.00 USD refunded" in dashboard


def test_a_refund_request_is_told_in_words_not_ids(seller, buyer, seller_client, buyer_client):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    request = services.refund_request_create(
        escrow=escrow, by=buyer, reason="Not needed any more", milestones=[milestones(escrow)[2]]
    )
    services.refund_request_accept(refund_request=request, by=seller)
    for client in (seller_client, buyer_client):
        html = page(client, escrow)
        assert request.public_id not in text(html) and "rfq_" not in text(html)
        assert "At the buyer's refund request, accepted by the seller." in text(html)
        assert "“Not needed any more”" in text(html)


@pytest.fixture
def ruled(settings, tmp_path, seller, buyer, admin_user):
    settings.MEDIA_ROOT = str(tmp_path)
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    dispute = services.dispute_open(
        escrow=escrow,
        milestone=milestones(escrow)[0],
        by=buyer,
        reason="Late",
        evidence=EvidenceInput(text="No build"),
    )
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=10_000, buyer_amount=20_000
    )
    return refresh(escrow)


def test_the_evidence_record_names_staff_only_as_staff(ruled, admin_user, buyer_client, seller_client):
    for client in (buyer_client, seller_client):
        html = record(client, ruled)
        assert "Milestone Escrow staff" in html
        assert admin_user.email not in html and admin_user.display_name not in html
        assert admin_user.customer_id not in html
        assert "{'" not in html and "minor units" not in html.lower()
        assert "Charged: " in html and "To the seller: 100.00 USD" in html
        assert "Held in this escrow: 1,000.00 USD" in html
    json_record = buyer_client.get(reverse("evidence_export_json", args=[ruled.public_id])).json()
    staff_events = [e for e in json_record["events"] if e["actor"]["kind"] == "staff"]
    assert staff_events and all(
        e["actor"] == {"kind": "staff", "id": None, "name": "Milestone Escrow staff"} for e in staff_events
    )
    assert admin_user.email not in str(json_record)


def test_staff_reading_the_record_see_the_same_words(ruled, admin_user):
    html = record(client_for(admin_user), ruled)
    assert "Milestone Escrow staff" in html and admin_user.email not in html


def test_the_timeline_names_staff_as_staff(ruled, admin_user, buyer_client):
    html = page(buyer_client, ruled)
    assert "by Milestone Escrow staff" in html and admin_user.display_name not in html
