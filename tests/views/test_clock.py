"""Pages of the review clock (deadline, countdown, the buyer's one extension) and of the fee
quote on the create form (htmx partial and the no-JavaScript "Preview fees" button)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from escrows import services
from escrows.models import Escrow, Event
from tests.helpers import ledger_fingerprint, make_escrow, refresh
from tests.views.test_escrow_pages import form_data

pytestmark = pytest.mark.django_db


def detail(escrow):
    return reverse("escrow_detail", args=[escrow.public_id])


def extend(m):
    return reverse("milestone_extend_review", args=[m.escrow.public_id, m.public_id])


def html_of(response):
    assert response.status_code == 200
    return response.content.decode()


def test_deadline_and_countdown_are_shown_to_both_parties(delivered, buyer_client, seller_client):
    when = delivered.review_deadline.strftime("%-d %b %Y")
    buyer_html = html_of(buyer_client.get(detail(delivered.escrow)))
    assert "Releases automatically on" in buyer_html and "unless you confirm or dispute it" in buyer_html
    assert when in buyer_html and "left to review" in buyer_html
    assert f'data-review-deadline="{delivered.review_deadline.isoformat()}"' in buyer_html
    seller_html = html_of(seller_client.get(detail(delivered.escrow)))
    assert "unless the buyer confirms or disputes it" in seller_html and when in seller_html
    # Only the delivered stage has a clock.
    assert buyer_html.count("data-review-deadline") == 1


def test_extend_button_only_for_the_buyer_and_only_once(delivered, buyer, buyer_client, seller_client):
    assert 'data-action="extend-review"' in html_of(buyer_client.get(detail(delivered.escrow)))
    assert "Extend review by 7 days" in html_of(buyer_client.get(detail(delivered.escrow)))
    assert 'data-action="extend-review"' not in html_of(seller_client.get(detail(delivered.escrow)))
    confirm = html_of(buyer_client.get(extend(delivered)))
    assert "data-confirm-extend" in confirm and "You can extend only once" in confirm
    response = buyer_client.post(extend(delivered), follow=True)
    html = html_of(response)
    assert "extended by 7 days" in html
    assert 'data-action="extend-review"' not in html and "Extended once." in html
    assert refresh(delivered).review_deadline == delivered.review_deadline + timedelta(days=7)
    # A second try (a stale tab) is refused with a message and changes nothing.
    before = refresh(delivered).review_deadline
    html = html_of(buyer_client.post(extend(delivered), follow=True))
    assert "already extended once" in html
    assert refresh(delivered).review_deadline == before
    assert buyer_client.get(extend(delivered)).status_code == 302


def test_seller_and_stranger_cannot_extend(delivered, seller_client, stranger_client):
    before = ledger_fingerprint(), Event.objects.count()
    html = html_of(seller_client.post(extend(delivered), follow=True))
    assert "Only the buyer can extend the review period" in html
    assert stranger_client.post(extend(delivered)).status_code == 404
    assert stranger_client.get(extend(delivered)).status_code == 404
    assert (ledger_fingerprint(), Event.objects.count()) == before
    assert refresh(delivered).review_extended_at is None


def test_timeline_and_dashboard_show_the_review_clock(delivered, buyer, buyer_client):
    services.milestone_review_extend(milestone=delivered, by=buyer)
    assert "Review extended" in html_of(buyer_client.get(detail(delivered.escrow)))
    dashboard = html_of(buyer_client.get(reverse("dashboard") + "?tab=buying"))
    assert "Review ends in" in dashboard


def test_escrow_page_shows_the_fee_schedule_version(seller, seller_client):
    escrow = make_escrow(seller)
    assert f"<code>{escrow.fee_schedule_version}</code>" in html_of(seller_client.get(detail(escrow)))


# -- fee quote on the create form ------------------------------------------------------------------


def test_htmx_quote_lists_each_stage_net(seller_client):
    html = html_of(seller_client.get(reverse("fee_quote"), form_data("1000.00", ["300.00", "700.00"])))
    assert "data-fee>15.00 USD" in html and "data-total>1,015.00 USD" in html
    assert html.count("<tr data-quote-row>") == 2 and "data-net>700.00 USD" in html
    assert "2026-11-v1" in html


def test_htmx_quote_explains_what_is_missing(seller_client):
    html = html_of(seller_client.get(reverse("fee_quote"), form_data("1000.00", ["300.00"])))
    assert "data-total>1,015.00 USD" in html
    assert "A milestone escrow needs at least 2 milestones" in html
    html = html_of(seller_client.get(reverse("fee_quote"), form_data("1000.00", ["300.00", "600.00"])))
    assert "Milestone amounts must sum to the escrow amount" in html
    html = html_of(seller_client.get(reverse("fee_quote"), {"amount": "abc"}))
    assert "Enter an amount to see the fee" in html


def test_preview_fees_without_javascript_creates_nothing(seller_client):
    response = seller_client.post(
        reverse("escrow_new"), form_data("1000.00", ["300.00", "700.00"], preview="1")
    )
    html = html_of(response)
    assert Escrow.objects.count() == 0
    assert "data-net>300.00 USD" in html and "data-total>1,015.00 USD" in html
    assert 'value="Logo design"' in html  # the form keeps what was typed


def test_create_form_shows_the_quote_after_a_validation_error(seller_client):
    html = html_of(seller_client.post(reverse("escrow_new"), form_data("1000.00", ["300.00", "600.00"])))
    assert Escrow.objects.count() == 0
    assert "data-total>1,015.00 USD" in html


def test_edit_form_quotes_the_stored_milestones(seller, seller_client):
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    html = html_of(seller_client.get(reverse("escrow_edit", args=[escrow.public_id])))
    assert html.count("<tr data-quote-row>") == 2


def test_admin_shows_the_review_clock_read_only(delivered, admin_user):
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    html = html_of(client.get(reverse("admin:escrows_milestone_change", args=[delivered.pk])))
    assert "Review deadline" in html and 'name="review_deadline"' not in html
    listing = html_of(client.get(reverse("admin:escrows_milestone_changelist")))
    assert "Review deadline" in listing
    escrow_page = html_of(client.get(reverse("admin:escrows_escrow_change", args=[delivered.escrow.pk])))
    assert "Review deadline" in escrow_page and delivered.escrow.fee_schedule_version in escrow_page
