"""Receipts: one for the buyer's payment and one for each release, as a printable page and a
PDF, linked from the escrow page and the statement. Only the escrow's parties and staff see
them; anyone else gets the 404 a missing escrow gets."""

import pytest
from django.urls import reverse

from escrows import selectors, services
from escrows.models import LedgerTransaction
from tests.helpers import fund, make_escrow, milestones
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    return escrow


def postings(escrow):
    funding = LedgerTransaction.objects.get(escrow=escrow, kind="FUNDING")
    release = LedgerTransaction.objects.get(escrow=escrow, kind="RELEASE")
    return funding, release


def test_the_payment_receipt(released, buyer, buyer_client):
    funding, _ = postings(released)
    response = buyer_client.get(reverse("receipt", args=[released.public_id, funding.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Payment receipt" in html and f"{released.public_id}-{funding.pk}" in html
    assert "1,000.00 USD" in html and f"{released.total_charge / 100:,.2f} USD" in html
    assert buyer.display_name in html and "Wallet balance" in html
    assert reverse("receipt_pdf", args=[released.public_id, funding.pk]) in html


def test_the_release_receipt(released, seller, seller_client):
    _, release = postings(released)
    html = seller_client.get(reverse("receipt", args=[released.public_id, release.pk])).content.decode()
    assert "Release receipt" in html
    assert f"Released to {seller.display_name}" in html and "300.00 USD" in html
    assert "Stage 0" in html


def test_the_pdf(released, buyer_client):
    funding, _ = postings(released)
    response = buyer_client.get(reverse("receipt_pdf", args=[released.public_id, funding.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert f'filename="receipt-{released.public_id}-{funding.pk}.pdf"' in response["Content-Disposition"]


def test_staff_see_receipts(released, admin_user):
    funding, release = postings(released)
    staff = client_for(admin_user)
    for number in (funding.pk, release.pk):
        assert staff.get(reverse("receipt", args=[released.public_id, number])).status_code == 200


def test_anyone_else_gets_a_404(released, stranger_client, client):
    funding, release = postings(released)
    for number in (funding.pk, release.pk):
        for name in ("receipt", "receipt_pdf"):
            url = reverse(name, args=[released.public_id, number])
            assert stranger_client.get(url).status_code == 404
            assert client.get(url).status_code == 302  # to log in first


def test_a_posting_of_another_escrow_or_without_a_receipt_is_a_404(released, seller, buyer, buyer_client):
    other = make_escrow(seller, buyer=buyer)
    fund(other, buyer)
    funding, _ = postings(released)
    topup = LedgerTransaction.objects.filter(kind="TOPUP").first()
    assert buyer_client.get(reverse("receipt", args=[other.public_id, funding.pk])).status_code == 404
    assert buyer_client.get(reverse("receipt", args=[released.public_id, topup.pk])).status_code == 404
    assert buyer_client.get(reverse("receipt", args=[released.public_id, 10**9])).status_code == 404


def test_the_escrow_page_and_the_statement_link_them(released, seller_client, buyer_client):
    funding, release = postings(released)
    page = buyer_client.get(reverse("escrow_detail", args=[released.public_id])).content.decode()
    for number in (funding.pk, release.pk):
        assert reverse("receipt", args=[released.public_id, number]) in page
    statement = seller_client.get(reverse("balance")).content.decode()
    assert reverse("receipt", args=[released.public_id, release.pk]) in statement
    assert [t.pk for t in selectors.receipts_of(released)] == [funding.pk, release.pk]


def test_a_refund_has_no_release_receipt_but_a_split_does(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[2]])
    assert [t.kind for t in selectors.receipts_of(escrow)] == ["FUNDING"]
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=40_000, seller_amount=40_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    funding, split = selectors.receipts_of(escrow)
    assert (split.kind, split.receipt_amount) == ("CANCELLATION", 40_000)
    receipt = selectors.receipt_get(buyer, escrow.public_id, split.pk)
    assert [(line.label, line.amount) for line in receipt.lines] == [
        (f"Released to {seller.display_name}", 40_000),
        (f"Refunded to {buyer.display_name}", 40_000),
    ]
