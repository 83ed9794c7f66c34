"""Real row locks on PostgreSQL: many threads race for the same money; exactly one wins."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, connections

from core.errors import EscrowError
from escrows import services
from escrows.models import Event, LedgerTransaction, MilestoneStatus, Payment
from tests.factories import UserFactory
from tests.helpers import (
    assert_ledger_invariants,
    fund,
    make_escrow,
    milestones,
    refresh,
)
from tests.notifications.helpers import emails_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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


# Racing runs of the review reminder send one email.


@pytest.mark.django_db(transaction=True)
def test_racing_reminder_runs_send_one_email(seller, buyer, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=30)
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    barrier = threading.Barrier(4)
    results: list[object] = []

    def run():
        try:
            barrier.wait()
            results.append(services.milestone_review_remind(milestone=first))
        except EscrowError as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r is not None for r in results) == 1, results
    assert len(emails_of("milestone.review_reminder_sent")) == 1
    assert Event.objects.filter(kind="milestone.review_reminder_sent").count() == 1
