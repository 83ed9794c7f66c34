"""The generator writes the same shapes the services would: the ledger invariants hold on its
output, and the services keep working on the rows it made."""

import io
from collections import Counter

from django.core.management import call_command

from escrows import services
from escrows.models import Escrow, EscrowStatus, Event, LedgerTransaction, Milestone, MilestoneStatus
from tests.helpers import assert_ledger_invariants, milestones, refresh


def test_generated_data_covers_every_state_and_keeps_the_ledger_invariants(db):
    call_command("generate_data", escrows=80, customers=6, seed=7, batch=30, stdout=io.StringIO())

    assert Escrow.objects.count() == 80
    assert Milestone.objects.count() == 240
    states = Counter(Escrow.objects.values_list("status", flat=True))
    # A milestone escrow is never disputed as a whole: its disputes freeze one milestone.
    assert set(states) == set(EscrowStatus.values) - {EscrowStatus.DISPUTED}
    assert set(Milestone.objects.values_list("status", flat=True)) == set(MilestoneStatus.values)
    # Each disputed milestone has its live dispute, each split one the dispute resolved as a split.
    for status, dispute_status in ((MilestoneStatus.DISPUTED, "OPEN"), (MilestoneStatus.SPLIT, "RESOLVED")):
        for m in Milestone.objects.filter(status=status):
            assert [d.status for d in m.disputes.all()] == [dispute_status], m
    # Every released milestone has exactly one RELEASE posting (checked by the invariants too).
    released = Milestone.objects.filter(status=MilestoneStatus.RELEASED).count()
    assert LedgerTransaction.objects.filter(kind="RELEASE").count() == released
    assert Event.objects.filter(kind="escrow.created").count() == 80
    assert_ledger_invariants()


def test_services_work_on_generated_rows(db):
    call_command("generate_data", escrows=40, customers=4, seed=3, stdout=io.StringIO())

    opened = (
        Escrow.objects.filter(status=EscrowStatus.OPENED, milestones__status=MilestoneStatus.PENDING)
        .exclude(milestones__status=MilestoneStatus.DISPUTED)
        .select_related("buyer")
        .first()
    )
    assert opened is not None
    for m in milestones(opened):
        if not m.is_settled:
            services.milestone_release(milestone=m, by=opened.buyer)
    assert refresh(opened).status == EscrowStatus.COMPLETED

    waiting = Escrow.objects.filter(status=EscrowStatus.AWAITING_PAYMENT).select_related("buyer").first()
    assert waiting is not None
    # The generator left every wallet able to pay more (a benchmark funds through the API).
    services.escrow_fund(escrow=waiting, by=waiting.buyer)
    assert refresh(waiting).status == EscrowStatus.OPENED
    assert_ledger_invariants()
