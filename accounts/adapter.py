"""How django-allauth runs our accounts: the words people read, links built on SITE_URL, and the
password login's limits left to the authentication backend (accounts/throttle.py)."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse


def site_link(path: str) -> str:
    """An absolute link for an email: built on SITE_URL, never on the request's Host header."""
    return settings.SITE_URL.rstrip("/") + path


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": "Please enter a correct email and password.",
        "email_taken": "An account with this email already exists. Log in instead.",
        "enter_current_password": "That is not your current password.",
        "incorrect_code": "That code is not right. Check the latest email we sent and try again.",
        "incorrect_password": "That is not your password.",
        "invalid_or_expired_key": "This link no longer works. Ask for a new one.",
        "invalid_password_reset": "This link no longer works. Ask for a new one.",
        "too_many_login_attempts": "Too many attempts. Wait a few minutes and try again.",
        "same_as_current": "That is already your email address.",
        "rate_limited": "Too many attempts in a short time. Wait a minute and try again.",
    }

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """The password login's failure limits are the authentication backend's: per address and
        email, per email from any address, per address; the admin's login shares them, and a
        refused login says how to get back in. allauth's own limit still guards the two-factor
        codes."""

    def get_reset_password_from_key_url(self, key: str) -> str:
        uid, _, token = key.partition("-")
        return site_link(reverse("account_reset_password_from_key", kwargs={"uidb36": uid, "key": token}))

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {"site_url": site_link(""), **context})


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "incorrect_code": "That code is not right. Enter the code your authenticator app shows now.",
        "unverified_email": "Confirm your email address before you turn on two-factor sign-in.",
    }
