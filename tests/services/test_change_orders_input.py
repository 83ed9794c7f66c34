"""A proposed change order read from what a party sent, refused in detail (the code, the field
and both wordings): no change at all, more than twenty, a new stage's description or a stage's
new title that is not text, an edit that leaves its stage as it is; a due date left out of an
edit keeps the stage's own; an escrow that takes no change order says why with its own code;
a proposal sent without a note keeps none, and a buyer paying by card names the card."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidState
from escrows import services
from escrows.models import ChangeProposal, Event, FundingSource, Milestone
from escrows.services import StageAdd, StageEdit
from tests.helpers import drafted, fund, make_escrow, make_standard, milestones, refresh, refused_proposal

pytestmark = pytest.mark.django_db


def due_in(days):
    return timezone.now().replace(microsecond=0) + timedelta(days=days)


# -- how many changes -------------------------------------------------------------------------


def test_a_proposal_with_no_change_is_refused(funded, seller):
    assert refused_proposal(funded, seller, []) == (
        "no_changes",
        "changes",
        "Propose at least one change",
        "Propose at least one change.",
    )


def test_twenty_changes_are_proposed_and_one_more_is_refused(funded, seller):
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageAdd(amount=100) for _ in range(20)]
    )
    assert len(proposal.changes) == 20
    services.change_order_withdraw(proposal=proposal, by=seller)
    assert refused_proposal(funded, seller, [StageAdd(amount=100) for _ in range(21)]) == (
        "too_many_changes",
        "changes",
        "At most 20 changes in one proposal",
        "At most 20 changes in one proposal",
    )


# -- text that is not text --------------------------------------------------------------------


def test_a_new_stage_description_that_is_not_text_is_refused_with_the_change_named(funded, seller):
    changes = [StageAdd(amount=1_000), StageAdd(amount=1_000, description=7)]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: description must be text",
        "New stage: enter the description as text.",
    )


def test_a_stage_title_that_is_not_text_is_refused_with_the_stage_named(funded, seller):
    third = milestones(funded)[2]
    changes = [StageAdd(amount=1_000), StageEdit(milestone=third, title=["Launch"])]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: title must be text",
        "Stage 3: enter the title as text.",
    )


# -- an edit that changes nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        {},
        {"amount": 50_000, "title": "  Stage 1  ", "description": ""},
        {"due_date": "the stage's own"},
    ],
    ids=["nothing-named", "same-values", "same-due-date"],
)
def test_an_edit_that_leaves_its_stage_as_it_is_is_refused(funded, seller, edit):
    second = milestones(funded)[1]
    own_due = due_in(7)
    Milestone.objects.filter(pk=second.pk).update(due_date=own_due)
    if "due_date" in edit:
        edit = {"due_date": own_due}
    changes = [StageAdd(amount=1_000), StageEdit(milestone=second, **edit)]
    assert refused_proposal(funded, seller, changes) == (
        "nothing_changes",
        "changes",
        "changes[1]: the change leaves the stage as it is",
        "Stage 2: nothing would change; change its amount, title, description or due date.",
    )


# -- due dates --------------------------------------------------------------------------------


def test_an_edit_without_a_due_date_keeps_the_stage_s_own(funded, seller):
    first = milestones(funded)[0]
    Milestone.objects.filter(pk=first.pk).update(due_date=due_in(7))
    rows = drafted(funded, seller, [StageEdit(milestone=first, amount=31_000)])
    assert (rows[0]["before"], rows[0]["after"]) == ({"amount": 30_000}, {"amount": 31_000})


def test_a_moved_due_date_records_the_one_it_replaces(funded, seller):
    first = milestones(funded)[0]
    old, new = due_in(7), due_in(14)
    Milestone.objects.filter(pk=first.pk).update(due_date=old)
    rows = drafted(funded, seller, [StageEdit(milestone=first, due_date=new)])
    assert (rows[0]["before"], rows[0]["after"]) == (
        {"dueDate": old.isoformat()},
        {"dueDate": new.isoformat()},
    )


# -- escrows that take no change order --------------------------------------------------------


def test_a_standard_escrow_takes_no_change_order_paid_or_not(seller, buyer):
    standard = make_standard(seller)
    expected = ("not_milestone_escrow", None, "A standard escrow has no stages to change")
    assert refused_proposal(standard, seller, [StageAdd(amount=1_000)], InvalidState)[:3] == expected
    services.wallet_topup(customer=buyer, amount=standard.total_charge, currency="USD")
    services.escrow_fund(escrow=standard, by=buyer)
    assert refused_proposal(standard, seller, [StageAdd(amount=1_000)], InvalidState)[:3] == expected


def test_a_closed_escrow_takes_no_change_order(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.escrow_refund(escrow=escrow, by=seller)
    assert refused_proposal(escrow, buyer, [StageAdd(amount=1_000)], InvalidState) == (
        "escrow_closed",
        None,
        "This escrow is refunded; its terms can no longer change",
        "This escrow is refunded; its terms can no longer change",
    )
    assert not ChangeProposal.objects.filter(escrow=escrow).exists()


# -- what the proposal keeps when the party leaves things out ---------------------------------


def test_a_proposal_sent_without_a_note_keeps_none(funded, seller):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=1_000)])
    event = Event.objects.get(kind="change_order.proposed", escrow=funded)
    assert (refresh(proposal).note, event.details["note"]) == ("", "")


def test_a_buyer_paying_an_increase_by_card_is_asked_for_the_card(funded, buyer):
    assert refused_proposal(funded, buyer, [StageAdd(amount=1_000)], pay_source=FundingSource.CARD) == (
        "invalid_request",
        "cardToken",
        "cardToken is required to pay by card",
        "Enter the card to pay with.",
    )
    assert not ChangeProposal.objects.filter(escrow=funded).exists()
