import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _api_defaults(settings):
    # Templates use {% static %}; the manifest storage needs collectstatic, tests do not run it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SITE_URL = "https://escrow.example.test"
    cache.clear()


def client_for(user, *, bearer=False, customer_id=None):
    _, key = api_key_create(user=user, name="test")
    client = APIClient()
    headers = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    if customer_id:
        headers["customer-id"] = customer_id
    client.credentials(**{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    client.key = key
    return client


@pytest.fixture
def seller_api(seller):
    return client_for(seller)


@pytest.fixture
def buyer_api(buyer):
    return client_for(buyer)


@pytest.fixture
def stranger_api(stranger):
    return client_for(stranger)


@pytest.fixture
def platform(db):
    return UserFactory(email="platform@example.test", is_platform=True)
