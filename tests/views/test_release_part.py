"""Releasing part of a stage from the escrow page: the buyer's "Release part" beside the release,
the amount form, what releasing it does said in money before it acts (a page without JavaScript,
the dialog's content for the script), a refused amount shown on the form as typed, and the stage
showing what was released and what is still held."""

import re
from html import unescape

import pytest
from django.urls import reverse

from escrows import services
from escrows.models import EscrowStatus, LedgerTransaction, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

from .conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _names(seller, buyer):
    seller.first_name, seller.last_name = "Sam", "Seller"
    seller.save()
    buyer.first_name, buyer.last_name = "Bea", "Buyer"
    buyer.save()


@pytest.fixture
def escrow(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)  # 300.00, 500.00, 200.00 USD
    fund(escrow, buyer)
    return escrow


def url(escrow, milestone):
    return reverse("milestone_release_part", args=[escrow.public_id, milestone.public_id])


def text(response):
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def field_error(response):
    html = response.content.decode()
    found = re.search(r'<ul class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', html, re.S)
    return unescape(found.group(1)) if found else None


def typed(response):
    found = re.search(r'<input[^>]*name="amount"[^>]*>', response.content.decode())
    value = re.search(r'value="([^"]*)"', found.group(0)) if found else None
    return unescape(value.group(1)) if value else None


def test_the_buyer_gets_release_part_beside_the_release(escrow, buyer, seller):
    page = client_for(buyer).get(reverse("escrow_detail", args=[escrow.public_id]))
    html = page.content.decode()
    assert 'data-action="release-part"' in html
    form = re.search(r'<form method="get" action="([^"]+)" novalidate data-confirm-form>', html)
    assert form is not None and form.group(1) == url(escrow, milestones(escrow)[0])
    assert "Up to 300.00 USD, what is left of this stage." in text(page)
    assert "js/confirm_form.js" in html
    # The seller is never offered it.
    seller_page = client_for(seller).get(reverse("escrow_detail", args=[escrow.public_id]))
    assert 'data-action="release-part"' not in seller_page.content.decode()


def test_the_stage_shows_what_was_released_and_what_is_held(escrow, buyer, seller):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    for viewer in (buyer, seller):
        page = text(client_for(viewer).get(reverse("escrow_detail", args=[escrow.public_id])))
        assert "Released 100.00 USD of 300.00 USD; 200.00 USD held." in page
        assert "Part released" in page  # the timeline
        assert "100.00 USD released; 200.00 USD still held for the stage." in page
    page = text(client_for(buyer).get(reverse("escrow_detail", args=[escrow.public_id])))
    # Not delivered yet: the release of the rest is the secondary link.
    assert "Release the rest, 200.00 USD without delivery" in page
    assert "Up to 200.00 USD, what is left of this stage." in page


def test_the_form_page_without_an_amount(escrow, buyer):
    first = milestones(escrow)[0]
    response = client_for(buyer).get(url(escrow, first))
    assert response.status_code == 200
    page = text(response)
    assert "Release part of “Stage 0”" in page
    assert "300.00 USD held for this stage." in page
    assert "Amount to release" in page and "Up to 300.00 USD, what is left of this stage." in page


def test_an_amount_asks_once_in_money_and_changes_nothing(escrow, buyer):
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    response = client_for(buyer).get(url(escrow, first), {"amount": "100.00"})
    assert response.status_code == 200
    assert ledger_fingerprint() == before
    page = text(response)
    assert "Release 100.00 USD of “Stage 0” to Sam Seller now?" in page
    assert (
        "100.00 USD goes to Sam Seller's balance now and cannot be taken back; "
        "200.00 USD stays held for this stage." in page
    )
    html = response.content.decode()
    assert f'<form method="post" action="{url(escrow, first)}" class="dialog-actions">' in html
    assert '<input type="hidden" name="amount" value="100.00">' in html
    assert "Release 100.00 USD</button>" in html
    assert 'name="edit" value="1"' in html  # back to the form with the amount


