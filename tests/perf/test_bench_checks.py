"""The bench's own bookkeeping: the lines a lagging wrk thread skipped are found (and sent
before the next cell), and the correctness check after the run sees a broken ledger."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from bench.explain import seq_scans
from bench.run import unsent_lines
from bench.verify import ledger_checks, not_done
from escrows.models import Escrow, EscrowStatus, LedgerAccount, Milestone, MilestoneStatus


def test_unsent_lines_are_those_a_lagging_thread_did_not_reach():
    # Two threads from line 100: thread 0 sent 100, 102, 104, 106; thread 1 only 101, 103.
    assert unsent_lines(100, 7, [4, 2]) == [105]
    # Even progress leaves nothing behind; nothing sent, nothing to catch up.
    assert unsent_lines(0, 8, [4, 4]) == []
    assert unsent_lines(5, 0, [0, 0]) == []
    # Three threads, the middle one stalled at its first line.
    assert unsent_lines(0, 9, [3, 0, 3]) == [1, 4, 7]


def test_the_checks_pass_on_sound_data_and_count_what_breaks_it(db):
    if connection.vendor != "postgresql":
        pytest.skip("the bench runs on PostgreSQL only; its checks are PostgreSQL's SQL")
    call_command("generate_data", escrows=40, customers=5, seed=3, stdout=io.StringIO())
    assert set(ledger_checks().values()) == {0}

    released = Milestone.objects.filter(status=MilestoneStatus.RELEASED).first()
    pending = Milestone.objects.filter(
        status=MilestoneStatus.PENDING, escrow__status=EscrowStatus.OPENED
    ).first()
    funded = Escrow.objects.filter(status=EscrowStatus.AWAITING_PAYMENT).first()
    assert not_done([released.public_id], []) == {
        "confirmed milestones (of 1 sent) not released": 0,
        "paid escrows (of 0 sent) still awaiting payment": 0,
    }
    assert list(not_done([released.public_id, pending.public_id], [funded.public_id]).values()) == [1, 1]

    account = LedgerAccount.objects.filter(kind="CUSTOMER_MAIN", balance__gt=0).first()
    LedgerAccount.objects.filter(pk=account.pk).update(balance=F("balance") + 1)
    Escrow.objects.filter(pk=pending.escrow_id).update(status=EscrowStatus.COMPLETED)
    checks = ledger_checks()
    assert checks["accounts whose balance is not the sum of their entries"] == 1
    assert checks["closed escrows still holding money"] == 1


def test_plans_name_the_large_tables_read_sequentially(db):
    if connection.vendor != "postgresql":
        pytest.skip("the bench runs on PostgreSQL only; EXPLAIN's text is PostgreSQL's")
    unindexed = 'SELECT id FROM escrows_escrow WHERE title = %s AND "description" <> %s'
    assert seq_scans(unindexed, ["x", "y"], {"escrows_escrow"}) == ["escrows_escrow"]
    # Only tables called large count (a small table is read whole whatever its indexes).
    assert seq_scans(unindexed, ["x", "y"], {"escrows_milestone"}) == []
    assert seq_scans("BEGIN", None, {"escrows_escrow"}) == []
