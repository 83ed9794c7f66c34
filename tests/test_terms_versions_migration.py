"""Migration 0014 records the terms every existing escrow stands on as its current version:
proposed and agreed by the seller when they were last set, agreed by the buyer when funded."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from escrows import services
from escrows.models import Escrow, Event, TermsVersion
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import clear_ledger_before_flush, fund, make_escrow, milestones


def agreed(version):
    return version.seller_agreed_at, version.buyer_agreed_at


BEFORE = [("escrows", "0013_milestone_partial_release_changes_due_dates")]
AFTER = [("escrows", "0014_terms_versions")]


@pytest.mark.django_db(transaction=True)
def test_existing_escrows_get_their_current_version(seller, buyer):
    funded = make_escrow(seller, parts=(30_000, 50_000))
    fund(funded, buyer)
    edited = make_escrow(seller)
    services.escrow_edit(
        escrow=edited,
        by=seller,
        terms=EscrowTerms(title="Edited", currency="USD", amount=70_000),
        milestones=[MilestoneInput(amount=20_000), MilestoneInput(amount=50_000, title="Second")],
    )
    edited_at = timezone.now() - timedelta(hours=3)
    Event.objects.filter(escrow=edited, kind="escrow.edited").update(created_at=edited_at)
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        executor.loader.build_graph()
        executor.migrate(AFTER)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    funded, edited = Escrow.objects.get(pk=funded.pk), Escrow.objects.get(pk=edited.pk)
    rows = {
        v.escrow_id: (
            v.number,
            v.reason,
            v.proposer_role,
            v.proposed_at,
            v.seller_agreed_at,
            v.buyer_agreed_at,
        )
        for v in TermsVersion.objects.all()
    }
    assert rows == {
        funded.pk: (1, "created", "seller", funded.created_at, funded.created_at, funded.funded_at),
        edited.pk: (2, "edited", "seller", edited_at, edited_at, None),
    }
    version = TermsVersion.objects.get(escrow=edited)
    assert version.terms["amount"] == 70_000 and version.terms["title"] == "Edited"
    assert [(s["id"], s["amount"], s["title"]) for s in version.stages] == [
        (m.public_id, m.amount, m.title) for m in milestones(edited)
    ]
    clear_ledger_before_flush()
