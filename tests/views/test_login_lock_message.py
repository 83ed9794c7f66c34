"""A login refused by the lock says so, and how to get back in at once, on the sign-in page and
on the admin's login (both share the authentication backend's lock)."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

MESSAGE = "Too many failed logins for this account. Try again in 15 minutes"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS = 10
    settings.LOGIN_LOCKOUT_SECONDS = 15 * 60
    cache.clear()
    yield
    cache.clear()


def _lock(email: str) -> None:
    for i in range(10):
        client = Client(REMOTE_ADDR=f"203.0.113.{i + 1}")
        client.post(reverse("login"), {"username": email, "password": "nope"})


def test_the_sign_in_page_says_why_and_links_the_password_reset(seller):
    _lock(seller.email)
    response = Client().post(reverse("login"), {"username": seller.email, "password": "pass-word-123"})
    assert response.status_code == 429
    html = response.content.decode()
    assert MESSAGE in html
    assert f'<a href="{reverse("password_reset")}">reset your password</a> to log in now.' in html


def test_the_admin_login_shows_the_same_message(admin_user):
    client = Client()
    credentials = {"username": admin_user.email, "password": "pass-word-123"}
    wrong = client.post(reverse("admin:login"), {**credentials, "password": "nope"}).content.decode()
    assert "Please enter the correct" in wrong and "Too many failed logins" not in wrong
    _lock(admin_user.email)
    html = client.post(reverse("admin:login"), credentials).content.decode()
    assert MESSAGE in html
    assert f'href="{reverse("password_reset")}"' in html
    assert "Please enter the correct" not in html
    assert "_auth_user_id" not in client.session
