"""Accepting a change order, in detail: who may accept and the exact refusal when it is not the
other party's to accept or no longer open; a proposed due date reached at the very moment of
acceptance; an increase of one cent; what the card is charged and that card payments need test
mode; a change that moves no money pays no fee even after the schedule changed; the open
cancellation a change supersedes is superseded by the party who accepted."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from core import errors
from core.errors import Forbidden, InvalidState
from escrows import services
from escrows.models import ChangeProposalStatus, Event
from escrows.providers import MockCardGateway
from escrows.selectors import wallet_balance
from escrows.services import StageAdd, StageEdit
from tests.helpers import (
    assert_ledger_invariants,
    at,
    change_order_postings,
    ledger_fingerprint,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db


def add_stage(escrow, by, **kwargs):
    return services.change_order_propose(
        escrow=escrow, by=by, changes=[StageAdd(amount=30_000, title="Launch")], **kwargs
    )


# -- who accepts, and what is open -------------------------------------------------------------


def test_the_proposer_is_told_to_withdraw_rather_than_accept(funded, seller):
    proposal = add_stage(funded, seller)
    with pytest.raises(Forbidden) as refused:
        services.change_order_accept(proposal=proposal, by=seller)
    assert (refused.value.code, refused.value.message) == (
        "forbidden",
        "Only the other party can accept this change order; you can withdraw it",
    )
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_a_declined_change_order_is_refused_as_closed(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    services.change_order_decline(proposal=proposal, by=buyer, reason="Over budget")
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as refused:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert (refused.value.code, refused.value.message) == (
        "change_order_closed",
        "This change order was already declined",
    )
    assert ledger_fingerprint() == before


# -- a proposed due date reached by the time of the answer -------------------------------------


def test_a_due_date_reached_at_the_moment_of_acceptance_makes_the_change_stale(funded, seller, buyer):
    third = milestones(funded)[2]
    start = timezone.now()
    due = start + timedelta(days=1)
    with at(start):
        proposal = services.change_order_propose(
            escrow=funded, by=seller, changes=[StageEdit(milestone=third, due_date=due)]
        )
    before = ledger_fingerprint()
    with at(due), pytest.raises(InvalidState) as refused:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert (refused.value.code, refused.value.message) == (
        "change_order_stale",
        "The due date proposed for stage 3 has passed since this change was proposed; propose again",
    )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN
    assert refresh(third).due_date is None


# -- the money an acceptance moves -------------------------------------------------------------


def test_an_increase_of_one_cent_is_paid_by_the_buyer(funded, seller, buyer):
    first = milestones(funded)[0]
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=first, amount=30_001)]
    )
    services.wallet_topup(customer=buyer, amount=1, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    # 1.5% of 1,000.01 rounds to the 15.00 already paid: the cent alone, no fee.
    assert change_order_postings(funded) == [
        (proposal.public_id, {f"CUSTOMER_MAIN:{buyer.pk}": -1, "ESCROW_HOLD": 1})
    ]
    assert wallet_balance(buyer, "USD") == 0
    accepted = refresh(proposal)
    assert (accepted.paid_amount, accepted.paid_fee, accepted.paid_from) == (1, 0, "WALLET")
    assert (refresh(funded).amount, refresh(funded).fee) == (100_001, 1_500)
    assert_ledger_invariants()


def test_the_card_is_charged_the_increase_and_fee_under_the_buyers_reference(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    with mock.patch.object(MockCardGateway, "charge", autospec=True, return_value="ch_1") as charge:
        services.change_order_accept(proposal=proposal, by=buyer, pay_source="CARD", card_token="tok_visa")
    charge.assert_called_once_with(
        mock.ANY,
        reference=f"{buyer.customer_id}:{proposal.public_id}",
        amount=30_450,
        currency="USD",
        card_token="tok_visa",
    )
    assert refresh(proposal).gateway_reference == "ch_1"


def test_outside_test_mode_a_card_pays_nothing_and_says_cards_are_not_configured(
    funded, seller, buyer, settings
):
    settings.ESCROW_TEST_MODE = False
    proposal = add_stage(funded, seller)
    before = ledger_fingerprint()
    with pytest.raises(errors.TestModeOnly) as refused:
        services.change_order_accept(proposal=proposal, by=buyer, pay_source="CARD", card_token="tok_visa")
    assert (refused.value.code, refused.value.message) == (
        "test_mode_only",
        "Card payments are not configured",
    )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_a_change_that_keeps_the_total_pays_no_fee_after_the_schedule_changed(
    funded, seller, buyer, settings
):
    # Under a new schedule an increase pays that schedule's fee on itself, at least its minimum
    # (1.00); a change that moves no money pays nothing at all.
    settings.ESCROW_FEE_SCHEDULE = {
        **settings.ESCROW_FEE_SCHEDULE,
        "version": "2027-01-v2",
        "basis_points": 300,
    }
    first = milestones(funded)[0]
    assert services.change_order_fee(funded, 100_000) == 0
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=first, title="Design")]
    )
    assert services.change_order_quote(funded, proposal).fee == 0
    services.change_order_accept(proposal=proposal, by=buyer)
    escrow = refresh(funded)
    assert (escrow.amount, escrow.fee, escrow.terms_version) == (100_000, 1_500, 2)
    assert change_order_postings(escrow) == []
    fees = [e.details["fee"] for e in Event.objects.filter(escrow=escrow, kind__startswith="change_order.")]
    assert fees == [0, 0]
    assert_ledger_invariants()


# -- what the acceptance supersedes ------------------------------------------------------------


def test_the_cancellation_a_change_no_longer_adds_up_to_is_superseded_by_the_accepting_party(
    funded, seller, buyer
):
    cancellation = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=50_000, seller_amount=50_000
    )
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    services.change_order_accept(proposal=add_stage(funded, seller), by=buyer)
    superseded = Event.objects.get(kind="cancellation.superseded", escrow=funded)
    assert (superseded.actor, superseded.actor_kind, superseded.details) == (
        buyer,
        "user",
        {"proposal": cancellation.public_id, "held": 130_000},
    )
