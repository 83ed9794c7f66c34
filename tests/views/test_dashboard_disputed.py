"""A milestone escrow stays OPENED while one of its stages is under dispute (only that stage is
frozen), yet its parties' dashboards show it as Disputed and the Disputed filter finds it; once
the dispute is over it is Opened again."""

import pytest
from django.urls import reverse

from escrows import services
from escrows.models import EscrowStatus
from tests.helpers import fund, make_escrow, make_standard, milestones, refresh

pytestmark = pytest.mark.django_db


def titles(client, **params):
    html = client.get(reverse("dashboard"), params).content.decode()
    return html, {t for t in ("Kitchen refit", "Roof repair", "Laptop") if t in html}


def test_a_stage_under_dispute_shows_and_filters_as_disputed(seller, buyer, seller_client, buyer_client):
    kitchen = make_escrow(seller, title="Kitchen refit")
    fund(kitchen, buyer)
    roof = make_escrow(seller, title="Roof repair")
    fund(roof, buyer)
    laptop = make_standard(seller)
    fund(laptop, buyer)
    dispute = services.dispute_open(escrow=kitchen, milestone=milestones(kitchen)[1], by=buyer, reason="Late")
    services.dispute_open(escrow=laptop, by=buyer, reason="Broken screen")
    assert refresh(kitchen).status == EscrowStatus.OPENED  # only the stage is frozen

    for client, tab in ((seller_client, "selling"), (buyer_client, "buying")):
        html, _ = titles(client, tab=tab)
        row = html[html.index("Kitchen refit") :].split("</li>")[0]
        assert 'data-status="DISPUTED">Disputed<' in row and ">Opened<" not in row
        assert titles(client, tab=tab, status="DISPUTED")[1] == {"Kitchen refit", "Laptop"}
        assert titles(client, tab=tab, status="OPENED")[1] == {"Roof repair"}

    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert titles(seller_client, status="DISPUTED")[1] == {"Laptop"}
    assert titles(seller_client, status="OPENED")[1] == {"Kitchen refit", "Roof repair"}


def head_status(client, escrow) -> str:
    html = client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    head = html[html.index('class="head-side"') :].split("</div>")[0]
    return head[head.index("data-status=") :].split("</span>")[0]


def test_the_escrow_page_shows_the_status_the_dashboard_shows(seller, buyer, seller_client, buyer_client):
    kitchen = make_escrow(seller, title="Kitchen refit")
    fund(kitchen, buyer)
    assert head_status(seller_client, kitchen) == 'data-status="OPENED">Opened'
    dispute = services.dispute_open(escrow=kitchen, milestone=milestones(kitchen)[1], by=buyer, reason="Late")
    for client in (seller_client, buyer_client):
        assert head_status(client, kitchen) == 'data-status="DISPUTED">Disputed'
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert head_status(seller_client, kitchen) == 'data-status="OPENED">Opened'
