"""Dashboard tabs, filters, search, pagination, and bounded queries on list and detail pages."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from escrows import services
from escrows.services import EscrowTerms
from escrows.views.dashboard import PAGE_SIZE
from tests.helpers import fund, make_escrow, milestones

MAX_QUERIES = 8


def count_queries(client, url, **params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.django_db
def test_selling_and_buying_tabs(seller, buyer, seller_client, buyer_client):
    escrow = make_escrow(seller, title="Kitchen refit")
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    html = seller_client.get(reverse("dashboard")).content.decode()
    assert "Kitchen refit" in html and 'data-status="OPENED"' in html
    assert "1,000.00 USD" in html and "300.00 USD released" in html and 'value="30"' in html
    assert "Kitchen refit" not in seller_client.get(reverse("dashboard"), {"tab": "buying"}).content.decode()
    assert "Kitchen refit" in buyer_client.get(reverse("dashboard"), {"tab": "buying"}).content.decode()


@pytest.mark.django_db
def test_empty_states_say_what_to_do(seller_client):
    assert "Create your first escrow" in seller_client.get(reverse("dashboard")).content.decode()
    html = seller_client.get(reverse("dashboard"), {"tab": "buying"}).content.decode()
    assert "payment link" in html
    html = seller_client.get(reverse("dashboard"), {"q": "nothing"}).content.decode()
    assert "No escrows match" in html and "clear the filters" in html


@pytest.mark.django_db
def test_filter_by_status_and_search(seller, buyer, seller_client):
    paid = make_escrow(seller, title="Paid one")
    fund(paid, buyer)
    make_escrow(seller, title="Unpaid one")
    html = seller_client.get(reverse("dashboard"), {"status": "OPENED"}).content.decode()
    assert "Paid one" in html and "Unpaid one" not in html
    html = seller_client.get(reverse("dashboard"), {"q": "unpaid"}).content.decode()
    assert "Unpaid one" in html and "Paid one" not in html
    # An unknown status is a form error, not a 500.
    assert seller_client.get(reverse("dashboard"), {"status": "BOGUS"}).status_code == 200


@pytest.mark.django_db
def test_htmx_request_gets_only_the_list(seller, seller_client):
    make_escrow(seller, title="Partial")
    html = seller_client.get(reverse("dashboard"), HTTP_HX_REQUEST="true").content.decode()
    assert "Partial" in html and "<html" not in html


@pytest.mark.django_db
def test_pagination(seller, seller_client):
    for i in range(PAGE_SIZE + 3):
        make_escrow(seller, parts=(100, 100), title=f"Job {i:02d}")
    first = seller_client.get(reverse("dashboard")).content.decode()
    assert "Page 1 of 2" in first and "Job 22" in first and "Job 02" not in first
    second = seller_client.get(reverse("dashboard"), {"page": 2}).content.decode()
    assert "Job 02" in second and "Job 22" not in second


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_rows(seller, buyer, seller_client):
    make_escrow(seller)
    few, _ = count_queries(seller_client, reverse("dashboard"))
    for _ in range(12):
        escrow = make_escrow(seller, buyer=buyer)
        fund(escrow, buyer)
    many, html = count_queries(seller_client, reverse("dashboard"))
    assert html.count('class="escrow-row"') == 13
    assert many == few and many <= MAX_QUERIES, many


@pytest.mark.django_db
def test_detail_queries_do_not_grow_with_milestones(seller, buyer, buyer_client):
    small = make_escrow(seller, parts=(100, 100))
    fund(small, buyer)
    big = make_escrow(seller, parts=tuple([100] * 12))
    fund(big, buyer)
    for m in milestones(big)[:6]:
        services.milestone_release(milestone=m, by=buyer)
    few, _ = count_queries(buyer_client, reverse("escrow_detail", args=[small.public_id]))
    many, html = count_queries(buyer_client, reverse("escrow_detail", args=[big.public_id]))
    assert html.count('class="milestone') >= 12
    assert many == few and many <= MAX_QUERIES


@pytest.mark.django_db
def test_progress_counts_what_the_ledger_released_to_the_seller_side(
    seller, buyer, seller_client, buyer_client, admin_user
):
    """A standard escrow (no milestones) confirmed, and a stage split by a dispute: the header of
    the escrow page and the dashboard's bar say what the money panel says."""
    laptop = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(laptop, buyer)
    services.escrow_confirm_delivery(escrow=laptop, by=buyer)
    staged = make_escrow(seller, title="Staged")  # 300 / 500 / 200
    fund(staged, buyer)
    dispute = services.dispute_open(escrow=staged, milestone=milestones(staged)[0], by=buyer, reason="late")
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=10_000, buyer_amount=20_000
    )
    html = seller_client.get(reverse("dashboard")).content.decode()
    assert "800.00 USD released" in html and "100.00 USD released" in html
    page = buyer_client.get(reverse("escrow_detail", args=[laptop.public_id])).content.decode()
    assert "800.00 USD of 800.00 USD released" in page
    page = buyer_client.get(reverse("escrow_detail", args=[staged.public_id])).content.decode()
    assert "100.00 USD of 1,000.00 USD released" in page
    assert "Split between buyer and seller" in page
    assert not re.search(r"Released \d{1,2} [A-Z][a-z]{2} \d{4}", page)  # no stage says "Released <date>"
