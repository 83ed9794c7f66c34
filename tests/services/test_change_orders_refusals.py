"""Change orders refused, in detail: the code, the field and both wordings (the API's and the
page's) of each refusal; the review step drafting exactly what the proposal would record; a
refund request holding up only its own stages while it is open; a due date that passed between
proposing and accepting."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest, InvalidState
from escrows import services
from escrows.models import FundingSource
from escrows.services import StageAdd, StageEdit
from tests.helpers import at, ledger_fingerprint, milestones, refused_proposal

pytestmark = pytest.mark.django_db


# -- each change's refusal names the change, the field and what to do ------------------------


def test_a_new_stage_without_an_amount_is_refused_as_an_invalid_change(funded, seller):
    assert refused_proposal(funded, seller, [StageAdd(amount=0)]) == (
        "invalid_change",
        "changes",
        "changes[0]: amount must be greater than zero",
        "New stage: enter an amount greater than zero.",
    )


def test_a_due_date_that_is_not_a_date_is_refused_with_the_stage_named(funded, seller):
    first = milestones(funded)[0]
    changes = [StageAdd(amount=1_000), StageEdit(milestone=first, due_date="2999-01-01")]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: dueDate must be a date and time",
        "Stage 1: enter the due date as a date.",
    )


def test_a_due_date_in_the_past_is_refused_with_the_stage_named(funded, seller):
    yesterday = timezone.now() - timedelta(days=1)
    assert refused_proposal(funded, seller, [StageAdd(amount=1_000, due_date=yesterday)]) == (
        "invalid_change",
        "changes",
        "changes[0]: dueDate must be in the future",
        "New stage: the due date must be in the future.",
    )


def test_something_that_is_not_a_change_is_refused_as_an_unknown_change(funded, seller):
    assert refused_proposal(funded, seller, ["add a stage"]) == (
        "invalid_change",
        "changes",
        "changes[0]: unknown change",
        "unknown change.",
    )


# -- the review step drafts what the proposal would record ------------------------------------


def test_the_review_drafts_the_note_the_due_date_and_the_card_the_buyer_named(funded, buyer):
    due = timezone.now() + timedelta(days=10)
    draft = services.change_order_check(
        escrow=funded,
        by=buyer,
        changes=[StageAdd(amount=10_000, title="Extra", due_date=due)],
        note="  One more page  ",
        pay_source=FundingSource.CARD,
        card_token=" tok_visa ",
    )
    assert (draft.role, draft.note, draft.pay_source, draft.card_token) == (
        "buyer",
        "One more page",
        FundingSource.CARD,
        "tok_visa",
    )
    assert draft.rows[0]["dueDate"] == due.isoformat()
    assert (draft.quote.amount_before, draft.quote.amount_after) == (100_000, 110_000)


def test_the_review_without_a_note_drafts_none(funded, seller):
    draft = services.change_order_check(escrow=funded, by=seller, changes=[StageAdd(amount=10_000)])
    assert (draft.note, draft.pay_source, draft.card_token) == ("", "", "")


def test_the_review_asks_a_buyer_paying_by_card_for_the_card(funded, buyer):
    with pytest.raises(InvalidRequest) as refused:
        services.change_order_check(
            escrow=funded, by=buyer, changes=[StageAdd(amount=10_000)], pay_source=FundingSource.CARD
        )
    assert (refused.value.field, refused.value.for_person) == ("cardToken", "Enter the card to pay with.")


# -- an open refund request holds up its own stages only --------------------------------------


def test_a_stage_in_an_open_refund_request_is_refused_with_its_code(funded, seller, buyer):
    second = milestones(funded)[1]
    services.refund_request_create(escrow=funded, by=buyer, reason="Not needed", milestones=[second])
    with pytest.raises(InvalidState) as refused:
        services.change_order_propose(
            escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=1)]
        )
    assert refused.value.code == "refund_request_open"
    assert refused.value.message == "Stage 2 is part of an open refund request; answer or withdraw it first"


def test_a_refund_request_does_not_hold_up_the_other_stages(funded, seller, buyer):
    first, second, _ = milestones(funded)
    services.refund_request_create(escrow=funded, by=buyer, reason="Not needed", milestones=[second])
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=first, amount=31_000)]
    )
    assert proposal.amount_after == 101_000


def test_a_withdrawn_refund_request_no_longer_holds_up_its_stage(funded, seller, buyer):
    second = milestones(funded)[1]
    request = services.refund_request_create(
        escrow=funded, by=buyer, reason="Not needed", milestones=[second]
    )
    services.refund_request_withdraw(refund_request=request, by=buyer)
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    assert proposal.amount_after == 90_000


# -- accepting after the proposed due date passed ---------------------------------------------


def test_a_stage_due_date_that_passed_since_the_proposal_refuses_the_acceptance(funded, seller, buyer):
    first = milestones(funded)[0]
    start = timezone.now()
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=first, due_date=start + timedelta(days=1))]
    )
    before = ledger_fingerprint()
    with at(start + timedelta(days=2)), pytest.raises(InvalidState) as refused:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert refused.value.code == "change_order_stale"
    assert refused.value.message == (
        "The due date proposed for stage 1 has passed since this change was proposed; propose again"
    )
    assert ledger_fingerprint() == before