def test_the_script_gets_the_same_confirmation_as_a_dialog(escrow, buyer):
    first = milestones(escrow)[0]
    response = client_for(buyer).get(url(escrow, first), {"amount": "100"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<dialog") and "data-confirm-dialog" in html
    assert "Release 100.00 USD of “Stage 0” to Sam Seller now?" in unescape(html)
    # A refused amount: nothing to confirm; the script then sends the form itself.
    refused = client_for(buyer).get(url(escrow, first), {"amount": "900"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 204


def test_all_of_what_is_left_is_the_release_of_the_rest(escrow, buyer):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    response = client_for(buyer).get(url(escrow, first), {"amount": "200.00"})
    page = text(response)
    assert "Release the rest of “Stage 0”, 200.00 USD, to Sam Seller?" in page
    assert "the stage is released" in page
    assert "Released of its 300.00 USD so far: 100.00 USD." in page


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("300.01", "Amount to release can be at most 300.00 USD, what is left of this stage."),
        ("0", "Enter an amount greater than zero."),
        ("-5", "Enter an amount greater than zero."),
        ("1.234", "USD amounts have at most 2 decimal places."),
        ("lots", "Enter an amount as a number, such as 300.00."),
        ("", "Amount to release: enter how much goes to the seller now."),
    ],
)
def test_a_refused_amount_shows_the_form_again_as_typed(escrow, buyer, amount, error):
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    for response in (
        client_for(buyer).get(url(escrow, first), {"amount": amount}),
        client_for(buyer).post(url(escrow, first), {"amount": amount}),
    ):
        assert response.status_code == 400
        assert field_error(response) == error
        assert typed(response) == (amount or None)
        assert "minor units" not in response.content.decode()
    assert ledger_fingerprint() == before


def test_the_post_releases_the_part(escrow, buyer, seller):
    first = milestones(escrow)[0]
    response = client_for(buyer).post(url(escrow, first), {"amount": "100.00"}, follow=True)
    assert response.redirect_chain[-1][0].endswith(f"/escrows/{escrow.public_id}/#stage-1")
    assert "Released 100.00 USD to Sam Seller; 200.00 USD stays held for this stage." in text(response)
    assert refresh(first).released_part == 10_000
    assert wallet_balance(seller, "USD") == 10_000
    # The rest, through the same form: the stage is released.
    response = client_for(buyer).post(url(escrow, first), {"amount": "200"}, follow=True)
    assert "Released 200.00 USD to Sam Seller: the stage is released." in text(response)
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_the_confirmation_carries_what_was_left_when_it_was_shown(escrow, buyer):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    response = client_for(buyer).get(url(escrow, first), {"amount": "50.00"})
    assert '<input type="hidden" name="remaining" value="20000">' in response.content.decode()


def test_the_same_confirmation_sent_twice_releases_once(escrow, buyer, seller):
    first = milestones(escrow)[0]
    confirmation = client_for(buyer).get(url(escrow, first), {"amount": "100.00"}).content.decode()
    sent = dict(re.findall(r'<input type="hidden" name="(amount|remaining)" value="([^"]*)">', confirmation))
    assert sent == {"amount": "100.00", "remaining": "30000"}
    client_for(buyer).post(url(escrow, first), sent)
    before = ledger_fingerprint()
    again = client_for(buyer).post(url(escrow, first), sent, follow=True)
    assert again.redirect_chain[-1][0].endswith(f"/escrows/{escrow.public_id}/#stage-1")
    assert (
        "This stage changed since you confirmed: 200.00 USD of it is left now. Nothing was released."
        in text(again)
    )
    assert ledger_fingerprint() == before
    assert refresh(first).released_part == 10_000
    assert wallet_balance(seller, "USD") == 10_000


def test_change_the_amount_goes_back_to_the_form_with_it(escrow, buyer):
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    response = client_for(buyer).post(url(escrow, first), {"amount": "100.00", "edit": "1"})
    assert response.status_code == 200
    assert typed(response) == "100.00"
    assert ledger_fingerprint() == before


def test_a_refusal_from_the_service_keeps_what_was_typed(escrow, buyer, seller):
    first, second, _ = milestones(escrow)
    before = ledger_fingerprint()
    response = client_for(buyer).post(url(escrow, second), {"amount": "50.00"})
    assert response.status_code == 400
    assert "Previous milestone" in text(response) and typed(response) == "50.00"
    assert ledger_fingerprint() == before


def test_who_is_not_offered_it_is_sent_back(escrow, buyer, seller, stranger):
    first, second, _ = milestones(escrow)
    # Not the stage the buyer may release now.
    response = client_for(buyer).get(url(escrow, second), {"amount": "1"})
    assert response.status_code == 302
    # The seller.
    response = client_for(seller).get(url(escrow, first))
    assert response.status_code == 302
    # Anyone else does not see the escrow at all.
    assert client_for(stranger).get(url(escrow, first)).status_code == 404
    assert client_for(stranger).post(url(escrow, first), {"amount": "1"}).status_code == 404
    # The seller's POST is refused by the service, said on the form.
    before = ledger_fingerprint()
    response = client_for(seller).post(url(escrow, first), {"amount": "1"})
    assert response.status_code == 400 and "Only the buyer can release a milestone" in text(response)
    assert ledger_fingerprint() == before


def test_receipts_and_the_statement_say_it_was_a_part(escrow, buyer, seller):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    services.milestone_release(milestone=refresh(first), by=buyer)
    page = re.sub(
        r"<[^>]+>", "", text(client_for(seller).get(reverse("escrow_detail", args=[escrow.public_id])))
    )
    assert "Part release: Stage 0 · 100.00 USD" in page
    assert "Release of the rest: Stage 0 · 200.00 USD" in page
    statement = text(client_for(seller).get(reverse("balance")))
    assert "Part released to you: “Stage 0” of “Website build” (the rest stays held)" in statement
    assert "The rest released to you: “Stage 0” of “Website build”" in statement


def test_a_part_release_receipt_says_it_was_a_part(escrow, buyer, seller):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    services.milestone_release(milestone=refresh(first), by=buyer)
    part, rest = LedgerTransaction.objects.filter(kind="RELEASE", milestone=first).order_by("id")
    page = re.sub(
        r"<[^>]+>", " ", text(client_for(seller).get(reverse("receipt", args=[escrow.public_id, part.pk])))
    )
    page = re.sub(r"\s+", " ", page)
    assert "Part of the stage released; the rest stayed held for it" in page
    assert "Stage amount 300.00 USD" in page and "Released 100.00 USD" in page
    page = re.sub(
        r"<[^>]+>", " ", text(client_for(buyer).get(reverse("receipt", args=[escrow.public_id, rest.pk])))
    )
    page = re.sub(r"\s+", " ", page)
    assert "The rest of the stage released (a part was released before)" in page
    assert "Released 200.00 USD" in page


def test_the_release_after_a_part_says_it_releases_the_rest(escrow, buyer):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    page = text(client_for(buyer).get(reverse("milestone_release", args=[escrow.public_id, first.public_id])))
    assert "Release 200.00 USD to Sam Seller before delivery?" in page
    assert "200.00 USD moves from escrow to Sam Seller's balance" in page
    assert "100.00 USD of its 300.00 USD was released before: this releases the rest." in page


def test_the_admin_shows_the_released_part_as_money_read_only(escrow, buyer, admin_user):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=12_345)
    staff = client_for(admin_user)
    for address in (
        reverse("admin:escrows_milestone_change", args=[first.pk]),
        reverse("admin:escrows_escrow_change", args=[escrow.pk]),
    ):
        page = staff.get(address).content.decode()
        assert "Released so far" in page and "123.45 USD" in page, address
        assert 'name="released_part"' not in page, address
    milestone_page = staff.get(reverse("admin:escrows_milestone_change", args=[first.pk])).content.decode()
    assert "12345" not in milestone_page  # as money only
    listing = staff.get(reverse("admin:escrows_milestone_changelist")).content.decode()
    assert "123.45 USD" in listing


def test_the_timeline_and_the_evidence_record_say_it_in_words(escrow, buyer, seller):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    evidence = re.sub(
        r"<[^>]+>", " ", text(client_for(seller).get(reverse("evidence_export", args=[escrow.public_id])))
    )
    evidence = re.sub(r"\s+", " ", evidence)
    assert "100.00 USD released so far, 200.00 USD held" in evidence
    assert "Released of the stage so far: 100.00 USD" in evidence
    assert "Still held for the stage: 200.00 USD" in evidence
    services.milestone_release(milestone=refresh(first), by=buyer)
    page = text(client_for(seller).get(reverse("escrow_detail", args=[escrow.public_id])))
    assert "The rest, 200.00 USD (100.00 USD released before)." in page
    assert "Released in parts." in page
    evidence = re.sub(
        r"<[^>]+>", " ", text(client_for(buyer).get(reverse("evidence_export", args=[escrow.public_id])))
    )
    evidence = re.sub(r"\s+", " ", evidence)
    assert "100.00 USD released in part before it settled" in evidence
    assert "Released of the stage before: 100.00 USD" in evidence
    record = client_for(buyer).get(reverse("evidence_export_json", args=[escrow.public_id])).json()
    assert (record["milestones"][0]["amount"], record["milestones"][0]["releasedPart"]) == (
        "300.00",
        "100.00",
    )


def test_the_dispute_form_names_what_is_left_of_a_partly_released_stage(escrow, buyer):
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    address = reverse("escrow_dispute", args=[escrow.public_id])
    page = re.sub(r"<[^>]+>", " ", text(client_for(buyer).get(address, {"milestone": first.public_id})))
    page = re.sub(r"\s+", " ", page)
    assert "(200.00 USD left of 300.00 USD)" in page
    assert "must add up to 200.00 USD" in page
