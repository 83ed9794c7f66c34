"""The agreed terms on the pages: the escrow page lists every version with who proposed it and
who agreed when, the evidence record carries them (page and JSON), and the admin shows them
read-only on the escrow."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from escrows import services
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import at, fund, make_escrow

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def edited_and_funded(seller, buyer):
    with at(DAY1):
        escrow = make_escrow(seller, parts=(30_000, 50_000), inspection_period=timedelta(days=7))
    with at(DAY1 + timedelta(days=1)):
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="Website build", currency="USD", amount=90_000),
            milestones=[MilestoneInput(amount=40_000), MilestoneInput(amount=50_000)],
        )
    with at(DAY1 + timedelta(days=2)):
        fund(type(escrow).objects.get(pk=escrow.pk), buyer)
    return escrow


def test_the_escrow_page_lists_each_version_and_who_agreed(edited_and_funded, buyer_client):
    html = buyer_client.get(reverse("escrow_detail", args=[edited_and_funded.public_id])).content.decode()
    assert "Agreed terms" in html
    assert (
        '<strong>Version 2</strong> <small class="muted">(current)</small> — proposed by the seller on '
        "6 Dec 2026, agreed by you on 7 Dec 2026 (by paying): terms edited: 2 stages, 900.00 USD + "
        "13.50 USD fee, 7-day inspection period" in html
    )
    assert (
        "<strong>Version 1</strong> — proposed by the seller on 5 Dec 2026, replaced before you agreed: "
        "created: 2 stages, 800.00 USD + 12.00 USD fee, 7-day inspection period" in html
    )


def test_the_evidence_record_carries_the_versions(edited_and_funded, seller_client):
    escrow = edited_and_funded
    record = json.loads(seller_client.get(reverse("evidence_export_json", args=[escrow.public_id])).content)
    versions = record["termsVersions"]
    assert [(v["number"], v["reason"], v["proposedBy"]) for v in versions] == [
        (1, "created", "seller"),
        (2, "edited", "seller"),
    ]
    assert versions[1]["buyerAgreedAt"] == "2026-12-07T10:00:00Z"
    assert versions[0]["buyerAgreedAt"] is None
    assert versions[1]["terms"]["amount"] == "900.00"
    assert [m["amount"] for m in versions[1]["terms"]["milestones"]] == ["400.00", "500.00"]
    html = seller_client.get(reverse("evidence_export", args=[escrow.public_id])).content.decode()
    assert "<strong>Version 2</strong> — proposed by you on 6 Dec 2026, agreed by the buyer on 7 Dec" in html


def test_the_admin_shows_the_versions_read_only(edited_and_funded, admin_user):
    client = Client()
    client.force_login(admin_user)
    html = client.get(reverse("admin:escrows_escrow_change", args=[edited_and_funded.pk])).content.decode()
    assert "Terms versions" in html or "terms versions" in html.lower()
    assert "terms edited: 2 stages, 900.00 USD + 13.50 USD fee, 7-day inspection period" in html
    assert 'name="terms_versions-0-number"' not in html


def test_an_unpaid_escrow_waits_for_the_buyers_agreement(seller, seller_client):
    with at(DAY1):
        escrow = make_escrow(seller, parts=(30_000, 50_000), inspection_period=timedelta(days=7))
    html = seller_client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    assert "proposed by you on 5 Dec 2026, awaiting the buyer’s agreement: created: 2 stages" in html


def test_the_admin_shows_change_orders_read_only(funded, seller, buyer, admin_user):
    from escrows.models import ChangeProposal
    from escrows.services import StageAdd

    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageAdd(amount=30_000, title="Launch")]
    )
    services.change_order_decline(proposal=proposal, by=buyer, reason="Over budget")
    client = Client()
    client.force_login(admin_user)
    escrow_page = client.get(reverse("admin:escrows_escrow_change", args=[funded.pk])).content.decode()
    assert proposal.public_id in escrow_page and "1,300.00 USD" in escrow_page
    page = client.get(reverse("admin:escrows_changeproposal_change", args=[proposal.pk])).content.decode()
    assert "stage 4 “Launch” added (300.00 USD)" in page and "Over budget" in page
    assert client.get(reverse("admin:escrows_changeproposal_changelist")).status_code == 200
    assert not ChangeProposal.objects.exclude(status="DECLINED").exists()


def test_terms_that_never_changed_read_as_the_recorded_version(seller, buyer):
    """The escrow page shows version 1 from the escrow itself (no query): the same words as the
    recorded row."""
    from escrows.agreements import terms_history, unchanged_version
    from escrows.models import Escrow, TermsVersion
    from tests.helpers import milestones

    with at(DAY1):
        escrow = make_escrow(seller, parts=(30_000, 50_000), inspection_period=timedelta(days=7))
    with at(DAY1 + timedelta(days=2)):
        fund(escrow, buyer)
    escrow = Escrow.objects.get(pk=escrow.pk)
    derived = terms_history(escrow, [unchanged_version(escrow, milestones(escrow))], buyer)
    recorded = terms_history(escrow, list(TermsVersion.objects.filter(escrow=escrow)), buyer)
    assert [(v.number, v.who, v.what) for v in derived] == [(v.number, v.who, v.what) for v in recorded]
    assert derived[0].who == "proposed by the seller on 5 Dec 2026, agreed by you on 7 Dec 2026 (by paying)"
