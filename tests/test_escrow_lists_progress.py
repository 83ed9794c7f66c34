"""A list of escrows shows, for each, what was released to the seller's side and what went back
to the buyer (to their balance or to their card), read in the list's own query; and the status a
person sees, Disputed while a stage is under a live dispute. An escrow read without its dispute
state cannot be shown with a status by mistake."""

import pytest

from escrows import selectors, services
from escrows.models import Escrow, EscrowStatus
from escrows.selectors import escrow_get_for_user, status_shown, with_progress
from escrows.services import StageEdit
from tests.helpers import fund, make_escrow, make_standard, milestones

pytestmark = pytest.mark.django_db


def progress(*escrows):
    """{title: (released, refunded)} for the escrows, read together as a list reads them."""
    qs = with_progress(Escrow.objects.filter(pk__in=[e.pk for e in escrows]))
    return {e.title: (e.released_total, e.refunded_total) for e in qs}


def test_each_escrow_in_a_list_counts_only_its_own_releases_and_refunds(seller, buyer, admin_user):
    untouched = make_escrow(seller, title="Untouched")
    fund(untouched, buyer)
    ruled = make_escrow(seller, title="Ruled")
    fund(ruled, buyer)
    first, second, _ = milestones(ruled)
    services.milestone_release(milestone=first, by=buyer)
    dispute = services.dispute_open(escrow=ruled, milestone=second, by=buyer, reason="Half done")
    # The buyer gets back one cent of the 500.00 stage; the seller the rest.
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=49_999, buyer_amount=1
    )
    unpaid = make_escrow(seller, title="Unpaid")
    assert progress(untouched, ruled, unpaid) == {
        "Untouched": (0, 0),
        "Ruled": (30_000 + 49_999, 1),
        "Unpaid": (0, 0),
    }


def test_a_refund_to_the_card_counts_as_refunded(seller, buyer):
    escrow = make_escrow(seller, title="By card")
    services.escrow_fund(escrow=escrow, by=buyer, source="CARD", card_token="tok_visa")
    services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[2]])
    assert progress(escrow) == {"By card": (0, 20_000)}


def test_an_increase_the_buyer_paid_is_not_a_refund(funded, seller, buyer):
    services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
    third = milestones(funded)[2]
    higher = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=third, amount=40_000)]
    )
    services.change_order_accept(proposal=higher, by=buyer)
    assert progress(funded) == {"Website build": (0, 0)}
    lower = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=third, amount=35_000)]
    )
    services.change_order_accept(proposal=lower, by=buyer)
    assert progress(funded) == {"Website build": (0, 5_000)}


NOT_READ_WITH_DISPUTE_STATE = "status_shown needs an escrow read with with_dispute_state"


def test_an_escrow_read_without_its_dispute_state_is_not_shown_with_a_status(funded, buyer):
    escrow = escrow_get_for_user(buyer, funded.public_id)
    assert not hasattr(escrow, "under_dispute")
    with pytest.raises(ValueError) as refused:
        status_shown(escrow)
    assert refused.value.args == (NOT_READ_WITH_DISPUTE_STATE,)
    with pytest.raises(ValueError) as refused:
        status_shown(Escrow.objects.get(pk=funded.pk))
    assert refused.value.args == (NOT_READ_WITH_DISPUTE_STATE,)


def shown(user, escrow):
    return status_shown(escrow_get_for_user(user, escrow.public_id, dispute_state=True))


def test_the_status_shown_for_each_status(seller, buyer):
    unpaid = make_escrow(seller)
    assert shown(seller, unpaid) == (EscrowStatus.AWAITING_PAYMENT, "Awaiting payment")
    opened = make_escrow(seller)
    fund(opened, buyer)
    assert shown(buyer, opened) == (EscrowStatus.OPENED, "Opened")
    # One stage under a live dispute: the escrow stays open, a person sees it disputed.
    stage_disputed = make_escrow(seller)
    fund(stage_disputed, buyer)
    services.dispute_open(
        escrow=stage_disputed, milestone=milestones(stage_disputed)[0], by=buyer, reason="Late"
    )
    assert Escrow.objects.get(pk=stage_disputed.pk).status == EscrowStatus.OPENED
    assert shown(seller, stage_disputed) == (EscrowStatus.DISPUTED, "Disputed")
    standard = make_standard(seller)
    fund(standard, buyer)
    services.dispute_open(escrow=standard, by=buyer, reason="Never arrived")
    assert shown(buyer, standard) == (EscrowStatus.DISPUTED, "Disputed")
    completed = make_escrow(seller)
    fund(completed, buyer)
    for stage in milestones(completed):
        services.milestone_release(milestone=stage, by=buyer)
    assert shown(buyer, completed) == (EscrowStatus.COMPLETED, "Completed")
    refunded = make_escrow(seller)
    fund(refunded, buyer)
    services.escrow_refund(escrow=refunded, by=seller)
    assert shown(seller, refunded) == (EscrowStatus.REFUNDED, "Refunded")
    cancelled = make_escrow(seller)
    services.escrow_cancel(escrow=cancelled, by=seller)
    assert shown(seller, cancelled) == (EscrowStatus.CANCELLED, "Cancelled")
    # The list reads the same state for all of them at once.
    listed = selectors.with_dispute_state(Escrow.objects.order_by("pk"))
    assert [status_shown(e)[0] for e in listed] == [
        EscrowStatus.AWAITING_PAYMENT,
        EscrowStatus.OPENED,
        EscrowStatus.DISPUTED,
        EscrowStatus.DISPUTED,
        EscrowStatus.COMPLETED,
        EscrowStatus.REFUNDED,
        EscrowStatus.CANCELLED,
    ]
