"""The party who opened a dispute may withdraw it while it is open: the milestone goes back to
where it was (a delivered one gets a fresh review period from now), a whole-escrow dispute lets
the escrow resume, and each step is in the event log with who did it and which dispute it was."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidState, NotFound
from escrows import services
from escrows.models import DisputeStatus, EscrowStatus, Event, MilestoneStatus
from escrows.services import EscrowTerms
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    return escrow


def _open(escrow, index, by):
    return services.dispute_open(escrow=escrow, milestone=milestones(escrow)[index], by=by, reason="Late")


def test_a_delivered_milestone_is_delivered_again_with_a_fresh_review_period(funded, seller, buyer):
    first = milestones(funded)[0]
    services.milestone_complete(milestone=first, by=seller)
    dispute = _open(funded, 0, buyer)
    services.dispute_withdraw(dispute=dispute, by=buyer)

    withdrawn = refresh(dispute)
    assert withdrawn.status == DisputeStatus.WITHDRAWN
    assert abs(withdrawn.withdrawn_at - timezone.now()) < timedelta(seconds=5)
    milestone = refresh(first)
    assert milestone.status == MilestoneStatus.COMPLETED
    expected = timezone.now() + funded.inspection_period
    assert abs(milestone.review_deadline - expected) < timedelta(seconds=5)
    assert milestone.review_extended_at is None and milestone.reminder_sent_at is None

    undisputed = Event.objects.get(kind="milestone.undisputed")
    assert (undisputed.actor, undisputed.escrow_id, undisputed.milestone_id) == (buyer, funded.pk, first.pk)
    assert (undisputed.from_status, undisputed.to_status) == (
        MilestoneStatus.DISPUTED,
        MilestoneStatus.COMPLETED,
    )
    assert undisputed.details == {"dispute": dispute.public_id, "index": 0}
    event = Event.objects.get(kind="dispute.withdrawn")
    assert (event.actor, event.escrow_id, event.milestone_id) == (buyer, funded.pk, first.pk)
    assert (event.from_status, event.to_status) == (DisputeStatus.OPEN, DisputeStatus.WITHDRAWN)
    assert event.details == {"dispute": dispute.public_id, "withdrawnBy": "buyer"}


def test_a_pending_milestone_is_pending_again(funded, seller):
    second = milestones(funded)[1]
    dispute = _open(funded, 1, seller)
    services.dispute_withdraw(dispute=dispute, by=seller)
    milestone = refresh(second)
    assert milestone.status == MilestoneStatus.PENDING
    assert milestone.review_deadline is None
    undisputed = Event.objects.get(kind="milestone.undisputed")
    assert (undisputed.from_status, undisputed.to_status) == (
        MilestoneStatus.DISPUTED,
        MilestoneStatus.PENDING,
    )
    assert undisputed.details == {"dispute": dispute.public_id, "index": 1}
    assert Event.objects.get(kind="dispute.withdrawn").details == {
        "dispute": dispute.public_id,
        "withdrawnBy": "seller",
    }


def test_a_whole_escrow_dispute_withdrawn_lets_the_escrow_resume(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Scratched")
    services.dispute_withdraw(dispute=dispute, by=buyer)
    assert refresh(escrow).status == EscrowStatus.OPENED
    resumed = Event.objects.get(kind="escrow.resumed")
    assert (resumed.actor, resumed.escrow_id) == (buyer, escrow.pk)
    assert (resumed.from_status, resumed.to_status) == (EscrowStatus.DISPUTED, EscrowStatus.OPENED)
    event = Event.objects.get(kind="dispute.withdrawn")
    assert event.milestone_id is None
    assert event.details == {"dispute": dispute.public_id, "withdrawnBy": "buyer"}


def test_only_the_opener_withdraws_an_open_dispute(funded, seller, buyer, stranger):
    dispute = _open(funded, 0, buyer)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the party who opened this dispute can withdraw it$"):
        services.dispute_withdraw(dispute=dispute, by=seller)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.dispute_withdraw(dispute=dispute, by=stranger)
    assert ledger_fingerprint() == before
    assert refresh(dispute).status == DisputeStatus.OPEN
    services.dispute_withdraw(dispute=dispute, by=buyer)
    with pytest.raises(InvalidState, match="^This dispute is already withdrawn$") as refused:
        services.dispute_withdraw(dispute=dispute, by=buyer)
    assert refused.value.code == "dispute_closed"
