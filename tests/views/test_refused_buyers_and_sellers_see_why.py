"""A customer who may not buy gets no Pay button, and one who may not sell no create-escrow page
or button: each reads why instead, from the same rule the services refuse by."""

import pytest
from django.urls import reverse

from accounts.models import User
from escrows.models import Escrow
from tests.helpers import make_escrow
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

MAY_NOT_BUY = "Your account may not pay for escrows"
MAY_NOT_SELL = "Your account may not create escrows"


def turn_off(person, **permissions):
    User.objects.filter(pk=person.pk).update(**permissions)
    person.refresh_from_db()


def test_a_buyer_who_may_pay_sees_the_pay_button(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    client = client_for(buyer)
    assert "data-pay>" in client.get(reverse("pay", args=[escrow.payment_token])).content.decode()
    page = client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    assert 'data-action="fund"' in page and MAY_NOT_BUY not in page


def test_a_buyer_who_may_not_buy_reads_why_instead_of_a_pay_button(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    turn_off(buyer, can_buy=False)
    client = client_for(buyer)
    pay_page = client.get(reverse("pay", args=[escrow.payment_token])).content.decode()
    assert "data-pay>" not in pay_page
    assert f"{MAY_NOT_BUY}: the platform that manages it turned buying off. Ask them to turn it back on." in (
        pay_page
    )
    page = client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    assert 'data-action="fund"' not in page and MAY_NOT_BUY in page


def test_a_seller_who_may_not_sell_gets_no_create_page_or_button(seller):
    turn_off(seller, can_sell=False)
    client = client_for(seller)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert reverse("escrow_new") not in dashboard and MAY_NOT_SELL in dashboard
    page = client.get(reverse("escrow_new"))
    assert page.status_code == 403
    html = page.content.decode()
    assert "Ask them to turn it back on." in html and "data-escrow-form" not in html
    posted = client.post(reverse("escrow_new"), {"title": "Logo", "currency": "USD"})
    assert posted.status_code == 403 and not Escrow.objects.exists()


def test_a_seller_who_may_sell_gets_the_create_page_and_button(seller):
    client = client_for(seller)
    assert reverse("escrow_new") in client.get(reverse("dashboard")).content.decode()
    page = client.get(reverse("escrow_new"))
    assert page.status_code == 200 and MAY_NOT_SELL not in page.content.decode()
