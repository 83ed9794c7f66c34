"""Migration 0009 (review clock) gives milestones delivered before it the deadline the old timer
computed: delivered at + the escrow's inspection period."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from escrows.models import Milestone
from tests.helpers import clear_ledger_before_flush, fund, make_escrow, milestones

BEFORE = [("escrows", "0008_refunds")]
AFTER = [("escrows", "0009_clock")]


@pytest.mark.django_db(transaction=True)
def test_backfill_sets_deadlines_of_delivered_milestones(seller, buyer):
    from escrows import services

    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller)
    delivered_at = timezone.now() - timedelta(days=3)
    Milestone.objects.filter(pk=first.pk).update(completed_at=delivered_at, review_deadline=None)
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        executor.loader.build_graph()
        executor.migrate(AFTER)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert Milestone.objects.get(pk=first.pk).review_deadline == delivered_at + escrow.inspection_period
    assert Milestone.objects.get(pk=second.pk).review_deadline is None
    clear_ledger_before_flush()
