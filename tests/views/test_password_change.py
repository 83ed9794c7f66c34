"""A signed-in person changes their password by giving the current one; they stay signed in,
the old password stops working, and the account's email hears of the change."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

CHANGE = reverse("account_change_password")


def test_the_current_password_is_asked_for_and_a_wrong_one_changes_nothing(seller):
    client = client_for(seller)
    page = client.get(CHANGE).content.decode()
    assert "Current password" in page and "New password confirmation" in page
    response = client.post(
        CHANGE, {"oldpassword": "not-it", "password1": "fresh-pass-456", "password2": "fresh-pass-456"}
    )
    assert response.status_code == 200 and "That is not your current password." in response.content.decode()
    seller.refresh_from_db()
    assert seller.check_password("pass-word-123")


def test_a_changed_password_keeps_them_signed_in_and_replaces_the_old_one(seller):
    client = client_for(seller)
    response = client.post(
        CHANGE, {"oldpassword": "pass-word-123", "password1": "fresh-pass-456", "password2": "fresh-pass-456"}
    )
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    [notice] = mail.outbox
    assert notice.to == [seller.email] and "password" in notice.subject.lower()

    old = Client().post(reverse("login"), {"login": seller.email, "password": "pass-word-123"})
    assert old.status_code == 200 and "Please enter a correct email and password." in old.content.decode()
    new = Client().post(reverse("login"), {"login": seller.email, "password": "fresh-pass-456"})
    assert new.status_code == 302 and new["Location"] == reverse("dashboard")


def test_a_weak_new_password_is_refused_with_the_rule(seller):
    client = client_for(seller)
    response = client.post(
        CHANGE, {"oldpassword": "pass-word-123", "password1": "12345678", "password2": "12345678"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "too common" in html
    seller.refresh_from_db()
    assert seller.check_password("pass-word-123")
