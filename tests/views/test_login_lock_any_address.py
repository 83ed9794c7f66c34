"""Failed logins for one email are capped however many addresses they come from; the cap is
per account, and an email without an account is refused the same way."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

ANY_ADDRESS_LIMIT = 10


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_ACCOUNT_ANY_ADDRESS = ANY_ADDRESS_LIMIT
    settings.LOGIN_FAILURES_PER_IP = 30
    cache.clear()
    yield
    cache.clear()


def _address(i: int) -> Client:
    return Client(REMOTE_ADDR=f"203.0.113.{i + 1}")


def _login(client: Client, email: str, password: str):
    return client.post(reverse("login"), {"login": email, "password": password})


def _guess_from_many_addresses(email: str, n: int = ANY_ADDRESS_LIMIT) -> None:
    for i in range(n):
        # One guess per address: neither the per-address nor the address-and-email limit is near.
        assert _login(_address(i), email, f"guess-{i}").status_code == 200


def test_guesses_spread_over_many_addresses_lock_the_account(seller):
    _guess_from_many_addresses(seller.email)
    for client in (_address(ANY_ADDRESS_LIMIT), Client(REMOTE_ADDR="198.51.100.7")):
        # Even the right password, from an address that never failed, is refused for now.
        response = _login(client, seller.email, "pass-word-123")
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session


def test_the_lock_is_per_account(seller, buyer):
    _guess_from_many_addresses(buyer.email, ANY_ADDRESS_LIMIT - 1)
    _guess_from_many_addresses(seller.email)
    # One failure short of the limit leaves the buyer free; the seller's failures are not theirs.
    fresh = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(fresh, seller.email, "pass-word-123").status_code == 429
    assert _login(fresh, buyer.email, "pass-word-123").status_code == 302
    # The guessing addresses sign in to another account too.
    assert _login(_address(0), buyer.email, "pass-word-123").status_code == 302


def test_an_email_without_an_account_is_refused_with_the_same_message(seller):
    _guess_from_many_addresses(seller.email)
    _guess_from_many_addresses("nobody@example.test")
    refusals = [
        _login(Client(REMOTE_ADDR="198.51.100.9"), email, "pass-word-123")
        for email in (seller.email, "nobody@example.test")
    ]
    assert [r.status_code for r in refusals] == [429, 429]
    first, second = ([str(e) for e in r.context["form"].non_field_errors()] for r in refusals)
    assert first == second
    assert "Too many failed logins for this account" in first[0]
