"""A chargeback's freeze holds back the release that a delivery would trigger on its own: the
seller may still mark the stage delivered, but the money stays in the hold."""

import pytest

from escrows import services
from escrows.ledger import cached_balance, hold_account
from escrows.models import Escrow, LedgerTransaction, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_a_delivery_on_a_frozen_escrow_releases_nothing_on_proof(seller, buyer):
    escrow = make_escrow(seller, auto_release_on_proof=True)
    fund(escrow, buyer)
    Escrow.objects.filter(pk=escrow.pk).update(frozen_by_chargeback=True)

    services.milestone_complete(milestone=milestones(escrow)[0], by=seller)

    first = milestones(escrow)[0]
    assert first.status == MilestoneStatus.COMPLETED
    assert cached_balance(hold_account(escrow)) == 100_000
    assert wallet_balance(seller, "USD") == 0
    assert not LedgerTransaction.objects.filter(escrow=escrow, kind="RELEASE").exists()
