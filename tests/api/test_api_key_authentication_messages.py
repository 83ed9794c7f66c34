"""Each way an API key can be refused gets its own 401 message, the same on both surfaces, so a
client can tell a malformed header from a wrong, expired or disabled key; the scheme and the
key's surrounding spaces are read leniently."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import APIKey, User
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

MALFORMED = "Invalid Authorization header: expected 'Bearer <API key>'"
# One read route per surface: payment intents (Finternet) and escrows (Payluk).
ROUTES = ["/v1/payment-intents/intent_x", "/v1/escrow/milestone/tok_x"]


def refusal(path, client=None, **headers):
    """The code and message of a 401, in either surface's envelope."""
    r = (client or APIClient()).get(path, **headers)
    assert r.status_code == 401
    body = r.json()
    error = body.get("error", body)
    return error["code"], error["message"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("header", ["Bearer", "Bearer sk_test_a.b extra", "bearer  "])
def test_a_bearer_header_without_exactly_one_key_is_malformed(path, header):
    assert refusal(path, HTTP_AUTHORIZATION=header) == ("invalid_api_key", MALFORMED)


@pytest.mark.parametrize("path", ROUTES)
def test_a_bearer_key_that_is_not_ascii_is_an_invalid_key(path):
    # The test client sends header values as Latin-1, as a real client sending UTF-8 would arrive.
    header = "Bearer sk_test_ключ".encode().decode("latin-1")
    assert refusal(path, HTTP_AUTHORIZATION=header) == ("invalid_api_key", "Invalid API key")


@pytest.mark.parametrize("path", ROUTES)
def test_a_wrong_key_in_either_header_is_an_invalid_key(path):
    for headers in (
        {"HTTP_X_API_KEY": "sk_test_nope.nope"},
        {"HTTP_AUTHORIZATION": "Bearer sk_test_nope.nope"},
    ):
        assert refusal(path, **headers) == ("invalid_api_key", "Invalid API key")


@pytest.mark.parametrize("path", ROUTES)
def test_another_scheme_is_no_key_at_all(path):
    code, message = refusal(path, HTTP_AUTHORIZATION="Token sk_test_a.b")
    assert code == "authentication_required"
    assert message == "No API key provided: send it in X-API-Key or as Authorization: Bearer <key>"


@pytest.mark.parametrize("path", ROUTES)
def test_an_expired_key_says_so(seller, path):
    client = client_for(seller)
    APIKey.objects.filter(user=seller).update(expiry_date=timezone.now() - timedelta(seconds=1))
    assert refusal(path, client) == ("invalid_api_key", "This API key has expired")


@pytest.mark.parametrize("path", ROUTES)
def test_the_key_of_a_disabled_account_says_so(seller, path):
    client = client_for(seller)
    User.objects.filter(pk=seller.pk).update(is_active=False)
    assert refusal(path, client) == ("invalid_api_key", "This account is disabled")


def test_the_scheme_is_read_in_any_case_and_spaces_around_a_key_are_ignored(seller):
    client = client_for(seller)
    for headers in (
        {"HTTP_AUTHORIZATION": f"bearer {client.key}"},
        {"HTTP_AUTHORIZATION": f"BEARER {client.key}"},
        {"HTTP_X_API_KEY": f"  {client.key} "},
    ):
        r = APIClient().get("/v1/payment-intents/intent_x", **headers)
        # Authenticated: the intent is simply not found.
        assert r.status_code == 404, (headers, r.json())
        assert r.json()["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(
    "key", ["", "   ", "sk_test_\x00.x", "sk_test_a\tb.c", "sk_test_ключ.x", "sk_test_" + "k" * 193]
)
def test_what_cannot_be_a_key_is_refused_without_looking_it_up(key):
    # Empty, not ASCII, control characters (PostgreSQL refuses a NUL in a query) or longer than
    # 200 characters: no key is like that, so the database is not asked.
    with CaptureQueriesContext(connection) as queries:
        code, message = refusal(ROUTES[0], HTTP_X_API_KEY=key)
    assert (code, message) == ("invalid_api_key", "Invalid API key")
    assert not [q for q in queries.captured_queries if "accounts_apikey" in q["sql"]]


def test_a_key_of_200_characters_is_looked_up():
    with CaptureQueriesContext(connection) as queries:
        code, message = refusal(ROUTES[0], HTTP_X_API_KEY="sk_test_" + "k" * 192)
    assert (code, message) == ("invalid_api_key", "Invalid API key")
    assert [q for q in queries.captured_queries if "accounts_apikey" in q["sql"]]
