"""Staff who are not a party may rule on a dispute and nothing else: adding evidence, answering
and withdrawing are for the parties, and to anyone else the escrow does not exist. Each step
reads the dispute afresh under the escrow's lock, so a stale copy cannot act on an old status."""

import pytest

from core.errors import InvalidState, NotFound
from escrows import services
from escrows.models import DisputeEvidence, DisputeStatus, Event
from escrows.services import EvidenceInput
from tests.helpers import milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispute(funded, buyer):
    return services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")


@pytest.mark.parametrize(
    "step",
    [
        lambda d, by: services.dispute_add_evidence(dispute=d, by=by, evidence=EvidenceInput(text="Seen it")),
        lambda d, by: services.dispute_answer(dispute=d, by=by, answer="accept"),
        lambda d, by: services.dispute_withdraw(dispute=d, by=by),
    ],
    ids=["evidence", "answer", "withdraw"],
)
def test_staff_who_are_not_a_party_cannot_take_a_partys_step(dispute, admin_user, step):
    events = Event.objects.count()
    with pytest.raises(NotFound, match="^Escrow not found$"):
        step(dispute, admin_user)
    assert refresh(dispute).status == DisputeStatus.OPEN
    assert Event.objects.count() == events and not DisputeEvidence.objects.exists()


def test_staff_rule_without_being_a_party(dispute, admin_user):
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    assert refresh(dispute).resolved_by == admin_user


def test_a_stale_copy_of_the_dispute_acts_on_its_current_status(dispute, seller, buyer):
    stale = dispute  # still says OPEN
    services.dispute_answer(dispute=dispute, by=seller, answer="contest")
    with pytest.raises(InvalidState, match="^This dispute is already answered$"):
        services.dispute_answer(dispute=stale, by=seller, answer="accept")
    services.dispute_withdraw(dispute=stale, by=buyer)
    event = Event.objects.get(kind="dispute.withdrawn")
    assert (event.from_status, event.to_status) == (DisputeStatus.ANSWERED, DisputeStatus.WITHDRAWN)
