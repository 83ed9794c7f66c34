"""Two-factor sign-in: turned on with a code from an authenticator app, it makes every login ask
for a fresh code after the password (or a recovery code, each once); a wrong code signs no one
in. A password reset still asks for the code before it signs in."""

import re

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.helpers import totp_code

pytestmark = pytest.mark.django_db

AUTHENTICATE = reverse("mfa_authenticate")


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Each code works once: the codes used are remembered in the cache for their half-minute.
    cache.clear()
    yield
    cache.clear()


def _password_login(email: str, client: Client | None = None):
    client = client or Client()
    return client, client.post(reverse("login"), {"login": email, "password": "pass-word-123"})


def turn_on(email: str) -> tuple[str, list[str]]:
    """Log in, turn two-factor sign-in on from the page as a person does; the secret the page
    shows and the recovery codes it gives."""
    client, _ = _password_login(email)
    # Turning it on asks for the password again first.
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    page = client.post(asked["Location"], {"password": "pass-word-123"}, follow=True).content.decode()
    secret = re.search(r'value="([A-Z2-7]+)" readonly data-totp-secret', page).group(1)
    wrong = client.post(
        reverse("mfa_activate_totp"), {"code": "000000" if totp_code(secret) != "000000" else "1"}
    )
    assert wrong.status_code == 200 and not Authenticator.objects.filter(type="totp").exists()
    done = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == reverse("mfa_view_recovery_codes")
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.search(r"data-recovery-codes>([^<]*)</textarea>", codes_page).group(1).split()
    assert len(codes) == 10
    return secret, codes


# Committed for real: the owner's email goes out when turning it on commits, inside the request.
@pytest.mark.django_db(transaction=True)
def test_once_on_a_login_needs_the_apps_code_after_the_password(seller):
    secret, _ = turn_on(seller.email)
    # The owner is told, in case it was not them.
    assert [m.subject for m in mail.outbox if m.to == [seller.email]] == [
        "Milestone Escrow: Two-factor sign-in is on"
    ]

    client, response = _password_login(seller.email)
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302

    wrong = client.post(AUTHENTICATE, {"code": "123456" if totp_code(secret) != "123456" else "654321"})
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session

    done = client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == reverse("dashboard")
    assert client.session["_auth_user_id"] == str(seller.pk)


def test_a_code_works_once(seller):
    secret, _ = turn_on(seller.email)
    code = totp_code(secret)
    first, _ = _password_login(seller.email)
    assert first.post(AUTHENTICATE, {"code": code}).status_code == 302
    second, _ = _password_login(seller.email)
    again = second.post(AUTHENTICATE, {"code": code})
    assert again.status_code == 200 and "_auth_user_id" not in second.session


def test_a_recovery_code_signs_in_once_in_place_of_the_app(seller):
    _, codes = turn_on(seller.email)
    client, _ = _password_login(seller.email)
    assert client.post(AUTHENTICATE, {"code": codes[0]}).status_code == 302
    assert client.session["_auth_user_id"] == str(seller.pk)
    reused, _ = _password_login(seller.email)
    assert reused.post(AUTHENTICATE, {"code": codes[0]}).status_code == 200
    assert "_auth_user_id" not in reused.session


def test_a_password_reset_still_asks_for_the_code(seller, settings):
    settings.SITE_URL = "https://escrow.example"
    secret, _ = turn_on(seller.email)
    mail.outbox.clear()
    client = Client()
    client.post(reverse("password_reset"), {"email": seller.email})
    link = re.search(r"https://escrow\.example(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link)
    done = client.post(form_page["Location"], {"password1": "fresh-pass-456", "password2": "fresh-pass-456"})
    assert done.status_code == 302 and done["Location"] == AUTHENTICATE
    assert "_auth_user_id" not in client.session
    assert client.post(AUTHENTICATE, {"code": totp_code(secret)})["Location"] == reverse("dashboard")


def test_turning_it_off_asks_for_confirmation_and_logins_take_the_password_alone(seller):
    secret, _ = turn_on(seller.email)
    client, _ = _password_login(seller.email)
    client.post(AUTHENTICATE, {"code": totp_code(secret)})
    # Turning it off asks for the password again too.
    asked = client.get(reverse("mfa_deactivate_totp"))
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    page = client.post(asked["Location"], {"password": "pass-word-123"}, follow=True).content.decode()
    assert "Turn off two-factor sign-in?" in page
    assert client.post(reverse("mfa_deactivate_totp")).status_code == 302
    assert not Authenticator.objects.filter(user=seller, type="totp").exists()
    fresh, response = _password_login(seller.email)
    assert response["Location"] == reverse("dashboard")
