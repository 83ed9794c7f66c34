"""Regressions for bugs the state machine found (each test named for what it proves)."""

import pytest

from escrows import services
from escrows.models import Event, Milestone
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import assert_ledger_invariants, fund

pytestmark = pytest.mark.django_db


def test_escrow_with_milestones_added_one_by_one_can_still_be_edited(seller, buyer):
    """Found by the state machine: milestone_add writes an event pointing at the milestone, and
    the edit's replace-all delete hit that PROTECT foreign key (a 500 for the seller)."""
    escrow = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="Intent", currency="USD", amount=10_000), milestones=None
    )
    added = services.milestone_add(escrow=escrow, by=seller, index=0, milestone=MilestoneInput(amount=4_000))
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Intent, revised", currency="USD", amount=10_000),
        milestones=[MilestoneInput(amount=5_000), MilestoneInput(amount=5_000)],
    )
    assert not Milestone.objects.filter(pk=added.pk).exists()
    # The audit row of the replaced milestone survives and still says which milestone it was.
    created = Event.objects.get(kind="milestone.created", escrow=escrow)
    assert created.milestone is None and created.details["milestone"] == added.public_id
    fund(escrow, buyer)
    assert_ledger_invariants()
