"""Sending a delivered stage back under real concurrency: the buyer's requests for changes (a
double submit, two tabs), their release and a dispute all race for one stage. At most one round
is counted and recorded, nothing is released twice, and the ledger stays sound."""

import random
from functools import partial

import pytest
from django.db import connection

from escrows import services
from escrows.models import Event, MilestoneStatus
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh
from tests.races.racing import connection_pool, race
from tests.reliability import figures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PER_ACTION = 4
SECTION = "request changes/release/dispute"


@pytest.fixture(autouse=True)
def _postgres_with_a_big_pool():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    with connection_pool(3 * PER_ACTION + 5):
        yield


def test_requests_for_changes_racing_a_release_and_a_dispute_count_one_round():
    rounds = figures.scaled(6)
    rng = random.Random(f"changes-race-{rounds}")
    for _ in range(rounds):
        seller, buyer = UserFactory(), UserFactory()
        escrow = make_escrow(seller, parts=(30_000, 70_000))
        fund(escrow, buyer)
        first = milestones(escrow)[0]
        services.milestone_complete(milestone=first, by=seller, proof="v1")
        actions = {
            "changes": partial(services.milestone_request_changes, milestone=first, by=buyer, note="Fix it"),
            "release": partial(services.milestone_release, milestone=first, by=buyer),
            "dispute": partial(services.dispute_open, escrow=escrow, by=buyer, reason="No", milestone=first),
        }
        names = [name for name in actions for _ in range(PER_ACTION)]
        rng.shuffle(names)
        result = race([actions[n] for n in names], label=names.__getitem__)
        figures.add(SECTION, "races run")
        assert result.unexpected == []
        first = refresh(first)
        rounds_recorded = Event.objects.filter(kind="milestone.changes_requested", milestone=first).count()
        assert result.outcomes.get("changes:ok", 0) == rounds_recorded == first.changes_requested_count <= 1
        assert result.outcomes.get("release:ok", 0) <= 1
        assert Event.objects.filter(kind="milestone.released", milestone=first).count() == (
            result.outcomes.get("release:ok", 0)
        )
        if first.changes_requested_count:
            # Sent back first: whatever came after, the stage was never delivered again.
            assert first.status != MilestoneStatus.COMPLETED and first.review_deadline is None
        assert_ledger_invariants()
