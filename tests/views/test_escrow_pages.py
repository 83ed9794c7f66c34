"""The escrow pages: who sees which buttons, who gets a 404, and that every POST goes through
a service (refusals change nothing and say why)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from escrows.models import Escrow, EscrowStatus, MilestoneStatus
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

SELLER_BUTTONS = (
    'data-action="edit"',
    'data-action="cancel"',
    'data-action="refund"',
    'data-action="deliver"',
)
BUYER_BUTTONS = ('data-action="release"', 'data-action="fund"')


def detail(escrow):
    return reverse("escrow_detail", args=[escrow.public_id])


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_buyer_never_sees_seller_buttons(seller, buyer, buyer_client, seller_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    html = page(buyer_client, detail(escrow))
    for button in SELLER_BUTTONS:
        assert button not in html
    assert 'data-action="release"' in html and 'data-action="dispute-stage"' in html
    seller_html = page(seller_client, detail(escrow))
    for button in BUYER_BUTTONS:
        assert button not in seller_html
    assert 'data-action="deliver"' in seller_html and 'data-action="refund"' in seller_html


@pytest.mark.django_db
def test_unpaid_escrow_shows_seller_edit_cancel_and_link(seller, seller_client):
    escrow = make_escrow(seller)
    html = page(seller_client, detail(escrow))
    assert 'data-action="edit"' in html and 'data-action="cancel"' in html
    assert f"/pay/{escrow.payment_token}" in html
    assert 'data-action="deliver"' not in html and 'data-action="release"' not in html


@pytest.mark.django_db
def test_another_users_escrow_is_404_everywhere(seller, buyer, stranger_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    gets = [
        detail(escrow),
        reverse("escrow_edit", args=[escrow.public_id]),
        reverse("escrow_dispute", args=[escrow.public_id]),
        reverse("milestone_release", args=[escrow.public_id, first.public_id]),
        reverse("milestone_deliver", args=[escrow.public_id, first.public_id]),
    ]
    for url in gets:
        assert stranger_client.get(url).status_code == 404, url
    posts = gets[1:] + [
        reverse("escrow_cancel", args=[escrow.public_id]),
        reverse("escrow_refund", args=[escrow.public_id]),
    ]
    for url in posts:
        assert stranger_client.post(url, {"reason": "x", "proof": "x"}).status_code == 404, url
    assert ledger_fingerprint() == before


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(seller):
    escrow = make_escrow(seller)
    response = Client().get(detail(escrow))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_edit_after_funding_is_refused_with_a_clear_message(seller, buyer, seller_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    url = reverse("escrow_edit", args=[escrow.public_id])
    response = seller_client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == detail(escrow)
    assert "can only be edited while it is awaiting payment" in response.content.decode()
    response = seller_client.post(
        url,
        {
            "title": "Changed",
            "currency": "USD",
            "amount": "1.00",
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "0",
            "form-0-amount": "0.50",
            "form-1-amount": "0.50",
        },
        follow=True,
    )
    assert "can only be edited while it is awaiting payment" in response.content.decode()
    assert ledger_fingerprint() == before
    assert refresh(escrow).title == "Website build"


def form_data(amount, parts, **extra):
    data = {
        "title": "Logo design",
        "description": "Three concepts",
        "currency": "USD",
        "amount": amount,
        "form-TOTAL_FORMS": str(len(parts)),
        "form-INITIAL_FORMS": "0",
        **extra,
    }
    for i, part in enumerate(parts):
        data[f"form-{i}-title"] = f"Part {i + 1}"
        data[f"form-{i}-amount"] = part
    return data


@pytest.mark.django_db
def test_create_escrow_through_the_form(seller, seller_client):
    response = seller_client.post(reverse("escrow_new"), form_data("300.00", ["100.00", "150.50", "49.50"]))
    escrow = Escrow.objects.get(seller=seller)
    assert response.status_code == 302 and response["Location"] == detail(escrow)
    assert escrow.amount == 30000 and escrow.fee == 450
    assert [m.amount for m in milestones(escrow)] == [10000, 15050, 4950]
    assert [m.title for m in milestones(escrow)] == ["Part 1", "Part 2", "Part 3"]


@pytest.mark.django_db
def test_create_refused_with_the_service_message(seller, seller_client):
    response = seller_client.post(reverse("escrow_new"), form_data("300.00", ["100.00", "150.00"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Milestone amounts must sum to the escrow amount: they sum to 250.00 USD" in html
    assert "A milestone escrow needs at least 2 milestones" in page_post(
        seller_client, reverse("escrow_new"), form_data("300.00", ["300.00"])
    )
    assert "USD amounts have at most 2 decimal places." in page_post(
        seller_client, reverse("escrow_new"), form_data("300.001", ["100.00", "200.00"])
    )
    assert "The buyer cannot be the seller" in page_post(
        seller_client,
        reverse("escrow_new"),
        form_data("300.00", ["100.00", "200.00"], buyer_email=seller.email),
    )
    assert not Escrow.objects.exists()


def page_post(client, url, data):
    response = client.post(url, data)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_removed_and_added_rows(seller, seller_client):
    data = form_data("300.00", ["100.00", "150.00", "50.00", "999.00"])
    data["form-3-DELETE"] = "on"
    seller_client.post(reverse("escrow_new"), data)
    assert [m.amount for m in milestones(Escrow.objects.get())] == [10000, 15000, 5000]
    # Without JavaScript, "Add milestone" re-renders the form with one more row and saves nothing.
    data = form_data("300.00", ["100.00", "200.00"], add_row="1")
    html = page_post(seller_client, reverse("escrow_new"), data)
    assert 'name="form-TOTAL_FORMS" value="3"' in html and 'name="form-2-amount"' in html
    assert Escrow.objects.count() == 1


@pytest.mark.django_db
def test_edit_while_awaiting_payment_replaces_milestones_and_fee(seller, seller_client):
    escrow = make_escrow(seller)
    html = page(seller_client, reverse("escrow_edit", args=[escrow.public_id]))
    assert 'value="300.00"' in html and 'value="1000.00"' in html
    response = seller_client.post(
        reverse("escrow_edit", args=[escrow.public_id]), form_data("2000.00", ["500.00", "1500.00"])
    )
    assert response.status_code == 302
    escrow = refresh(escrow)
    assert (escrow.title, escrow.amount, escrow.fee) == ("Logo design", 200000, 3000)
    assert [m.amount for m in milestones(escrow)] == [50000, 150000]


@pytest.mark.django_db
def test_buyer_cannot_edit(seller, buyer, buyer_client):
    escrow = make_escrow(seller, buyer=buyer)
    response = buyer_client.post(
        reverse("escrow_edit", args=[escrow.public_id]), form_data("2.00", ["1.00", "1.00"]), follow=True
    )
    assert "Only the seller" in response.content.decode()
    assert refresh(escrow).amount == 100000


@pytest.mark.django_db
def test_release_has_a_confirmation_step_then_releases(seller, buyer, buyer_client, seller_client):
    seller.first_name, seller.last_name = "Sam", "Seller"
    seller.save()
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    seller_client.post(
        reverse("milestone_deliver", args=[escrow.public_id, first.public_id]), {"proof": "Draft sent"}
    )
    url = reverse("milestone_release", args=[escrow.public_id, first.public_id])
    html = page(buyer_client, url)
    assert "Release 300.00 USD to Sam Seller?" in html and "data-confirm-warning" not in html
    assert refresh(first).status == MilestoneStatus.COMPLETED  # the GET changed nothing
    response = buyer_client.post(url, follow=True)
    assert "Released 300.00 USD to Sam Seller." in response.content.decode()
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


@pytest.mark.django_db
def test_refused_service_call_is_a_flash_message(seller, buyer, buyer_client, seller_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    second = milestones(escrow)[1]
    before = ledger_fingerprint()
    response = buyer_client.post(
        reverse("milestone_release", args=[escrow.public_id, second.public_id]), follow=True
    )
    assert "Previous milestone (index 0) must be released first" in response.content.decode()
    response = seller_client.post(
        reverse("milestone_release", args=[escrow.public_id, second.public_id]), follow=True
    )
    assert "Only the buyer can release a milestone" in response.content.decode()
    assert ledger_fingerprint() == before


@pytest.mark.django_db
def test_deliver_dispute_cancel_refund(seller, buyer, seller_client, buyer_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    seller_client.post(
        reverse("milestone_deliver", args=[escrow.public_id, first.public_id]),
        {"proof": "Draft sent", "proof_uri": "https://example.test/draft"},
    )
    first = refresh(first)
    assert first.status == MilestoneStatus.COMPLETED and first.completion_proof_uri.endswith("/draft")
    assert "Draft sent" in page(buyer_client, detail(escrow))
    buyer_client.post(
        reverse("escrow_dispute", args=[escrow.public_id]),
        {
            "milestone": first.public_id,
            "reason": "Wrong colours",
            "default_outcome": "split",
            "confirmed": "1",
        },
    )
    assert refresh(first).status == MilestoneStatus.DISPUTED
    assert refresh(escrow).status == EscrowStatus.OPENED
    html = page(seller_client, detail(escrow))
    assert "Milestone disputed" in html and "Wrong colours" in html

    unpaid = make_escrow(seller)
    seller_client.post(reverse("escrow_cancel", args=[unpaid.public_id]))
    assert refresh(unpaid).status == EscrowStatus.CANCELLED

    funded = make_escrow(seller, parts=(500, 500))
    fund(funded, buyer)
    seller_client.post(reverse("escrow_refund", args=[funded.public_id]))
    assert refresh(funded).status == EscrowStatus.REFUNDED
    assert_ledger_invariants()


@pytest.mark.django_db
def test_forms_enforce_csrf(seller):
    escrow = make_escrow(seller)
    client = Client(enforce_csrf_checks=True)
    client.force_login(seller)
    assert client.post(reverse("escrow_cancel", args=[escrow.public_id])).status_code == 403
    assert client.post(reverse("escrow_new"), form_data("1.00", ["0.50", "0.50"])).status_code == 403
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    # The page itself carries the token, so the real form works.
    html = client.get(detail(escrow)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    response = client.post(reverse("escrow_cancel", args=[escrow.public_id]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert refresh(escrow).status == EscrowStatus.CANCELLED


@pytest.mark.django_db
def test_fee_quote_partial(client):
    html = client.get(reverse("fee_quote"), {"amount": "300.00", "currency": "USD"}).content.decode()
    assert "4.50 USD" in html and "304.50 USD" in html
    html = client.get(reverse("fee_quote"), {"amount": "abc", "currency": "USD"}).content.decode()
    assert "Enter an amount" in html
    assert client.get(reverse("fee_quote"), {"amount": "1", "currency": "XXX"}).status_code == 200


@pytest.mark.django_db
def test_action_pages_only_open_when_the_action_is_available(seller, buyer, buyer_client, seller_client):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    for client, url in [
        (buyer_client, reverse("milestone_deliver", args=[escrow.public_id, first.public_id])),
        (seller_client, reverse("milestone_release", args=[escrow.public_id, first.public_id])),
        (buyer_client, reverse("milestone_release", args=[escrow.public_id, second.public_id])),
    ]:
        assert client.get(url)["Location"] == detail(escrow), url
    assert (
        seller_client.get(reverse("milestone_deliver", args=[escrow.public_id, first.public_id])).status_code
        == 200
    )
    assert buyer_client.get(reverse("escrow_dispute", args=[escrow.public_id])).status_code == 200
    unpaid = make_escrow(seller)
    assert seller_client.get(reverse("escrow_dispute", args=[unpaid.public_id]))["Location"] == detail(unpaid)
