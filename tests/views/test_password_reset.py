"""A password reset by email signs the owner in at once and lifts the lock that failed logins
from anywhere put on the account; the reset page tells no one which emails have accounts."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS = 10
    settings.SITE_URL = "https://escrow.example"
    cache.clear()
    yield
    cache.clear()


NEW_PASSWORD = {"password1": "fresh-pass-456", "password2": "fresh-pass-456"}


def _login(client: Client, email: str, password: str):
    return client.post(reverse("login"), {"login": email, "password": password})


def _lock(email: str) -> None:
    for i in range(10):
        _login(Client(REMOTE_ADDR=f"203.0.113.{i + 1}"), email, "nope")


def _reset_link(client: Client, email: str) -> str:
    response = client.post(reverse("password_reset"), {"email": email})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [email]
    link = re.search(r"https://escrow\.example(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    return link.group(1)


def test_a_reset_by_email_signs_the_locked_out_owner_in_at_once(seller):
    _lock(seller.email)
    owner = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(owner, seller.email, "pass-word-123").status_code == 429

    form_page = owner.get(_reset_link(owner, seller.email))
    assert form_page.status_code == 302  # the token moves into the session, out of the URL
    done = owner.post(form_page["Location"], NEW_PASSWORD)
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert owner.session["_auth_user_id"] == str(seller.pk)

    # The lock is lifted for every address, not only the owner's session.
    assert _login(Client(REMOTE_ADDR="198.51.100.8"), seller.email, "fresh-pass-456").status_code == 302


def test_a_reset_lifts_the_owners_own_address_lock(seller, settings):
    owner = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        _login(owner, seller.email, "nope")
    assert _login(owner, seller.email, "pass-word-123").status_code == 429
    form_page = owner.get(_reset_link(owner, seller.email))
    owner.post(form_page["Location"], NEW_PASSWORD)
    owner.logout()
    assert _login(owner, seller.email, "fresh-pass-456").status_code == 302


def test_the_reset_page_reads_the_same_for_an_unknown_email(seller):
    client = Client()
    page = client.get(reverse("password_reset"))
    assert page.status_code == 200 and b'name="email"' in page.content
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.test"})
    assert unknown.status_code == 302 and unknown["Location"] == reverse("password_reset_done")
    assert mail.outbox == []
    assert b"If an account uses that address" in client.get(unknown["Location"]).content


def test_a_used_reset_link_no_longer_works(seller):
    client = Client()
    link = _reset_link(client, seller.email)
    form_page = client.get(link)
    client.post(form_page["Location"], NEW_PASSWORD)
    again = Client().get(link)
    assert again.status_code == 200 and b"This link no longer works" in again.content
