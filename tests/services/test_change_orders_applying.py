"""Accepting a change order changes the stages exactly as proposed: a new stage keeps its title,
description and due date and lands where the proposal said; a due date proposed for a stage that
passed before the answer refuses the acceptance; the buyer's choice of how to pay is checked with
the exact refusal the API and the pages show, and a card is kept only when the buyer pays by
card."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest, InvalidState
from escrows import services
from escrows.models import ChangeProposalStatus, Event, FundingSource
from escrows.services import StageAdd, StageEdit, StageRemove
from tests.helpers import at, ledger_fingerprint, milestones, refresh, refusal

pytestmark = pytest.mark.django_db


# -- a new stage as proposed -------------------------------------------------------------------


def test_a_new_stage_is_added_with_its_title_description_and_due_date(funded, seller, buyer):
    due = timezone.now() + timedelta(days=20)
    proposal = services.change_order_propose(
        escrow=funded,
        by=seller,
        changes=[StageAdd(amount=10_000, title="Launch", description="Go live", due_date=due)],
    )
    services.wallet_topup(customer=buyer, amount=10_150, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    added = milestones(funded)[3]
    assert (added.index, added.title, added.description, added.amount, added.due_date) == (
        3,
        "Launch",
        "Go live",
        10_000,
        due,
    )


def test_several_new_stages_are_numbered_after_the_stages_that_stay(funded, seller, buyer):
    second = milestones(funded)[1]
    proposal = services.change_order_propose(
        escrow=funded,
        by=seller,
        changes=[
            StageAdd(amount=1_000, title="Four"),
            StageRemove(milestone=second),
            StageAdd(amount=2_000, title="Five"),
            StageAdd(amount=3_000, title="Six"),
        ],
    )
    # Two stages stay, so the new ones are the third, fourth and fifth.
    predicted = [(row["kind"], row["index"], row["title"]) for row in proposal.changes]
    assert predicted == [("add", 2, "Four"), ("remove", 1, "Stage 1"), ("add", 3, "Five"), ("add", 4, "Six")]
    proposed = Event.objects.get(kind="change_order.proposed", escrow=funded)
    assert proposed.details["changes"] == proposal.changes
    services.change_order_accept(proposal=proposal, by=buyer)
    assert [(m.index, m.title) for m in milestones(funded)] == [
        (0, "Stage 0"),
        (1, "Stage 2"),
        (2, "Four"),
        (3, "Five"),
        (4, "Six"),
    ]


# -- a proposed due date that passed before the answer ---------------------------------------


def test_a_new_stage_whose_due_date_passed_since_the_proposal_refuses_the_acceptance(funded, seller, buyer):
    start = timezone.now()
    with at(start):
        proposal = services.change_order_propose(
            escrow=funded, by=seller, changes=[StageAdd(amount=10_000, due_date=start + timedelta(days=1))]
        )
    services.wallet_topup(customer=buyer, amount=10_150, currency="USD")
    before = ledger_fingerprint()
    with at(start + timedelta(days=2)):
        assert refusal(InvalidState, lambda: services.change_order_accept(proposal=proposal, by=buyer)) == (
            "change_order_stale",
            None,
            "The due date proposed for stage 4 has passed since this change was proposed; propose again",
            "The due date proposed for stage 4 has passed since this change was proposed; propose again",
        )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_a_stage_whose_new_due_date_passed_since_the_proposal_refuses_the_acceptance(funded, seller, buyer):
    second = milestones(funded)[1]
    start = timezone.now()
    with at(start):
        proposal = services.change_order_propose(
            escrow=funded,
            by=seller,
            changes=[
                StageAdd(amount=10_000),
                StageEdit(milestone=second, due_date=start + timedelta(hours=1)),
            ],
        )
    services.wallet_topup(customer=buyer, amount=10_150, currency="USD")
    before = ledger_fingerprint()
    with at(start + timedelta(hours=2)), pytest.raises(InvalidState) as refused:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert (refused.value.code, refused.value.message) == (
        "change_order_stale",
        "The due date proposed for stage 2 has passed since this change was proposed; propose again",
    )
    assert ledger_fingerprint() == before
    assert refresh(second).due_date is None


# -- how the buyer pays an increase -------------------------------------------------------------


def test_paying_other_than_from_the_balance_or_by_card_is_refused(funded, seller, buyer):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=10_000)])
    services.wallet_topup(customer=buyer, amount=10_150, currency="USD")
    before = ledger_fingerprint()
    assert refusal(
        InvalidRequest, lambda: services.change_order_accept(proposal=proposal, by=buyer, pay_source="BANK")
    ) == (
        "invalid_request",
        "paySource",
        "paySource must be one of: WALLET, CARD",
        "Choose to pay from your balance or by card.",
    )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_paying_by_card_without_a_card_is_refused(funded, seller, buyer):
    proposal = services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=10_000)])
    before = ledger_fingerprint()
    assert refusal(
        InvalidRequest,
        lambda: services.change_order_accept(
            proposal=proposal, by=buyer, pay_source=FundingSource.CARD, card_token="   "
        ),
    ) == (
        "invalid_request",
        "cardToken",
        "cardToken is required to pay by card",
        "Enter the card to pay with.",
    )
    assert ledger_fingerprint() == before


def test_a_buyer_paying_from_their_balance_leaves_no_card_on_the_proposal(funded, seller, buyer):
    # The page's form sends the card field whichever way the buyer pays.
    changes = [StageAdd(amount=10_000)]
    draft = services.change_order_check(
        escrow=funded, by=buyer, changes=changes, pay_source=FundingSource.WALLET, card_token="tok_visa"
    )
    assert (draft.pay_source, draft.card_token) == (FundingSource.WALLET, "")
    proposal = services.change_order_propose(
        escrow=funded, by=buyer, changes=changes, pay_source=FundingSource.WALLET, card_token="tok_visa"
    )
    assert (refresh(proposal).pay_source, refresh(proposal).card_token) == (FundingSource.WALLET, "")


def test_a_card_token_is_kept_to_its_first_hundred_characters(funded, seller, buyer):
    token = "tok_" + "v" * 146
    proposal = services.change_order_propose(
        escrow=funded,
        by=buyer,
        changes=[StageAdd(amount=10_000)],
        pay_source=FundingSource.CARD,
        card_token=f" {token} ",
    )
    assert refresh(proposal).card_token == token[:100]
    services.change_order_accept(proposal=proposal, by=seller)
    accepted = refresh(proposal)
    assert (accepted.status, accepted.paid_from, accepted.card_token) == ("ACCEPTED", "CARD", "")
