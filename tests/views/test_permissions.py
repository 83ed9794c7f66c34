"""escrow_actions is the one answer to 'what may this viewer press now'; the page draws it."""

from escrows import services
from escrows.permissions import escrow_actions, reserved_for_other
from escrows.services import EscrowTerms
from tests.helpers import fund, make_escrow, milestones, refresh


def actions(escrow, user):
    escrow = refresh(escrow)
    return escrow_actions(escrow, milestones(escrow), user)


def test_unpaid_escrow_seller_may_edit_and_cancel_only(seller):
    escrow = make_escrow(seller)
    a = actions(escrow, seller)
    assert (a.role, a.can_edit, a.can_cancel) == ("seller", True, True)
    assert not (a.can_refund or a.can_dispute or a.can_fund or a.deliverable or a.releasable)


def test_stranger_may_do_nothing(seller, stranger):
    escrow = make_escrow(seller)
    a = actions(escrow, stranger)
    assert a.role is None and not a.any


def test_funded_escrow_buyer_releases_first_stage_seller_delivers_it(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    b = actions(escrow, buyer)
    assert b.releasable == first and b.disputable == tuple(milestones(escrow)) and not b.can_dispute
    assert not (b.can_edit or b.can_refund or b.can_cancel or b.can_fund or b.deliverable)
    s = actions(escrow, seller)
    assert s.deliverable == first and s.can_refund and s.disputable == tuple(milestones(escrow))
    assert not (s.can_edit or s.can_cancel or s.releasable or s.can_fund)


def test_next_stage_moves_on_after_release(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    assert actions(escrow, buyer).releasable == second
    assert actions(escrow, seller).deliverable == second


def test_delivered_stage_is_still_releasable_but_not_deliverable(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    assert actions(escrow, buyer).releasable == first
    assert actions(escrow, seller).deliverable is None


def test_disputed_and_closed_escrows_offer_nothing(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=5_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    assert actions(escrow, buyer).can_dispute and actions(escrow, seller).can_dispute
    services.dispute_open(escrow=escrow, by=buyer, reason="late")
    assert not actions(escrow, buyer).any
    assert not actions(escrow, seller).any
    other = make_escrow(seller, parts=(100, 200))
    fund(other, buyer)
    for m in milestones(other):
        services.milestone_release(milestone=m, by=buyer)
    assert refresh(other).status == "COMPLETED"
    assert not actions(other, buyer).any and not actions(other, seller).any


def test_link_reserved_by_email(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer_email=buyer.email)
    assert not reserved_for_other(escrow, buyer)
    assert reserved_for_other(escrow, stranger)
    assert not reserved_for_other(make_escrow(seller), stranger)


def test_a_disputed_milestone_is_skipped_not_blocking(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    assert actions(escrow, buyer).disputable == (first, second, third)
    assert not actions(escrow, buyer).can_dispute  # whole-escrow disputes: standard escrows only
    services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="late")
    assert actions(escrow, buyer).releasable == second
    assert actions(escrow, seller).deliverable == second
    assert actions(escrow, seller).disputable == (second, third)
