"""The inspection period on the pages: the seller chooses it on the create form (kept with what
else was typed when it is refused), changes it while unpaid, and the escrow page, the payment
page, the evidence record and the admin state it in words."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from escrows.models import Escrow
from tests.helpers import fund, make_escrow, refresh

pytestmark = pytest.mark.django_db

REFUSAL = "Inspection period: choose between 1 and 30 days."


def form_data(**extra):
    return {
        "title": "Logo design",
        "description": "Three concepts",
        "currency": "USD",
        "amount": "300.00",
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "0",
        "form-0-title": "Sketches",
        "form-0-amount": "100.00",
        "form-1-title": "Final files",
        "form-1-amount": "200.00",
        **extra,
    }


def value_of(html, name):
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, name
    found = re.search(r'value="([^"]*)"', match.group(0))
    return found.group(1) if found else None


def test_the_create_form_offers_the_default_and_explains_it(seller_client):
    html = seller_client.get(reverse("escrow_new")).content.decode()
    assert "Inspection period (days)" in html and value_of(html, "inspection_days") == "14"
    assert "If they neither confirm nor dispute it by then, it is paid to you automatically" in html
    assert "From 1 to 30 days" in html


def test_the_sellers_choice_is_kept_on_the_escrow(seller, seller_client):
    response = seller_client.post(reverse("escrow_new"), form_data(inspection_days="7"))
    escrow = Escrow.objects.get(seller=seller)
    assert response.status_code == 302 and escrow.inspection_days == 7


@pytest.mark.parametrize("typed", ["0", "-2", "31", "abc", "1.5", ""])
def test_a_period_out_of_bounds_is_refused_in_words_and_nothing_typed_is_lost(seller_client, typed):
    response = seller_client.post(reverse("escrow_new"), form_data(inspection_days=typed))
    html = response.content.decode()
    assert response.status_code == 200 and Escrow.objects.count() == 0
    assert REFUSAL in html
    assert value_of(html, "inspection_days") == (typed or None)
    assert value_of(html, "title") == "Logo design" and value_of(html, "amount") == "300.00"
    assert value_of(html, "form-1-amount") == "200.00" and "Three concepts" in html
    for words in ("inspectionPeriodDays", "whole number of days from"):
        assert words not in html


def test_the_edit_form_shows_and_changes_it_while_unpaid(seller, seller_client):
    escrow = make_escrow(seller, parts=(10_000, 20_000), inspection_period=timedelta(days=5))
    url = reverse("escrow_edit", args=[escrow.public_id])
    assert value_of(seller_client.get(url).content.decode(), "inspection_days") == "5"
    data = form_data(inspection_days="21", **{"form-INITIAL_FORMS": "2"})
    assert seller_client.post(url, data).status_code == 302
    assert refresh(escrow).inspection_days == 21


def test_once_paid_the_edit_form_is_closed_and_the_period_stays(seller, buyer, seller_client):
    escrow = make_escrow(seller, buyer=buyer, inspection_period=timedelta(days=5))
    fund(escrow, buyer)
    url = reverse("escrow_edit", args=[escrow.public_id])
    seller_client.post(url, form_data(inspection_days="30"))
    assert refresh(escrow).inspection_days == 5


def test_the_escrow_page_states_it(seller, seller_client):
    escrow = make_escrow(seller, inspection_period=timedelta(days=3))
    html = seller_client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    assert "Inspection period: 3 days. A stage marked delivered is paid to the seller automatically" in html
    assert "The seller can change it until the buyer pays." in html


def test_the_payment_page_states_the_escrows_own_period_before_paying(seller, buyer_client, settings):
    settings.ESCROW_INSPECTION_PERIOD = timedelta(days=14)
    escrow = make_escrow(seller, inspection_period=timedelta(days=3))
    html = buyer_client.get(reverse("pay", args=[escrow.payment_token])).content.decode()
    assert "automatically 3 days after the seller marks it delivered" in html
    assert "14 days" not in html


def test_the_evidence_record_and_the_admin_state_it(seller, buyer, admin_user):
    escrow = make_escrow(seller, buyer=buyer, inspection_period=timedelta(days=1))
    staff = Client()
    staff.force_login(admin_user)
    html = staff.get(reverse("admin:escrows_escrow_change", args=[escrow.pk])).content.decode()
    assert re.search(r"Inspection period.*?1 day\b", html, re.S)
    buyer_client = Client()
    buyer_client.force_login(buyer)
    record = buyer_client.get(reverse("evidence_export", args=[escrow.public_id])).content.decode()
    assert "inspection period <span data-inspection-period>1 day</span>" in record
    assert (
        buyer_client.get(reverse("evidence_export_json", args=[escrow.public_id])).json()["escrow"][
            "inspectionPeriodDays"
        ]
        == 1
    )
