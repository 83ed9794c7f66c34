"""The same Idempotency-Key sent by many clients at once runs once: every other answer is a
replay of that one response or a 409 while it is in flight. On PostgreSQL, real connections."""

import json
import threading
from functools import partial

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import api_key_create
from escrows import services
from escrows.models import Escrow, LedgerTransaction, Payment
from escrows.selectors import wallet_balance
from tests.api.conftest import client_for
from tests.api.test_idempotency import post
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, make_escrow
from tests.races.racing import connection_pool, race
from tests.reliability import figures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECTION = "Idempotency-Key x20"
THREADS = 20


@pytest.fixture(autouse=True)
def _postgres(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and many connections: set DATABASE_URL to PostgreSQL")
    settings.API_RATE_LIMIT = "100000/min"
    cache.clear()
    with connection_pool(THREADS + 5):
        yield


def _send(key: str, path: str, body: dict, idempotency_key: str):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key, HTTP_IDEMPOTENCY_KEY=idempotency_key)
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.content, response.headers.get("Idempotent-Replayed")


def _judge(result, ok_status: int) -> tuple[int, int, int, bool]:
    answers = result.values
    firsts = [a for a in answers if a[0] == ok_status and a[2] is None]
    replays = [a for a in answers if a[0] == ok_status and a[2] == "true"]
    in_flight = [a for a in answers if a[0] == 409]
    consistent = (
        not result.unexpected
        and len(answers) == THREADS
        and len(firsts) == 1
        and len(firsts) + len(replays) + len(in_flight) == THREADS
        and all(r[1] == firsts[0][1] for r in replays)
    )
    return len(firsts), len(replays), len(in_flight), consistent


def _record(executions: int, replays: int, in_flight: int, once: bool) -> None:
    figures.add(SECTION, "races run")
    figures.add(SECTION, "requests", THREADS)
    figures.add(SECTION, "executions", executions)
    figures.add(SECTION, "replays", replays)
    figures.add(SECTION, "409 in flight", in_flight)
    figures.add(SECTION, "violations", 0 if once else 1)


def test_parallel_payments_with_one_idempotency_key_charge_once():
    rounds = figures.scaled(5)
    for i in range(rounds):
        seller, buyer = UserFactory(), UserFactory()
        escrow = make_escrow(seller)
        services.wallet_topup(customer=buyer, amount=escrow.total_charge * 3, currency="USD")
        key = api_key_create(user=buyer)[1]
        body = {
            "gateway": "WALLET",
            "transactionType": "ESCROW",
            "escrowDetails": {"escrowId": escrow.public_id},
        }
        result = race([partial(_send, key, "/v1/payment/escrow", body, f"pay-{i}")] * THREADS)
        executions, replays, in_flight, consistent = _judge(result, 200)
        charged = escrow.total_charge * 3 - wallet_balance(buyer, "USD")
        once = (
            consistent
            and Payment.objects.filter(escrow=escrow).count() == 1
            and LedgerTransaction.objects.filter(kind="FUNDING", escrow=escrow).count() == 1
            and charged == escrow.total_charge
        )
        _record(executions, replays, in_flight, once)
        assert once, (result.outcomes, result.unexpected, [(a[0], a[2]) for a in result.values], charged)
    assert_ledger_invariants()


def test_parallel_creates_with_one_idempotency_key_create_once():
    rounds = figures.scaled(5)
    for i in range(rounds):
        seller = UserFactory()
        key = api_key_create(user=seller)[1]
        body = {"amount": "250.00", "currency": "USD", "description": f"race {i}", "type": "ESCROW"}
        result = race([partial(_send, key, "/v1/payment-intents", body, f"create-{i}")] * THREADS)
        executions, replays, in_flight, consistent = _judge(result, 201)
        once = consistent and Escrow.objects.filter(seller=seller).count() == 1
        _record(executions, replays, in_flight, once)
        assert once, (result.outcomes, result.unexpected, [(a[0], a[2]) for a in result.values])


# One Idempotency-Key, two requests: the second, sent while the first is running, is a 409.


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once_on_postgres(seller, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL) for real concurrent requests")
    client_a, client_b = client_for(seller), client_for(seller)
    started, release = threading.Event(), threading.Event()
    real_create = services.escrow_create

    def slow_create(**kwargs):
        started.set()
        release.wait(10)
        return real_create(**kwargs)

    monkeypatch.setattr(services, "escrow_create", slow_create)
    results = {}

    def first():
        try:
            results["first"] = post(client_a, key="race")
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    try:
        results["second"] = post(client_b, key="race")
    finally:
        release.set()
        thread.join(20)
    assert results["second"].status_code == 409
    assert results["first"].status_code == 201
    assert Escrow.objects.count() == 1
    assert post(client_b, key="race")["Idempotent-Replayed"] == "true"
