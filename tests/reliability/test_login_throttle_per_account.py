"""Regression: failed logins for one account spread over many addresses are capped, for emails
with and without an account alike, and the owner gets back in at once by resetting the password.
Each case adds to "per-account login lock: cases" and, when it does not hold, to its violations."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tests.reliability import figures

SECTION = "money and security defects"
NAME = "per-account login lock"
LIMIT = 10


def _case(ok: bool) -> bool:
    figures.add(SECTION, f"{NAME}: cases")
    figures.add(SECTION, f"violations: {NAME}", 0 if ok else 1)
    return ok


def _login(client: Client, email: str, password: str, path: str = "/accounts/login/"):
    return client.post(path, {"login": email, "password": password})


def _errors(response) -> list[str]:
    return [str(e) for e in response.context["form"].non_field_errors()] if response.context else []


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_guesses_from_many_addresses_are_capped_and_a_reset_lets_the_owner_in(settings, admin_user, seller):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS = LIMIT
    settings.LOGIN_FAILURES_PER_IP = 30
    cache.clear()
    rounds = figures.scaled(3)
    failed = []
    for n in range(rounds):
        cache.clear()
        mail.outbox.clear()
        address = iter(f"10.{n}.{i // 250}.{i % 250 + 1}" for i in range(10_000))
        for email in (admin_user.email, seller.email, "nobody@example.test"):
            for i in range(LIMIT):
                _login(Client(REMOTE_ADDR=next(address)), email, f"guess-{n}-{i}")

        # Past the limit, the right password from an address that never failed is refused.
        owner = Client(REMOTE_ADDR=next(address))
        refused = _login(owner, seller.email, "pass-word-123")
        if not _case(refused.status_code == 429 and not _signed_in(owner)):
            failed.append((n, "the right password got in during the lock"))
        messages = _errors(refused)

        # An email without an account reads exactly the same.
        unknown = _login(Client(REMOTE_ADDR=next(address)), "nobody@example.test", "pass-word-123")
        if not _case(unknown.status_code == 429 and _errors(unknown) == messages):
            failed.append((n, "an unknown email was answered differently"))

        # The admin's login is the sign-in page: it refuses staff with the same words.
        staff = Client(REMOTE_ADDR=next(address))
        sign_in = staff.get("/admin/login/")["Location"]
        admin_page = _login(staff, admin_user.email, "pass-word-123", sign_in).content.decode()
        if not _case(bool(messages) and messages[0] in admin_page and not _signed_in(staff)):
            failed.append((n, "the admin login did not show the lock"))

        # Another account is untouched, from one of the guessing addresses too.
        other = Client(REMOTE_ADDR="10.250.0.1")
        other_user = f"other{n}@example.test"
        UserFactory(email=other_user)
        if not _case(_login(other, other_user, "pass-word-123").status_code == 302):
            failed.append((n, "another account was locked too"))

        # A reset by email signs the owner in at once and lifts the lock everywhere.
        owner.post(reverse("password_reset"), {"email": seller.email})
        link = re.search(r"/accounts/password/reset/\S+/", mail.outbox[0].body) if mail.outbox else None
        new_password = f"fresh-pass-{n}-456"
        if link:
            form_page = owner.get(link.group(0))
            owner.post(form_page["Location"], {"password1": new_password, "password2": new_password})
        back_in = _signed_in(owner)
        elsewhere = _login(Client(REMOTE_ADDR=next(address)), seller.email, new_password).status_code == 302
        if not _case(back_in and elsewhere):
            failed.append((n, "the reset did not let the owner in"))
        seller.set_password("pass-word-123")
        seller.save()
    cache.clear()
    assert failed == []
