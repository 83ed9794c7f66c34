"""Real row locks on PostgreSQL: many threads race for the same money; exactly one wins."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from core.errors import EscrowError
from escrows import services
from escrows.models import LedgerTransaction, MilestoneStatus, Payment
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _require_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks: set DATABASE_URL to a PostgreSQL database")


def race(n, action):
    """Run `action()` in n threads released at once; return a Counter of outcomes."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker():
        try:
            barrier.wait()
            action()
            result = "ok"
        except EscrowError as exc:
            result = type(exc).__name__
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return Counter(outcomes)


def test_twenty_concurrent_releases_of_one_milestone_release_once():
    seller, buyer = UserFactory(), UserFactory()
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    outcomes = race(20, lambda: services.milestone_release(milestone=first, by=buyer))
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["InvalidRequest"] == 19, outcomes
    assert LedgerTransaction.objects.filter(kind="RELEASE", milestone=first).count() == 1
    assert refresh(first).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


def test_twenty_concurrent_funds_charge_once():
    seller, buyer = UserFactory(), UserFactory()
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge * 20, currency="USD")
    outcomes = race(20, lambda: services.escrow_fund(escrow=escrow, by=buyer))
    assert outcomes["ok"] == 1, outcomes
    assert Payment.objects.filter(escrow=escrow).count() == 1
    assert LedgerTransaction.objects.filter(kind="FUNDING", escrow=escrow).count() == 1
    assert_ledger_invariants()


def test_concurrent_fundings_cannot_overdraw_a_wallet():
    """One wallet that covers one escrow, five escrows racing for it: exactly one is funded."""
    buyer = UserFactory()
    escrows = [make_escrow(UserFactory()) for _ in range(5)]
    services.wallet_topup(customer=buyer, amount=escrows[0].total_charge, currency="USD")
    it = iter(escrows)
    lock = threading.Lock()

    def fund_next():
        with lock:
            escrow = next(it)
        services.escrow_fund(escrow=escrow, by=buyer)

    outcomes = race(5, fund_next)
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["InsufficientFunds"] == 4, outcomes
    assert_ledger_invariants()
