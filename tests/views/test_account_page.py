"""The account page: name and phone saved, links to change email and password and to two-factor
sign-in; only for the signed-in person. The header's "Log in" and "Sign up" bring a visitor back
to the page they were on."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.helpers import make_escrow
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

ACCOUNT = reverse("account")


def test_the_page_shows_the_email_and_saves_name_and_phone(seller):
    client = client_for(seller)
    html = client.get(ACCOUNT).content.decode()
    assert seller.email in html and "Confirmed" in html
    for link in ("account_email", "account_change_password", "mfa_index"):
        assert f'href="{reverse(link)}"' in html
    assert seller.customer_id not in html

    response = client.post(
        ACCOUNT, {"first_name": " Sam ", "last_name": "Seller", "phone": "+44 20 7946 0000"}
    )
    assert response.status_code == 302 and response["Location"] == ACCOUNT
    seller.refresh_from_db()
    assert (seller.first_name, seller.last_name, seller.phone) == ("Sam", "Seller", "+44 20 7946 0000")
    assert "Your details are saved." in client.get(ACCOUNT).content.decode()


def test_too_long_a_name_is_refused_and_what_was_typed_stays(seller):
    client = client_for(seller)
    response = client.post(ACCOUNT, {"first_name": "x" * 151, "last_name": "Kept", "phone": ""})
    html = response.content.decode()
    assert response.status_code == 200 and 'value="Kept"' in html and "at most 150 characters" in html


def test_a_visitor_is_sent_to_log_in():
    response = Client().get(ACCOUNT)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_header_links_come_back_to_the_payment_page(seller):
    escrow = make_escrow(seller)
    pay = reverse("pay", args=[escrow.payment_token])
    html = Client().get(pay).content.decode()
    assert f'href="/accounts/login/?next=%2Fpay%2F{escrow.payment_token}">Log in</a>' in html
    assert f'href="/accounts/signup/?next=%2Fpay%2F{escrow.payment_token}" role="button"' in html
    # On the sign-up page the header keeps that `next`, and drops one leading elsewhere.
    signup = Client().get(reverse("signup") + f"?next={pay}").content.decode()
    assert f'href="/accounts/login/?next=%2Fpay%2F{escrow.payment_token}">Log in</a>' in signup
    offsite = Client().get(reverse("signup") + "?next=https://evil.example/").content.decode()
    assert 'href="/accounts/login/">Log in</a>' in offsite
    assert 'href="/accounts/login/">Log in</a>' in Client().get("/").content.decode()
