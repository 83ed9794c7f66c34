"""The API's confirm addresses a stage by the escrow's and the milestone's public ids: an escrow
that is missing and one that is someone else's get the same "Escrow not found", a stage of
another escrow "Milestone not found", and a release is recorded as the buyer's."""

import pytest

from core.errors import Forbidden, NotFound
from escrows import services
from escrows.models import Event, MilestoneStatus
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def test_the_buyer_confirms_and_the_release_is_theirs(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_confirm(escrow_id=escrow.public_id, milestone_id=first.public_id, by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    released = Event.objects.get(kind="milestone.released", milestone=first)
    assert (released.actor, released.actor_kind) == (buyer, "user")


def test_who_and_what_is_not_found(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer=buyer)
    other = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    before = ledger_fingerprint()
    for escrow_id, by in (("esc_missing", buyer), (escrow.public_id, stranger)):
        with pytest.raises(NotFound, match="^Escrow not found$"):
            services.milestone_confirm(escrow_id=escrow_id, milestone_id=first.public_id, by=by)
    with pytest.raises(NotFound, match="^Milestone not found$"):
        services.milestone_confirm(
            escrow_id=escrow.public_id, milestone_id=milestones(other)[0].public_id, by=buyer
        )
    with pytest.raises(Forbidden, match="^Only the buyer can release a milestone$"):
        services.milestone_confirm(escrow_id=escrow.public_id, milestone_id=first.public_id, by=seller)
    assert ledger_fingerprint() == before
