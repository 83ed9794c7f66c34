"""A call without valid credentials is answered 401 with the challenge that names the scheme,
so a client library knows to send `Authorization: Bearer <API key>`."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_API_KEY": "sk_test_nope.nope"}])
def test_the_401_challenge_is_bearer_with_the_api_realm(headers):
    r = APIClient().get("/v1/payment-intents/intent_x", **headers)
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == 'Bearer realm="api"'
