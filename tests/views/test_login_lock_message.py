"""A login refused by the lock says so, and how to get back in at once, on the sign-in page, which
is the admin's login too."""

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
        client.post(reverse("login"), {"login": email, "password": "nope"})


def test_the_sign_in_page_says_why_and_links_the_password_reset(seller):
    _lock(seller.email)
    response = Client().post(reverse("login"), {"login": seller.email, "password": "pass-word-123"})
    assert response.status_code == 429
    html = response.content.decode()
    assert MESSAGE in html
    assert f'<a href="{reverse("password_reset")}">reset your password</a> to log in now.' in html


def test_the_admins_login_is_the_sign_in_page_with_its_lock(admin_user):
    # Staff log in through the site's sign-in page (its lock, confirmed email and two-factor code).
    client = Client()
    to_sign_in = client.get(reverse("admin:login"))
    assert to_sign_in.status_code == 302
    assert to_sign_in["Location"] == f"{reverse('login')}?next=%2Fadmin%2Flogin%2F"
    _lock(admin_user.email)
    response = client.post(to_sign_in["Location"], {"login": admin_user.email, "password": "pass-word-123"})
    assert response.status_code == 429 and MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session
    cache.clear()
    signed_in = client.post(to_sign_in["Location"], {"login": admin_user.email, "password": "pass-word-123"})
    assert signed_in["Location"] == reverse("admin:login")
    assert client.get(reverse("admin:index")).status_code == 200
