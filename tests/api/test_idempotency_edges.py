"""Idempotency-Key at its edges: the answer each account and each key gets back when keys are
shared or several are used, a record at exactly 24 hours and a claim at exactly 5 minutes, a
claim lost to a concurrent request, taking over a dead claim without touching an answer stored
meanwhile or another account's claim, a signed-in user's key, and what a stored success keeps."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from uuid import UUID

import pytest
from django.db import IntegrityError, connection
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import IdempotencyRecord
from escrows.api import idempotency
from escrows.models import Escrow
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

INTENT = {"amount": "100.00", "currency": "USD", "description": "Logo"}


def post(client, key="idem-1", body=INTENT):
    return client.post("/v1/payment-intents", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def clock_at(monkeypatch, moment):
    """The idempotency module's clock stops at `moment`."""
    monkeypatch.setattr(idempotency, "timezone", SimpleNamespace(now=lambda: moment))


def in_flight(record, created_at):
    """The record as a request that died before answering leaves it."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=None, response_body="", created_at=created_at
    )


def test_two_accounts_with_the_same_key_each_get_their_own_answer_replayed(seller, stranger):
    seller_api, stranger_api = client_for(seller), client_for(stranger)
    sellers = post(seller_api, key="shared")
    strangers = post(stranger_api, key="shared")
    assert sellers.status_code == strangers.status_code == 201
    assert sellers.json()["id"] != strangers.json()["id"]
    again = post(stranger_api, key="shared")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == strangers.json()
    assert Escrow.objects.count() == 2


def test_the_retry_of_a_later_key_replays_that_keys_answer(seller):
    client = client_for(seller)
    first = post(client, key="first", body=INTENT)
    second = post(client, key="second", body={**INTENT, "amount": "200.00"})
    again = post(client, key="second", body={**INTENT, "amount": "200.00"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == second.json() != first.json()
    assert Escrow.objects.count() == 2


def test_an_answer_is_replayed_until_exactly_24_hours_after_the_first_request(seller, monkeypatch):
    client = client_for(seller)
    first = post(client)
    record = IdempotencyRecord.objects.get()
    clock_at(monkeypatch, record.created_at + idempotency.TTL)
    again = post(client)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # A moment later the record has expired: the request runs again.
    clock_at(monkeypatch, record.created_at + idempotency.TTL + timedelta(microseconds=1))
    later = post(client)
    assert later.status_code == 201 and "Idempotent-Replayed" not in later
    assert Escrow.objects.count() == 2


def test_a_claim_is_in_flight_until_exactly_5_minutes_old(seller, monkeypatch):
    client = client_for(seller)
    assert post(client).status_code == 201
    record = IdempotencyRecord.objects.get()
    in_flight(record, record.created_at)
    clock_at(monkeypatch, record.created_at + idempotency.IN_FLIGHT_LEASE)
    r = post(client)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_in_flight"
    assert Escrow.objects.count() == 1
    # A moment later its request is taken to have died: this one runs.
    clock_at(monkeypatch, record.created_at + idempotency.IN_FLIGHT_LEASE + timedelta(microseconds=1))
    r = post(client)
    assert r.status_code == 201 and "Idempotent-Replayed" not in r
    assert Escrow.objects.count() == 2


def test_a_key_released_by_a_concurrent_request_that_failed_is_claimed_on_the_next_try(seller, monkeypatch):
    """The claim's insert loses to a concurrent request holding the key, which then fails and
    releases it before this one reads whose it is: this request claims the key and runs."""
    manager = IdempotencyRecord.objects
    real_create = manager.create
    tries = []

    def create(**fields):
        tries.append(fields["key"])
        if len(tries) == 1:
            raise IntegrityError("UNIQUE constraint failed: idempotency_owner_key")
        return real_create(**fields)

    monkeypatch.setattr(manager, "create", create)
    r = post(client_for(seller))
    assert r.status_code == 201 and "Idempotent-Replayed" not in r
    assert len(tries) == 2
    assert IdempotencyRecord.objects.get().response_status == 201


def test_a_key_contested_on_every_try_is_409_after_three_tries(seller, monkeypatch):
    manager = IdempotencyRecord.objects
    tries = []

    def create(**fields):
        tries.append(fields["key"])
        raise IntegrityError("UNIQUE constraint failed: idempotency_owner_key")

    monkeypatch.setattr(manager, "create", create)
    r = post(client_for(seller))
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_in_flight"
    assert len(tries) == 3
    assert not Escrow.objects.exists()


def test_an_answer_stored_while_a_dead_claim_is_taken_over_is_replayed_not_run_again(seller):
    """The first request was only slow: it stores its answer just as the retry, seeing its claim
    older than the lease, goes to delete it. The retry must replay that answer."""
    client = client_for(seller)
    first = post(client)
    record = IdempotencyRecord.objects.get()
    answer = (record.response_status, record.response_body)
    in_flight(record, record.created_at - idempotency.IN_FLIGHT_LEASE - timedelta(seconds=1))
    deletes = []

    def first_request_answers_before_the_takeover(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("DELETE") and "idempotencyrecord" in sql:
            deletes.append(sql)
            if len(deletes) == 2:  # the first is the purge of expired records
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    response_status=answer[0], response_body=answer[1]
                )
        return execute(sql, params, many, context)

    with connection.execute_wrapper(first_request_answers_before_the_takeover):
        again = post(client)
    assert len(deletes) >= 2
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Escrow.objects.count() == 1


def test_taking_over_a_dead_claim_leaves_another_accounts_claim_alone(seller, stranger):
    seller_api, stranger_api = client_for(seller), client_for(stranger)
    assert post(seller_api).status_code == post(stranger_api).status_code == 201
    sellers = IdempotencyRecord.objects.get(owner=seller)
    strangers = IdempotencyRecord.objects.get(owner=stranger)
    # Both claims left in flight at the same instant, longer ago than the lease.
    dead = sellers.created_at - idempotency.IN_FLIGHT_LEASE - timedelta(seconds=1)
    in_flight(sellers, dead)
    in_flight(strangers, dead)
    r = post(seller_api)
    assert r.status_code == 201 and "Idempotent-Replayed" not in r
    still = IdempotencyRecord.objects.get(pk=strangers.pk)
    assert (still.response_status, still.created_at) == (None, dead)


def test_a_signed_in_users_key_is_theirs_and_its_answer_replayed(seller):
    client = APIClient()
    client.force_login(seller)
    first = post(client, key="from-the-page")
    again = post(client, key="from-the-page")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert IdempotencyRecord.objects.get().owner == seller
    assert Escrow.objects.count() == 1


def claim(user, key="unit"):
    """begin() for a POST by `user` with an Idempotency-Key, as the API's views call it."""
    request = Request(
        APIRequestFactory().post("/v1/payment-intents", INTENT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    )
    request.user, request.auth = user, None
    return idempotency.begin(request)


def replayed(user, key="unit"):
    with pytest.raises(idempotency.IdempotentReplay) as replay:
        claim(user, key)
    response = replay.value.response
    assert response[idempotency.REPLAYED_HEADER] == "true"
    return response


def test_a_success_without_a_body_is_replayed_without_one(seller):
    idempotency.finish(claim(seller), Response(status=204))
    response = replayed(seller)
    assert (response.status_code, response.data) == (204, None)


def test_a_success_is_stored_as_the_api_writes_dates_decimals_and_ids(seller):
    data = {
        "at": datetime(2026, 12, 4, 17, 47, 5, tzinfo=UTC),
        "amount": Decimal("12.50"),
        "id": UUID("12345678-1234-5678-1234-567812345678"),
    }
    idempotency.finish(claim(seller), Response(data, status=201))
    response = replayed(seller)
    assert response.status_code == 201
    assert response.data == json.loads(json.dumps(data, cls=JSONEncoder))
    assert response.data["at"] == "2026-12-04T17:47:05Z"
    assert response.data["id"] == "12345678-1234-5678-1234-567812345678"
