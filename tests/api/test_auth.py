"""API keys: hashed at rest, X-API-Key and Bearer, revocation, last use, customer-id rules,
session auth with CSRF."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import APIKey, User
from accounts.services import api_key_create, api_key_revoke, customer_create_for_platform
from escrows.models import Escrow
from tests.api.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INTENT = {"amount": "100.00", "currency": "USD"}


def test_keys_have_the_sk_test_prefix_and_are_stored_only_hashed(seller):
    api_key, key = api_key_create(user=seller, name="backend")
    assert key.startswith("sk_test_") and len(key) > 40
    row = APIKey.objects.get(pk=api_key.pk)
    stored = " ".join(str(v) for v in APIKey.objects.filter(pk=api_key.pk).values().first().values())
    assert key not in stored
    assert row.hashed_key.startswith("sha512$$")
    assert key.startswith(row.prefix + ".")


def test_x_api_key_and_bearer_both_work(seller):
    for client in (client_for(seller), client_for(seller, bearer=True)):
        r = client.post("/v1/payment-intents", INTENT, format="json")
        assert r.status_code == 201
    assert Escrow.objects.filter(seller=seller).count() == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_API_KEY": "sk_test_nope.nope"},
        {"HTTP_X_API_KEY": ""},
        {"HTTP_X_API_KEY": "ключ"},
        {"HTTP_X_API_KEY": "sk_test_\x00.x"},
        {"HTTP_AUTHORIZATION": "Bearer"},
        {"HTTP_AUTHORIZATION": "Bearer a b"},
        {"HTTP_AUTHORIZATION": "Bearer sk_test_wrong.key"},
    ],
)
def test_missing_or_wrong_keys_are_401_envelopes(seller, headers):
    r = APIClient().post("/v1/payment-intents", INTENT, format="json", **headers)
    assert r.status_code == 401, r.json()
    assert r.json()["error"]["type"] == "authentication_error"
    assert r["WWW-Authenticate"].startswith("Bearer")
    r = APIClient().post("/v1/escrow/milestone/create", {}, format="json", **headers)
    assert r.status_code == 401 and r.json()["status"] == 401 and r.json()["data"] == {}


def test_a_revoked_key_stops_working(seller):
    client = client_for(seller)
    assert client.get("/v1/payment-intents/intent_x").status_code == 404
    api_key_revoke(user=seller, prefix=client.key.split(".")[0])
    r = client.get("/v1/payment-intents/intent_x")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key"


def test_revoking_someone_elses_key_is_not_found(seller, stranger):
    api_key, _ = api_key_create(user=seller)
    from core.errors import NotFound

    with pytest.raises(NotFound):
        api_key_revoke(user=stranger, prefix=api_key.prefix)
    assert not APIKey.objects.get(pk=api_key.pk).revoked


def test_last_used_is_recorded(seller):
    client = client_for(seller)
    api_key = APIKey.objects.get(prefix=client.key.split(".")[0])
    assert api_key.last_used_at is None
    client.get("/v1/payment-intents/intent_x")
    used = APIKey.objects.get(pk=api_key.pk).last_used_at
    assert used is not None and (timezone.now() - used).total_seconds() < 60


@pytest.mark.django_db(transaction=True)
def test_last_used_is_recorded_by_a_request_in_autocommit(seller):
    """As in production (no test transaction around the request): on PostgreSQL the write is
    one statement with an asynchronous commit of its own."""
    client = client_for(seller)
    api_key = APIKey.objects.get(prefix=client.key.split(".")[0])
    client.get("/v1/payment-intents/intent_x")
    used = APIKey.objects.get(pk=api_key.pk).last_used_at
    assert used is not None and (timezone.now() - used).total_seconds() < 60
    other = APIKey.objects.create(user=seller, name="untouched", prefix="untouched", id="untouched.x")
    assert APIKey.objects.get(pk=other.pk).last_used_at is None  # only the key used


@pytest.mark.django_db(transaction=True)
def test_last_use_is_written_in_the_lookups_round_trip_only_for_a_good_due_key(seller):
    """PostgreSQL in autocommit: the lookup statement itself records the use (no UPDATE of its
    own), only with the right secret, only when due, never for a revoked or expired key or a
    disabled owner; elsewhere (SQLite) the separate write does it, with the same outcomes."""
    client = client_for(seller)
    prefix = client.key.split(".")[0]

    def last_used():
        return APIKey.objects.get(prefix=prefix).last_used_at

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/v1/payment-intents/intent_x").status_code == 404
    first = last_used()
    assert first is not None
    if connection.vendor == "postgresql":
        assert not [q for q in queries.captured_queries if q["sql"].lstrip().startswith("UPDATE")]
        assert "UPDATE accounts_apikey SET last_used_at" in queries.captured_queries[0]["sql"]
    # Not due again within the resolution: unchanged.
    client.get("/v1/payment-intents/intent_x")
    assert last_used() == first
    # Due, but the wrong secret: refused and not recorded.
    stale = timezone.now() - timedelta(minutes=5)
    APIKey.objects.filter(prefix=prefix).update(last_used_at=stale)
    wrong = APIClient()
    wrong.credentials(HTTP_X_API_KEY=prefix + ".not-the-secret")
    assert wrong.get("/v1/payment-intents/intent_x").status_code == 401
    assert last_used() == stale
    # Due, right secret, but the key expired or the owner disabled: refused and not recorded.
    APIKey.objects.filter(prefix=prefix).update(expiry_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/v1/payment-intents/intent_x").status_code == 401
    assert last_used() == stale
    APIKey.objects.filter(prefix=prefix).update(expiry_date=None)
    User.objects.filter(pk=seller.pk).update(is_active=False)
    assert client.get("/v1/payment-intents/intent_x").status_code == 401
    assert last_used() == stale
    User.objects.filter(pk=seller.pk).update(is_active=True)
    # Due and good: recorded again.
    assert client.get("/v1/payment-intents/intent_x").status_code == 404
    assert last_used() > stale


def test_disabled_account_keys_are_refused(seller):
    client = client_for(seller)
    User.objects.filter(pk=seller.pk).update(is_active=False)
    assert client.get("/v1/payment-intents/intent_x").status_code == 401


def test_platform_acts_only_for_its_own_customers(platform, stranger):
    own = customer_create_for_platform(platform=platform, email="own@example.test")
    other_platform = UserFactory(email="other-platform@example.test", is_platform=True)
    foreign = customer_create_for_platform(platform=other_platform, email="foreign@example.test")
    r = client_for(platform, customer_id=own.customer_id).post("/v1/payment-intents", INTENT, format="json")
    assert r.status_code == 201
    assert Escrow.objects.get(public_id=r.json()["id"]).seller == own
    for customer_id in (foreign.customer_id, stranger.customer_id, "cus_doesnotexist", "x" * 300, "cus_\x00"):
        r = client_for(platform, customer_id=customer_id).post("/v1/payment-intents", INTENT, format="json")
        assert r.status_code == 404, r.json()
        assert r.json()["error"]["message"] == "Customer not found"
    # Its own customer id is simply itself.
    r = client_for(platform, customer_id=platform.customer_id).post(
        "/v1/payment-intents", INTENT, format="json"
    )
    assert r.status_code == 201


def test_a_normal_key_cannot_name_another_customer(seller, stranger):
    r = client_for(seller, customer_id=stranger.customer_id).post(
        "/v1/escrow/milestone/create", {"amount": 1}, format="json"
    )
    assert r.status_code == 404 and r.json()["message"] == "Customer not found"
    r = client_for(seller, customer_id=seller.customer_id).get("/v1/payment-intents/intent_x")
    assert r.status_code == 404 and r.json()["error"]["message"] != "Customer not found"


def test_session_auth_enforces_csrf(seller):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(seller)
    r = client.post("/v1/payment-intents", INTENT, format="json")
    assert r.status_code == 403
    assert "CSRF" in r.json()["error"]["message"]
    client.get("/settings/api-keys/")
    token = client.cookies["csrftoken"].value
    r = client.post("/v1/payment-intents", INTENT, format="json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201
    # Reads need no token.
    assert client.get(f"/v1/payment-intents/{r.json()['id']}").status_code == 200
