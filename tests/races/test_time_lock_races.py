"""A time-locked escrow under real concurrency: timers racing each other, and the seller's proof
of delivery racing them once its time has come. The escrow row lock decides: the money goes to
the seller exactly once."""

import time
from datetime import timedelta
from functools import partial

import pytest
from django.db import connection
from django.utils import timezone

from escrows import services
from escrows.models import EscrowStatus, Event, LedgerTransaction
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, refresh
from tests.races.racing import connection_pool, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 10


@pytest.fixture(autouse=True)
def _postgres_with_a_big_pool():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    with connection_pool(THREADS + 5):
        yield


def time_locked(seller, buyer, until):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Time-locked order",
            currency="USD",
            amount=40_000,
            settlement_type="STANDARD",
            release_type="TIME_LOCKED",
            time_lock_until=until,
        ),
        milestones=[],
    )
    fund(escrow, buyer)
    return escrow


def test_timers_racing_release_a_due_escrow_once():
    seller, buyer = UserFactory(), UserFactory()
    escrow = time_locked(seller, buyer, timezone.now() + timedelta(seconds=1))
    services.delivery_proof_submit(escrow=escrow, by=seller, proof_hash="ab" * 32, submitted_by="seller")
    assert refresh(escrow).status == EscrowStatus.OPENED
    while timezone.now() <= refresh(escrow).time_lock_until:
        time.sleep(0.01)
    result = race([partial(services.escrow_time_lock_release, escrow=escrow)] * THREADS)
    assert result.unexpected == []
    assert sum(1 for v in result.values if v is not None) == 1, result.outcomes
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert Event.objects.filter(escrow=escrow, kind="time_lock.released").count() == 1
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="RELEASE").count() == 1
    assert wallet_balance(seller, "USD") == 40_000
    assert_ledger_invariants()


def test_a_proof_racing_the_timers_after_the_time_releases_once():
    seller, buyer = UserFactory(), UserFactory()
    escrow = time_locked(seller, buyer, timezone.now() - timedelta(minutes=1))
    proof = partial(
        services.delivery_proof_submit, escrow=escrow, by=seller, proof_hash="cd" * 32, submitted_by="s"
    )
    timer = partial(services.escrow_time_lock_release, escrow=escrow)
    result = race([proof, proof, *[timer] * (THREADS - 2)])
    assert result.unexpected == []
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    assert Event.objects.filter(escrow=escrow, kind="time_lock.released").count() == 1
    assert LedgerTransaction.objects.filter(escrow=escrow, kind="RELEASE").count() == 1
    assert escrow.delivery_proofs.count() == 1
    assert_ledger_invariants()
