"""Idempotency-Key: replay, 422 for another body, 409 while in flight, 24 h, errors not kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import IdempotencyRecord
from escrows import services
from escrows.api import idempotency
from escrows.models import Escrow, Payment
from tests.api.conftest import client_for
from tests.helpers import assert_ledger_invariants, make_escrow

INTENT = {"amount": "100.00", "currency": "USD", "description": "Logo"}


def post(client, body=INTENT, key="idem-1", path="/v1/payment-intents"):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_same_key_and_body_replays_the_stored_response(seller):
    client = client_for(seller)
    first = post(client)
    second = post(client, body={"currency": "USD", "description": "Logo", "amount": "100.00"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Escrow.objects.count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_422(seller):
    client = client_for(seller)
    assert post(client).status_code == 201
    r = post(client, body={**INTENT, "amount": "200.00"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert Escrow.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_account(seller, stranger):
    assert post(client_for(seller)).status_code == 201
    assert post(client_for(stranger)).status_code == 201
    assert Escrow.objects.count() == 2
    # Another key of the same account shares the scope: replayed.
    assert post(client_for(seller))["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_validation_failures_are_not_stored_so_a_fixed_retry_runs(seller):
    client = client_for(seller)
    r = post(client, body={**INTENT, "amount": "abc"})
    assert r.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    r = post(client, body={**INTENT, "amount": "abc"})
    assert r.status_code == 400 and "Idempotent-Replayed" not in r


@pytest.mark.django_db
def test_auth_failures_are_not_stored(seller):
    from rest_framework.test import APIClient

    r = APIClient().post("/v1/payment-intents", INTENT, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert r.status_code == 401
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_in_flight_duplicate_is_409(seller):
    client = client_for(seller)
    assert post(client).status_code == 201
    IdempotencyRecord.objects.update(response_status=None, response_body="")
    r = post(client)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "idempotency_in_flight"


@pytest.mark.django_db
def test_a_claim_left_in_flight_by_a_dead_process_is_taken_over_after_the_lease(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    client = client_for(buyer)
    body = {"gateway": "WALLET", "escrowDetails": {"escrowId": escrow.public_id}}
    # The first request ran; then its record is made to look as if the process had died
    # before storing the answer.
    assert post(client, body=body, path="/v1/payment/escrow").status_code == 200
    IdempotencyRecord.objects.update(response_status=None, response_body="")
    assert post(client, body=body, path="/v1/payment/escrow").status_code == 409
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - idempotency.IN_FLIGHT_LEASE - timedelta(seconds=1)
    )
    # Taken over: the request runs again and the service refuses to charge twice.
    r = post(client, body=body, path="/v1/payment/escrow")
    assert r.status_code == 400 and r.json()["message"] == "This escrow is already funded"
    assert Payment.objects.filter(escrow=escrow).count() == 1
    assert not IdempotencyRecord.objects.exists()
    assert_ledger_invariants()


@pytest.mark.django_db
def test_records_expire_after_24_hours(seller):
    client = client_for(seller)
    assert post(client).status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    r = post(client)
    assert r.status_code == 201 and "Idempotent-Replayed" not in r
    assert Escrow.objects.count() == 2


@pytest.mark.django_db
def test_bad_idempotency_keys_are_400(seller):
    client = client_for(seller)
    for key in ("x" * 256, "   "):
        r = post(client, key=key)
        assert r.status_code == 400, key
        assert r.json()["error"]["code"] == "invalid_idempotency_key"
    assert Escrow.objects.count() == 0


@pytest.mark.django_db
def test_provider_pay_replays_with_the_same_key(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    client = client_for(buyer)
    body = {"gateway": "WALLET", "transactionType": "ESCROW", "escrowDetails": {"escrowId": escrow.public_id}}
    first = post(client, body=body, key="pay-1", path="/v1/payment/escrow")
    second = post(client, body=body, key="pay-1", path="/v1/payment/escrow")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert_ledger_invariants()
