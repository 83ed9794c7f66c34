import pytest

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import Event
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def _edit(escrow, by, parts=(60_000, 60_000, 80_000), **terms):
    terms = {"title": "Bigger build", "currency": "USD", "amount": sum(parts), **terms}
    return services.escrow_edit(
        escrow=escrow,
        by=by,
        terms=EscrowTerms(**terms),
        milestones=[MilestoneInput(amount=p) for p in parts],
    )


def test_seller_edit_replaces_milestones_and_recomputes_fee(seller):
    escrow = make_escrow(seller)
    old_ids = {m.public_id for m in milestones(escrow)}
    _edit(escrow, seller)
    escrow = refresh(escrow)
    assert escrow.title == "Bigger build"
    assert escrow.amount == 200_000
    assert escrow.fee == 3_000
    new = milestones(escrow)
    assert [m.amount for m in new] == [60_000, 60_000, 80_000]
    assert old_ids.isdisjoint({m.public_id for m in new})
    assert Event.objects.filter(escrow=escrow, kind="escrow.edited").count() == 1


def test_buyer_cannot_edit(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden):
        _edit(escrow, buyer)
    assert ledger_fingerprint() == before


def test_stranger_gets_not_found(seller, stranger):
    escrow = make_escrow(seller)
    with pytest.raises(NotFound):
        _edit(escrow, stranger)


def test_edit_refused_after_funding(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="only be edited while it is awaiting payment"):
        _edit(escrow, seller)
    assert ledger_fingerprint() == before


def test_edit_applies_same_rules_as_create(seller):
    escrow = make_escrow(seller)
    with pytest.raises(InvalidRequest, match="must sum"):
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[MilestoneInput(amount=10), MilestoneInput(amount=10)],
        )
    assert refresh(escrow).title == "Website build"
    assert len(milestones(escrow)) == 3
