"""Refunds and mutual cancellation under real concurrency: the buyer's release, the seller's
refund of the same milestone, the seller accepting a refund request for it and the seller
accepting a 50/50 cancellation all race for one escrow. Exactly one of them wins; the others
are refused cleanly (no deadlock, no double settlement) and the ledger stays sound."""

import random
from functools import partial

import pytest
from django.db import connection

from escrows import services
from escrows.models import EscrowStatus, LedgerTransaction, MilestoneStatus
from escrows.selectors import escrow_ledger_summary
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh
from tests.races.racing import connection_pool, race
from tests.reliability import figures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PER_ACTION = 5
SECTION = "release/refund/request/cancel"


@pytest.fixture(autouse=True)
def _postgres_with_a_big_pool():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    with connection_pool(4 * PER_ACTION + 5):
        yield


def test_release_refund_request_and_cancellation_race_has_one_winner():
    rounds = figures.scaled(10)
    rng = random.Random(f"refund-race-{rounds}")
    for _ in range(rounds):
        seller, buyer = UserFactory(), UserFactory()
        escrow = make_escrow(seller, parts=(30_000, 70_000))
        fund(escrow, buyer)
        first = milestones(escrow)[0]
        request = services.refund_request_create(escrow=escrow, by=buyer, reason="x", milestones=[first])
        proposal = services.cancellation_propose(
            escrow=escrow, by=buyer, buyer_amount=50_000, seller_amount=50_000
        )
        actions = {
            "release": partial(services.milestone_release, milestone=first, by=buyer),
            "refund": partial(services.milestone_refund, milestone=first, by=seller),
            "accept_request": partial(services.refund_request_accept, refund_request=request, by=seller),
            "accept_cancellation": partial(services.cancellation_accept, proposal=proposal, by=seller),
        }
        names = [name for name in actions for _ in range(PER_ACTION)]
        rng.shuffle(names)
        result = race([actions[n] for n in names], label=names.__getitem__)
        figures.add(SECTION, "races run")
        ok = {n: result.outcomes.get(f"{n}:ok", 0) for n in actions}
        escrow, first = refresh(escrow), refresh(first)
        summary = escrow_ledger_summary(escrow)
        postings = LedgerTransaction.objects.filter(escrow=escrow).exclude(kind="FUNDING").count()
        winner = next((n for n, won in ok.items() if won), None)
        expected_status = {
            "release": MilestoneStatus.RELEASED,
            "refund": MilestoneStatus.REFUNDED,
            "accept_request": MilestoneStatus.REFUNDED,
            "accept_cancellation": MilestoneStatus.SPLIT,
        }.get(winner)
        consistent = (
            not result.unexpected
            and sum(ok.values()) == 1
            and postings == 1
            and first.status == expected_status
            and (escrow.status == EscrowStatus.CANCELLED) == (winner == "accept_cancellation")
            and summary.released + summary.refunded
            == (100_000 if winner == "accept_cancellation" else 30_000)
        )
        figures.add(SECTION, "checks")
        figures.add(SECTION, "violations", 0 if consistent else 1)
        figures.add(SECTION, f"{winner} won")
        assert consistent, (result.outcomes, result.unexpected, escrow.status, first.status, summary)
    assert_ledger_invariants()
