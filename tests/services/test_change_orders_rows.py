"""Each change in a proposal read and checked, with the code, the field and both wordings of its
refusal, naming the change and the stage it is about: an amount that is not a whole number above
zero or is more than any amount can be; a title or description that is not text or is too long
(the longest allowed passes); a stage the escrow does not have, its id cut to 60 characters in the
message; a stage gone from the escrow by the time the other party answers."""

import pytest

from core.errors import InvalidState
from escrows import services
from escrows.models import ChangeProposalStatus, Event, Milestone
from escrows.services import StageAdd, StageEdit, StageRemove
from tests.helpers import drafted, ledger_fingerprint, milestones, refresh, refusal, refused_proposal

pytestmark = pytest.mark.django_db


# -- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [True, "500", 2.5])
def test_an_amount_that_is_not_a_whole_number_of_minor_units_is_refused(funded, seller, amount):
    changes = [StageAdd(amount=1_000), StageAdd(amount=amount)]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: amount must be greater than zero",
        "New stage: enter an amount greater than zero.",
    )


def test_a_new_amount_of_one_minor_unit_is_the_least_a_stage_can_cost(funded, seller):
    second = milestones(funded)[1]
    rows = drafted(funded, seller, [StageAdd(amount=1), StageEdit(milestone=second, amount=1)])
    assert (rows[0]["amount"], rows[1]["after"]) == (1, {"amount": 1})
    assert refused_proposal(funded, seller, [StageEdit(milestone=second, amount=0)])[3] == (
        "Stage 2: enter an amount greater than zero."
    )


def test_an_amount_larger_than_any_amount_can_be_is_refused_with_the_stage_named(funded, seller):
    second = milestones(funded)[1]
    changes = [StageAdd(amount=1_000), StageEdit(milestone=second, amount=10**14 + 1)]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: amount is too large",
        "Stage 2: Enter an amount of at most 1,000,000,000,000.00 USD.",
    )


# -- titles and descriptions ------------------------------------------------------------------


def test_a_title_that_is_not_text_is_refused_with_the_change_named(funded, seller):
    changes = [StageAdd(amount=1_000), StageAdd(amount=1_000, title=5)]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: title must be text",
        "New stage: enter the title as text.",
    )


def test_a_description_that_is_not_text_is_refused_with_the_stage_named(funded, seller):
    second = milestones(funded)[1]
    changes = [StageAdd(amount=1_000), StageEdit(milestone=second, description=["Go live"])]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: description must be text",
        "Stage 2: enter the description as text.",
    )


def test_a_title_of_200_characters_passes_and_one_more_is_refused(funded, seller):
    rows = drafted(funded, seller, [StageAdd(amount=1_000, title="  " + "t" * 200 + "  ")])
    assert rows[0]["title"] == "t" * 200
    changes = [StageAdd(amount=1_000), StageAdd(amount=1_000, title="t" * 201)]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: title must be at most 200 characters",
        "New stage: the title can be at most 200 characters.",
    )


def test_a_description_of_5000_characters_passes_and_one_more_is_refused(funded, seller):
    third = milestones(funded)[2]
    rows = drafted(funded, seller, [StageEdit(milestone=third, description="d" * 5_000)])
    assert rows[0]["after"] == {"description": "d" * 5_000}
    changes = [StageAdd(amount=1_000), StageEdit(milestone=third, description="d" * 5_001)]
    assert refused_proposal(funded, seller, changes) == (
        "invalid_change",
        "changes",
        "changes[1]: description must be at most 5000 characters",
        "Stage 3: the description can be at most 5,000 characters.",
    )


# -- a stage the escrow does not have ---------------------------------------------------------


def test_a_stage_the_escrow_does_not_have_is_refused_as_unknown(funded, seller):
    changes = [StageAdd(amount=1_000), StageRemove(milestone="milestone_gone")]
    assert refused_proposal(funded, seller, changes) == (
        "milestone_unknown",
        "changes",
        "changes[1]: no milestone milestone_gone in this escrow",
        "That stage is not part of this escrow (any more).",
    )


@pytest.mark.parametrize("ref", ["", None])
def test_a_change_naming_no_stage_is_refused_asking_for_one(funded, seller, ref):
    # The API passes an edit or removal without its milestoneId as "".
    assert refused_proposal(funded, seller, [StageEdit(milestone=ref, amount=5)]) == (
        "milestone_required",
        "changes",
        "changes[0]: milestoneId is required",
        "Choose the stage to change.",
    )


def test_an_unknown_stage_id_is_repeated_up_to_60_characters(funded, seller):
    sixty = "m" * 59 + "x"
    assert refused_proposal(funded, seller, [StageRemove(milestone=sixty)])[2] == (
        f"changes[0]: no milestone {sixty} in this escrow"
    )
    assert refused_proposal(funded, seller, [StageRemove(milestone=sixty + "y" * 40)])[2] == (
        f"changes[0]: no milestone {sixty} in this escrow"
    )


# -- a stage gone by the time of the answer ---------------------------------------------------


def test_a_stage_gone_from_the_escrow_since_the_proposal_refuses_the_acceptance(funded, seller, buyer):
    second = milestones(funded)[1]
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    # No action of the product deletes a stage while a proposal is open; one deleted by hand
    # (say, in the database) still refuses the acceptance as out of date, naming the stage.
    Event.objects.filter(milestone=second).update(milestone=None)
    Milestone.objects.filter(pk=second.pk).delete()
    before = ledger_fingerprint()
    assert refusal(InvalidState, lambda: services.change_order_accept(proposal=proposal, by=buyer)) == (
        "change_order_stale",
        None,
        "Stage 2 is no longer part of this escrow; propose the change again",
        "Stage 2 is no longer part of this escrow; propose the change again",
    )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN
