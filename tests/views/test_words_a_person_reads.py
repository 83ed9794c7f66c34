"""A refusal on a page names the field as the form labels it and speaks in money, while the API
keeps its documented message: amounts typed wrong, a stage's amount, the most one escrow can
hold (a setting, said in money on the page and in the API's message), a webhook address, and
the admin's money columns."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.services import api_key_create
from core.errors import InvalidRequest, page_message
from escrows import services
from escrows.forms import TopupForm
from escrows.models import Escrow
from escrows.money import check_escrow_amount, to_minor
from tests.helpers import fund, make_escrow
from tests.views.test_escrow_pages import form_data

pytestmark = pytest.mark.django_db


def test_money_refusals_keep_the_api_message_and_give_the_page_its_words():
    with pytest.raises(InvalidRequest) as refused:
        to_minor("abc", "USD", field="milestones[1].amount")
    assert refused.value.message == 'milestones[1].amount must be a decimal string such as "300.00"'
    assert refused.value.for_person == "Enter an amount as a number, such as 300.00."
    with pytest.raises(InvalidRequest) as refused:
        to_minor("1.5", "JPY")
    assert refused.value.message == "amount has more than 0 decimal places for JPY"
    assert refused.value.for_person == "JPY amounts are whole numbers, without decimal places."
    with pytest.raises(InvalidRequest) as refused:
        to_minor("12.345", "USD")
    assert refused.value.for_person == "USD amounts have at most 2 decimal places."
    with pytest.raises(InvalidRequest) as refused:
        to_minor("-1", "USD", field="buyer_amount", allow_zero=True)
    assert refused.value.for_person == "Enter an amount of zero or more."


def test_away_from_its_field_a_refusal_follows_the_forms_label():
    form = TopupForm({"currency": "USD", "amount": "ten"})
    assert form.is_valid()
    with pytest.raises(InvalidRequest) as refused:
        to_minor("ten", "USD")
    assert page_message(refused.value, form) == "Amount: Enter an amount as a number, such as 300.00."
    assert page_message(refused.value) == "Enter an amount as a number, such as 300.00."


def test_the_most_one_escrow_can_hold_is_a_setting_said_in_money(settings, seller):
    assert check_escrow_amount(1_000_000_00, "USD") == 1_000_000_00
    with pytest.raises(InvalidRequest) as refused:
        check_escrow_amount(1_000_000_01, "USD")
    assert refused.value.message == "amount is too large: the most one escrow can hold is 1,000,000.00 USD"
    assert refused.value.for_person == "The most one escrow can hold is 1,000,000.00 USD."
    with pytest.raises(InvalidRequest, match="the most one escrow can hold is 150,000,000 JPY"):
        check_escrow_amount(150_000_001, "JPY")
    settings.ESCROW_MAX_AMOUNTS = {**settings.ESCROW_MAX_AMOUNTS, "USD": 5_000}
    with pytest.raises(InvalidRequest, match="the most one escrow can hold is 5,000.00 USD"):
        make_escrow(seller, parts=(250_000, 250_001))
    assert make_escrow(seller, parts=(250_000, 250_000)).amount == 500_000
    with pytest.raises(InvalidRequest, match="5,000.00 USD"):
        services.fee_quote(
            currency="USD",
            amount=500_001,
            milestones=[services.MilestoneInput(amount=250_000), services.MilestoneInput(amount=250_001)],
        )


def test_the_create_form_says_the_limit_and_keeps_what_was_typed(seller, seller_client):
    r = seller_client.post(
        reverse("escrow_new"), form_data("1000000000.00", ["500000000.00", "500000000.00"])
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert "The most one escrow can hold is 1,000,000.00 USD." in html
    assert 'value="1000000000.00"' in html and 'value="500000000.00"' in html
    assert "too large" not in html
    # Past even the largest amount of anything: still the escrow's limit on this form.
    r = seller_client.post(reverse("escrow_new"), form_data("9" * 20, ["1.00", "2.00"]))
    assert "The most one escrow can hold is 1,000,000.00 USD." in r.content.decode()
    # The live quote says it while the seller types.
    r = seller_client.get(reverse("fee_quote"), form_data("1000000.01", ["1.00", "2.00"]))
    assert "The most one escrow can hold is 1,000,000.00 USD." in r.content.decode()
    assert not Escrow.objects.exists()


def test_a_stage_amount_is_named_as_the_form_names_it(seller_client):
    r = seller_client.post(reverse("escrow_new"), form_data("3.00", ["1.00", "2.001"]))
    html = r.content.decode()
    assert "Stage 2 amount: USD amounts have at most 2 decimal places." in html
    assert "milestones[" not in html and "decimal string" not in html
    r = seller_client.get(reverse("fee_quote"), form_data("3.00", ["abc", "2.00"]))
    assert "Stage 1 amount: Enter an amount as a number, such as 300.00." in r.content.decode()


def test_a_stage_of_nothing_is_named_as_the_form_names_it(seller):
    with pytest.raises(InvalidRequest) as refused:
        make_escrow(seller, parts=(50_000, 0))
    assert refused.value.message == "milestones[1].amount must be greater than zero"
    assert refused.value.for_person == "Stage 2 amount: Enter an amount greater than zero."


def test_the_api_keeps_its_messages_and_states_the_limit(seller):
    _, key = api_key_create(user=seller, name="test")
    api = APIClient(HTTP_X_API_KEY=key)
    body = {"amount": "1000000.01", "currency": "USD", "type": "DELIVERY_VS_PAYMENT"}
    r = api.post("/v1/payment-intents", body, format="json")
    assert r.status_code == 400
    assert (
        r.json()["error"]["message"]
        == "amount is too large: the most one escrow can hold is 1,000,000.00 USD"
    )
    r = api.post("/v1/payment-intents", {**body, "amount": "abc"}, format="json")
    assert r.json()["error"]["message"] == 'amount: Must be a decimal string such as "300.00".'


def test_a_split_that_names_one_side_only_says_so_in_words():
    from escrows.services.disputes import _split_amounts

    with pytest.raises(InvalidRequest) as refused:
        _split_amounts("split", 30_000, 10_000, None, "USD")
    assert refused.value.message == "A split needs buyerAmount in minor units"
    assert (
        refused.value.for_person
        == "A split needs both amounts: what the seller gets and what the buyer gets."
    )
    with pytest.raises(InvalidRequest) as refused:
        _split_amounts("split", 30_000, -1, 30_001, "USD")
    assert refused.value.message == "sellerAmount cannot be negative"
    assert refused.value.for_person == "What the seller gets cannot be negative."


def test_the_webhooks_page_explains_a_bad_address(seller_client):
    r = seller_client.post(reverse("webhooks"), {"url": "ftp://files.example.test/hooks"})
    html = r.content.decode()
    assert r.status_code == 400
    assert "Enter an address that starts with https:// (or http://)." in html
    assert "url must" not in html


def test_the_admin_shows_money_not_minor_units(seller, buyer, admin_user, client):
    escrow = make_escrow(seller, parts=(70_000, 50_000))
    fund(escrow, buyer)
    client.force_login(admin_user)
    pages = [
        reverse("admin:escrows_escrow_change", args=[escrow.pk]),
        reverse("admin:escrows_escrow_changelist"),
        reverse("admin:escrows_milestone_changelist"),
        reverse("admin:escrows_payment_changelist"),
        reverse("admin:escrows_payment_change", args=[escrow.payment.pk]),
        reverse("admin:escrows_ledgeraccount_changelist"),
    ]
    for path in pages:
        html = client.get(path).content.decode()
        assert "Minor units" not in html and "minor units" not in html, path
    html = client.get(pages[0]).content.decode()
    assert "1,200.00 USD" in html and "700.00 USD" in html and "18.00 USD" in html
    assert "18.00 USD" in client.get(pages[3]).content.decode()
