"""An Idempotency-Key is 1 to 255 printable ASCII characters, and its record keeps the method
and path it was first used with."""

import pytest

from accounts.models import IdempotencyRecord
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

INTENT = {"amount": "100.00", "currency": "USD", "description": "Logo"}


def post(client, key):
    return client.post("/v1/payment-intents", INTENT, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_key_of_255_characters_is_taken_and_recorded_with_its_request(seller):
    client = client_for(seller)
    assert post(client, "k" * 255).status_code == 201
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.method, record.path) == ("k" * 255, "POST", "/v1/payment-intents")


@pytest.mark.parametrize("key", ["k" * 256, "ключ", "tab\there"])
def test_other_keys_are_refused(seller, key):
    r = post(client_for(seller), key)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_idempotency_key"
    assert not IdempotencyRecord.objects.exists()
