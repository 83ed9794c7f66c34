"""Partial releases under real concurrency: parts of one stage racing each other, and racing the
release of the whole and the seller's refund of it. Each part is decided under the escrow lock on
what is left then: money is conserved and a stage is never released past its amount."""

import random
from functools import partial

import pytest
from django.db import connection

from escrows import services
from escrows.models import LedgerEntry, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh
from tests.races.racing import connection_pool, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 12
ROUNDS = 3


@pytest.fixture(autouse=True)
def _postgres_with_a_big_pool():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    with connection_pool(THREADS + 5):
        yield


def released_of(milestone):
    """What the ledger moved out of the hold for this stage by releases."""
    return -sum(
        LedgerEntry.objects.filter(
            transaction__kind="RELEASE", transaction__milestone=milestone, account__kind="ESCROW_HOLD"
        ).values_list("amount", flat=True)
    )


def test_parts_racing_for_one_stage_release_only_what_is_left():
    for _ in range(ROUNDS):
        seller, buyer = UserFactory(), UserFactory()
        escrow = make_escrow(seller, parts=(30_000, 70_000))
        fund(escrow, buyer)
        first = milestones(escrow)[0]
        # Twelve parts of 70.00 for a 300.00 stage: four fit (280.00), then 20.00 is left.
        result = race(
            [partial(services.milestone_release_part, milestone=first, by=buyer, amount=7_000)] * THREADS
        )
        assert result.unexpected == []
        wins = sum(n for k, n in result.outcomes.items() if k.endswith(":ok"))
        refused = sum(n for k, n in result.outcomes.items() if k.endswith(":InvalidRequest"))
        assert (wins, refused) == (4, THREADS - 4), result.outcomes
        first = refresh(first)
        assert (first.status, first.released_part, first.remaining_amount) == (
            MilestoneStatus.PENDING,
            28_000,
            2_000,
        )
        assert released_of(first) == 28_000
        assert wallet_balance(seller, "USD") == 28_000
        assert_ledger_invariants()


def test_parts_racing_the_whole_release_and_a_refund_never_pay_out_more_than_the_stage():
    rng = random.Random("part-release-race")
    for _ in range(ROUNDS):
        seller, buyer = UserFactory(), UserFactory()
        escrow = make_escrow(seller, parts=(30_000, 70_000))
        fund(escrow, buyer)
        first = milestones(escrow)[0]
        actions = {
            "part": partial(services.milestone_release_part, milestone=first, by=buyer, amount=10_000),
            "release": partial(services.milestone_release, milestone=first, by=buyer),
            "refund": partial(services.milestone_refund, milestone=first, by=seller),
        }
        names = [name for name in actions for _ in range(THREADS // len(actions))]
        rng.shuffle(names)
        result = race([actions[n] for n in names], label=names.__getitem__)
        assert result.unexpected == []
        ok = {n: result.outcomes.get(f"{n}:ok", 0) for n in actions}
        first = refresh(first)
        # Exactly one settles the stage; parts may go before it, never after it.
        assert ok["release"] + ok["refund"] + (1 if ok["part"] == 3 else 0) == 1, result.outcomes
        assert first.is_settled
        released, refunded = released_of(first), wallet_balance(buyer, "USD")
        assert released == wallet_balance(seller, "USD")
        assert released + refunded == 30_000
        assert released <= first.amount
        if first.status == MilestoneStatus.REFUNDED:
            assert (released, refunded) == (10_000 * ok["part"], 30_000 - 10_000 * ok["part"])
        else:
            assert first.status == MilestoneStatus.RELEASED and refunded == 0
        assert_ledger_invariants()
