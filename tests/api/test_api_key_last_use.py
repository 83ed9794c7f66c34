"""A key's last use is written at most once per 30 seconds (LAST_USED_RESOLUTION), so a busy key
does not write on every call; the accounts' authentication on its own (DRF's default class, which
the API's views extend with their one-round-trip lookup) checks the key and records its use the
same way."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts import authentication
from accounts.models import APIKey
from accounts.services import api_key_create
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def clock_at(monkeypatch, moment):
    monkeypatch.setattr(authentication, "timezone", SimpleNamespace(now=lambda: moment))


def last_used(prefix):
    return APIKey.objects.get(prefix=prefix).last_used_at


def test_the_last_use_is_written_again_only_once_30_seconds_have_passed(seller, monkeypatch):
    client = client_for(seller)
    prefix = client.key.split(".")[0]
    assert client.get("/v1/payment-intents/intent_x").status_code == 404
    first = last_used(prefix)
    assert first is not None
    clock_at(monkeypatch, first + authentication.LAST_USED_RESOLUTION)
    assert client.get("/v1/payment-intents/intent_x").status_code == 404
    assert last_used(prefix) == first
    later = first + authentication.LAST_USED_RESOLUTION + timedelta(microseconds=1)
    clock_at(monkeypatch, later)
    assert client.get("/v1/payment-intents/intent_x").status_code == 404
    assert last_used(prefix) == later


def test_the_accounts_authentication_on_its_own_checks_the_key_and_records_its_use(seller):
    api_key, key = api_key_create(user=seller, name="default class")
    request = Request(APIRequestFactory().get("/v1/payment-intents/intent_x", HTTP_X_API_KEY=key))
    user, used = authentication.APIKeyAuthentication().authenticate(request)
    assert (user, used) == (seller, api_key)
    assert last_used(api_key.prefix) is not None
    wrong = Request(APIRequestFactory().get("/", HTTP_X_API_KEY=api_key.prefix + ".not-the-secret"))
    with pytest.raises(authentication.exceptions.AuthenticationFailed, match="Invalid API key"):
        authentication.APIKeyAuthentication().authenticate(wrong)
