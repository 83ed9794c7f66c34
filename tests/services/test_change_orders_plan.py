"""A change order's stages planned against the escrow as it is: a stage named twice, a stage with a
dispute on record removed, nothing left to deliver, and a stage whose amount changed since the
proposal, each refused with its exact code and wording; one open change order per escrow, not per
site; the note's longest length; a buyer whose change keeps the total names no way to pay."""

import pytest

from core.errors import Conflict, InvalidRequest, InvalidState
from escrows import services
from escrows.models import ChangeProposal, ChangeProposalStatus, FundingSource, Milestone
from escrows.services import StageAdd, StageEdit, StageRemove
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh, refusal

pytestmark = pytest.mark.django_db


def proposing(escrow, by, changes, **fields):
    return lambda: services.change_order_propose(escrow=escrow, by=by, changes=changes, **fields)


# -- the stages a proposal plans ----------------------------------------------------------------


def test_a_stage_changed_and_removed_in_one_proposal_is_refused_as_named_twice(funded, seller):
    second = milestones(funded)[1]
    changes = [StageEdit(milestone=second, amount=40_000), StageRemove(milestone=second)]
    assert refusal(InvalidRequest, proposing(funded, seller, changes)) == (
        "stage_named_twice",
        "changes",
        "changes[1]: stage 2 is named twice",
        "Stage 2 can be changed or removed once in a proposal.",
    )


def test_removing_a_stage_with_a_dispute_on_record_is_refused_with_what_to_do(funded, seller, buyer):
    second = milestones(funded)[1]
    dispute = services.dispute_open(escrow=funded, by=buyer, reason="Late", milestone=second)
    services.dispute_withdraw(dispute=dispute, by=buyer)
    words = (
        "Stage 2 has a dispute on record and stays part of the escrow; "
        "change its amount instead of removing it"
    )
    changes = [StageRemove(milestone=second)]
    assert refusal(InvalidState, proposing(funded, seller, changes)) == (
        "stage_has_dispute",
        None,
        words,
        words,
    )


def test_removing_the_last_stage_to_deliver_is_refused_pointing_to_a_cancellation(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 20_000))
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    words = (
        "A change order must leave at least one stage to deliver; to end the escrow early, "
        "propose a cancellation instead"
    )
    changes = [StageRemove(milestone=second)]
    assert refusal(InvalidState, proposing(escrow, buyer, changes)) == ("nothing_left", None, words, words)


def test_a_stage_whose_amount_changed_since_the_proposal_refuses_the_acceptance(funded, seller, buyer):
    second = milestones(funded)[1]
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    # No action of the product changes a stage's amount while a change order is open; one changed
    # by hand (say, in the database) still refuses the acceptance as out of date, naming the stage.
    Milestone.objects.filter(pk=second.pk).update(amount=45_000)
    before = ledger_fingerprint()
    words = "Stage 2's amount changed since this change was proposed; propose again"

    def accept():
        return services.change_order_accept(proposal=proposal, by=buyer)

    assert refusal(InvalidState, accept) == ("change_order_stale", None, words, words)
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


# -- the review draft ---------------------------------------------------------------------------


def test_an_open_change_order_holds_up_its_own_escrow_only(funded, seller, buyer):
    other = make_escrow(seller)
    fund(other, buyer)
    services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=1_000)])
    assert refusal(Conflict, proposing(funded, buyer, [StageAdd(amount=2_000)]))[::2] == (
        "change_order_open",
        "There is already an open change order on this escrow; answer or withdraw it first",
    )
    services.change_order_propose(escrow=other, by=buyer, changes=[StageAdd(amount=2_000)])
    assert ChangeProposal.objects.filter(status=ChangeProposalStatus.OPEN).count() == 2


def test_a_note_of_the_longest_length_is_kept_and_one_more_character_is_refused(funded, seller):
    longest = "n" * 2_000
    draft = services.change_order_check(
        escrow=funded, by=seller, changes=[StageAdd(amount=1_000)], note=f"  {longest}  "
    )
    assert draft.note == longest
    changes = [StageAdd(amount=1_000)]
    assert refusal(InvalidRequest, proposing(funded, seller, changes, note=longest + "n")) == (
        "invalid_request",
        "note",
        "note must be at most 2000 characters",
        "The note can be at most 2,000 characters.",
    )
    assert not ChangeProposal.objects.exists()


def test_a_buyer_whose_change_keeps_the_total_names_no_way_to_pay(funded, buyer):
    first, second, _ = milestones(funded)
    changes = [StageEdit(milestone=first, amount=40_000), StageEdit(milestone=second, amount=40_000)]
    draft = services.change_order_check(
        escrow=funded, by=buyer, changes=changes, pay_source=FundingSource.CARD
    )
    assert (draft.quote.amount_after, draft.pay_source, draft.card_token) == (100_000, "", "")
