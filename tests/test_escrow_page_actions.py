"""The buttons each viewer gets on the escrow page, the whole answer at once for each state:
an unpaid, a funded, a delivered and a standard escrow, for the seller, the buyer and anyone
else; and what each may do about refunds and a mutual cancellation, including a proposal that
no longer matches what is held."""

import pytest

from escrows import services
from escrows.permissions import EscrowActions, RefundActions, escrow_actions, refund_actions
from escrows.services import EscrowTerms
from tests.helpers import fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def test_an_unpaid_escrow(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer=buyer)
    stages = milestones(escrow)
    assert escrow_actions(escrow, stages, seller) == EscrowActions(
        role="seller", can_edit=True, can_cancel=True
    )
    assert escrow_actions(escrow, stages, buyer) == EscrowActions(
        role="buyer", can_cancel=True, can_fund=True
    )
    assert escrow_actions(escrow, stages, stranger) == EscrowActions(role=None)
    assert not EscrowActions(role=None).any
    assert refund_actions(escrow, stages, buyer) == RefundActions(role="buyer")
    assert refund_actions(escrow, stages, stranger) == RefundActions(role=None)


def test_a_funded_escrow(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    escrow = refresh(escrow)
    first, second, third = stages = milestones(escrow)
    assert escrow_actions(escrow, stages, seller) == EscrowActions(
        role="seller", can_refund=True, disputable=(first, second, third), deliverable=first
    )
    assert escrow_actions(escrow, stages, buyer) == EscrowActions(
        role="buyer", disputable=(first, second, third), releasable=first, part_releasable=first
    )
    buyer_refunds = refund_actions(escrow, stages, buyer)
    assert buyer_refunds == RefundActions(
        role="buyer",
        held=100_000,
        refundable=(first, second, third),
        can_request_refund=True,
        can_propose_cancellation=True,
    )
    assert not buyer_refunds.can_refund_milestones  # the stages listed, but refunding is the seller's
    seller_refunds = refund_actions(escrow, stages, seller)
    assert seller_refunds == RefundActions(
        role="seller", held=100_000, refundable=(first, second, third), can_propose_cancellation=True
    )
    assert seller_refunds.can_refund_milestones and seller_refunds.any


def test_the_buyer_may_release_part_of_the_stage_they_may_release_while_more_than_a_cent_is_left(
    seller, buyer
):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=first.amount - 2)
    escrow = refresh(escrow)
    stages = milestones(escrow)
    assert escrow_actions(escrow, stages, buyer).part_releasable == stages[0]
    assert escrow_actions(escrow, stages, seller).part_releasable is None
    services.milestone_release_part(milestone=stages[0], by=buyer, amount=1)
    escrow = refresh(escrow)
    stages = milestones(escrow)
    # One cent left: only the release of the rest.
    actions = escrow_actions(escrow, stages, buyer)
    assert (actions.releasable, actions.part_releasable) == (stages[0], None)


def test_a_delivered_stage_may_be_extended_by_the_buyer_only(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    escrow = refresh(escrow)
    first, second, third = stages = milestones(escrow)
    assert escrow_actions(escrow, stages, buyer) == EscrowActions(
        role="buyer",
        disputable=(first, second, third),
        releasable=first,
        part_releasable=first,
        extendable=frozenset({first.pk}),
        changes_requestable=frozenset({first.pk}),
    )
    assert escrow_actions(escrow, stages, seller).extendable == frozenset()
    assert escrow_actions(escrow, stages, seller).changes_requestable == frozenset()
    assert escrow_actions(escrow, stages, seller).deliverable is None


def test_a_standard_escrow_is_disputed_whole(seller, buyer):
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Laptop", currency="USD", amount=80_000, settlement_type="STANDARD"),
        milestones=[],
    )
    fund(escrow, buyer)
    escrow = refresh(escrow)
    assert escrow_actions(escrow, [], seller) == EscrowActions(
        role="seller", can_refund=True, can_dispute=True
    )
    assert escrow_actions(escrow, [], buyer) == EscrowActions(role="buyer", can_dispute=True)
    assert refund_actions(escrow, [], buyer) == RefundActions(
        role="buyer", held=80_000, can_request_refund=True, can_propose_cancellation=True
    )
    assert refund_actions(escrow, [], seller).refundable == ()


def test_open_requests_and_proposals_go_to_the_right_party(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    request = services.refund_request_create(escrow=escrow, by=buyer, reason="Never started")
    proposal = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    escrow = refresh(escrow)
    stages = milestones(escrow)
    for_buyer = refund_actions(escrow, stages, buyer, refund_request=request, proposal=proposal)
    assert for_buyer == RefundActions(
        role="buyer",
        held=100_000,
        refundable=tuple(stages),
        refund_request=request,
        can_withdraw_refund_request=True,
        proposal=proposal,
        can_withdraw_proposal=True,
    )
    for_seller = refund_actions(escrow, stages, seller, refund_request=request, proposal=proposal)
    assert for_seller == RefundActions(
        role="seller",
        held=100_000,
        refundable=tuple(stages),
        refund_request=request,
        can_answer_refund_request=True,
        proposal=proposal,
        can_answer_proposal=True,
    )


def test_a_proposal_that_no_longer_matches_what_is_held_can_only_be_withdrawn(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    proposal = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    escrow = refresh(escrow)
    stages = milestones(escrow)
    proposal = refresh(proposal)
    for_seller = refund_actions(escrow, stages, seller, proposal=proposal)
    assert for_seller.held == 70_000
    assert (for_seller.can_answer_proposal, for_seller.can_propose_cancellation) == (False, True)
    assert refund_actions(escrow, stages, buyer, proposal=proposal).can_withdraw_proposal is True


def test_no_cancellation_is_offered_while_a_stage_is_disputed(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="Late")
    escrow = refresh(escrow)
    assert refund_actions(escrow, milestones(escrow), buyer).can_propose_cancellation is False


def test_a_cancellation_is_offered_while_a_single_minor_unit_is_held(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, parts=(1, 1))
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    escrow = refresh(escrow)
    actions = refund_actions(escrow, milestones(escrow), buyer)
    assert (actions.held, actions.can_propose_cancellation) == (1, True)
