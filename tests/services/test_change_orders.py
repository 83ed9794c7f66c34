"""Change orders on a funded escrow: a party proposes to add a stage or change or remove a stage
still to come, the other accepts (the money moves in the same transaction) or declines, the
proposer withdraws, an unanswered one lapses. Every path allowed and refused, with the exact
postings, the hold equal to what is left of the unsettled stages and the terms version after
each acceptance."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    InvalidRequest,
    InvalidState,
    NotFound,
    PaymentFailed,
)
from escrows import ledger, services
from escrows.models import (
    AccountKind,
    CancellationStatus,
    ChangeProposal,
    ChangeProposalStatus,
    EscrowStatus,
    Event,
    Milestone,
    TermsVersion,
)
from escrows.money import EscrowTooLarge
from escrows.selectors import wallet_balance
from escrows.services import StageAdd, StageEdit, StageRemove
from tests.helpers import (
    _dispute,
    assert_ledger_invariants,
    at,
    change_order_postings,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_standard,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db


def stages(escrow):
    return [(m.index, m.title, m.amount, m.status) for m in milestones(escrow)]


def held(escrow):
    return ledger.cached_balance(ledger.hold_account(refresh(escrow)))


def assert_hold_matches(escrow):
    """The hold equals what is left of the unsettled stages, and every posting balances."""
    escrow = refresh(escrow)
    assert held(escrow) == escrow.held_amount(milestones(escrow))
    assert_ledger_invariants()


def add_stage(escrow, by, amount=30_000, title="Launch", description="", **kwargs):
    return services.change_order_propose(
        escrow=escrow,
        by=by,
        changes=[StageAdd(amount=amount, title=title, description=description)],
        **kwargs,
    )


# -- an increase: the buyer pays it with the fee on it ----------------------------------------


def test_seller_adds_a_stage_and_the_buyer_pays_it_from_their_balance(funded, seller, buyer):
    before = timezone.now()
    proposal = add_stage(funded, seller, description="Go live")
    assert proposal.public_id.startswith("chg_")
    assert (proposal.status, proposal.proposer_role, proposal.amount_before, proposal.amount_after) == (
        ChangeProposalStatus.OPEN,
        "seller",
        100_000,
        130_000,
    )
    assert proposal.changes == [
        {
            "kind": "add",
            "title": "Launch",
            "description": "Go live",
            "amount": 30_000,
            "dueDate": None,
            "index": 3,
        }
    ]
    assert before + timedelta(days=7) <= proposal.lapses_at <= timezone.now() + timedelta(days=7)
    # 1.5% of 1,300.00 is 19.50; 15.00 was paid on funding: 4.50 is the fee on the increase.
    quote = services.change_order_quote(funded, proposal)
    assert (quote.difference, quote.fee, quote.buyer_pays, quote.buyer_gets_back) == (30_000, 450, 30_450, 0)
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)

    escrow = refresh(funded)
    assert (escrow.amount, escrow.fee, escrow.terms_version, escrow.status) == (130_000, 1_950, 2, "OPENED")
    assert stages(escrow) == [
        (0, "Stage 0", 30_000, "PENDING"),
        (1, "Stage 1", 50_000, "PENDING"),
        (2, "Stage 2", 20_000, "PENDING"),
        (3, "Launch", 30_000, "PENDING"),
    ]
    assert change_order_postings(escrow) == [
        (
            proposal.public_id,
            {f"CUSTOMER_MAIN:{buyer.pk}": -30_450, "ESCROW_HOLD": 30_000, "PLATFORM_FEES": 450},
        )
    ]
    assert wallet_balance(buyer, "USD") == 0
    accepted = refresh(proposal)
    assert (
        accepted.status,
        accepted.decided_by,
        accepted.paid_amount,
        accepted.paid_fee,
        accepted.paid_from,
    ) == (
        ChangeProposalStatus.ACCEPTED,
        buyer,
        30_000,
        450,
        "WALLET",
    )
    assert held(escrow) == 130_000
    assert_hold_matches(escrow)


def test_the_acceptance_records_the_new_terms_agreed_by_both(funded, seller, buyer):
    start = timezone.now()
    with at(start):
        proposal = add_stage(funded, seller)
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    with at(start + timedelta(days=1)):
        services.change_order_accept(proposal=proposal, by=buyer)
    version = TermsVersion.objects.get(escrow=funded, number=2)
    assert (version.reason, version.proposer_role, version.proposed_by, version.change_proposal) == (
        "change_order",
        "seller",
        seller,
        refresh(proposal),
    )
    assert (version.proposed_at, version.seller_agreed_at, version.buyer_agreed_at) == (
        start,
        start,
        start + timedelta(days=1),
    )
    assert version.amount == 130_000 and version.fee == 1_950
    assert [(s["index"], s["title"], s["amount"]) for s in version.stages] == [
        (0, "Stage 0", 30_000),
        (1, "Stage 1", 50_000),
        (2, "Stage 2", 20_000),
        (3, "Launch", 30_000),
    ]
    assert version.changes == proposal.changes
    # The version the buyer paid for stays as it was.
    assert TermsVersion.objects.get(escrow=funded, number=1).amount == 100_000


def test_the_events_say_what_changed_and_what_moved(funded, seller, buyer):
    proposal = add_stage(funded, seller, note="One more week of work")
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    proposed, accepted = Event.objects.filter(escrow=funded, kind__startswith="change_order.").order_by("pk")
    common = {
        "changeOrder": proposal.public_id,
        "role": "seller",
        "changes": proposal.changes,
        "amountBefore": 100_000,
        "amountAfter": 130_000,
        "difference": 30_000,
        "fee": 450,
    }
    assert (proposed.kind, proposed.actor, proposed.details) == (
        "change_order.proposed",
        seller,
        {**common, "note": "One more week of work", "lapsesAt": proposal.lapses_at.isoformat()},
    )
    assert (accepted.kind, accepted.actor, accepted.details) == (
        "change_order.accepted",
        buyer,
        {**common, "paid": 30_000, "paidFrom": "WALLET", "refunded": 0, "refundedTo": "", "termsVersion": 2},
    )


def test_the_buyer_cannot_afford_the_increase_and_nothing_moves(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    services.wallet_topup(customer=buyer, amount=10_000, currency="USD")
    before = ledger_fingerprint()
    with pytest.raises(InsufficientFunds) as refused:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert refused.value.message == (
        "This change costs you 304.50 USD (300.00 USD + 4.50 USD fee) and your balance holds 100.00 USD; "
        "nothing was charged. Top up your balance or pay by card, then accept again."
    )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN
    assert len(milestones(funded)) == 3


def test_the_buyer_pays_the_increase_by_card(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    services.change_order_accept(proposal=proposal, by=buyer, pay_source="CARD", card_token="tok_visa")
    assert change_order_postings(funded) == [
        (proposal.public_id, {"EXTERNAL_FUNDING": -30_450, "ESCROW_HOLD": 30_000, "PLATFORM_FEES": 450})
    ]
    accepted = refresh(proposal)
    assert accepted.paid_from == "CARD" and accepted.gateway_reference.startswith("ch_")
    assert_hold_matches(funded)


def test_a_declined_card_charges_nothing(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    before = ledger_fingerprint()
    with pytest.raises(PaymentFailed, match="Your card was declined"):
        services.change_order_accept(proposal=proposal, by=buyer, pay_source="CARD", card_token="tok_decline")
    with pytest.raises(InvalidRequest, match="cardToken is required"):
        services.change_order_accept(proposal=proposal, by=buyer, pay_source="CARD")
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_a_buyers_own_increase_is_paid_as_they_named_when_the_seller_accepts(funded, seller, buyer):
    proposal = add_stage(funded, buyer, pay_source="CARD", card_token="tok_visa")
    assert (proposal.pay_source, proposal.card_token) == ("CARD", "tok_visa")
    services.change_order_accept(proposal=proposal, by=seller)
    assert change_order_postings(funded)[0][1]["EXTERNAL_FUNDING"] == -30_450
    accepted = refresh(proposal)
    assert accepted.card_token == "" and accepted.paid_from == "CARD"
    version = TermsVersion.objects.get(escrow=funded, number=2)
    assert version.proposer_role == "buyer" and version.buyer_agreed_at == proposal.created_at
    assert version.seller_agreed_at == accepted.decided_at


def test_the_seller_is_told_what_to_ask_when_the_buyers_balance_is_short(funded, seller, buyer):
    proposal = add_stage(funded, buyer)
    assert proposal.pay_source == "WALLET"
    with pytest.raises(InsufficientFunds) as refused:
        services.change_order_accept(proposal=proposal, by=seller)
    assert refused.value.message == (
        "This change costs the buyer 304.50 USD (300.00 USD + 4.50 USD fee) and their balance holds "
        "0.00 USD; nothing was charged. Ask the buyer to top up their balance, or to withdraw the "
        "proposal and propose it again paying by card."
    )


def test_the_fee_on_an_increase_is_what_the_new_total_adds(seller, buyer):
    # 40.00 USD paid the minimum fee, 1.00; at 60.00 the fee is still the minimum: nothing more.
    escrow = make_escrow(seller, parts=(2_000, 2_000))
    fund(escrow, buyer)
    proposal = add_stage(escrow, seller, amount=2_000)
    assert services.change_order_quote(escrow, proposal).fee == 0
    services.wallet_topup(customer=buyer, amount=2_000, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    assert change_order_postings(escrow)[0][1] == {f"CUSTOMER_MAIN:{buyer.pk}": -2_000, "ESCROW_HOLD": 2_000}
    # At 160.00 the fee is 2.40: the increase pays the 1.40 the fee paid does not cover.
    proposal = add_stage(escrow, seller, amount=10_000)
    assert services.change_order_quote(escrow, proposal).fee == 140
    services.wallet_topup(customer=buyer, amount=10_140, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    assert refresh(escrow).fee == 240
    # A decrease gives no fee back.
    proposal = services.change_order_propose(
        escrow=escrow, by=buyer, changes=[StageRemove(milestone=milestones(escrow)[3])]
    )
    services.change_order_accept(proposal=proposal, by=seller)
    assert refresh(escrow).fee == 240
    assert_hold_matches(escrow)


def test_after_the_schedule_changed_the_increase_alone_pays_the_new_rate(funded, seller, buyer, settings):
    # Funded at 1.5% (15.00 on 1,000.00); the schedule is 3% now. The money already held keeps
    # the fee it paid: the 300.00 increase pays 3% of itself, 9.00 (not 3% of 1,300.00 less 15.00).
    settings.ESCROW_FEE_SCHEDULE = {
        **settings.ESCROW_FEE_SCHEDULE,
        "version": "2027-01-v2",
        "basis_points": 300,
    }
    proposal = add_stage(funded, seller)
    assert Event.objects.get(kind="change_order.proposed", escrow=funded).details["fee"] == 900
    quote = services.change_order_quote(funded, proposal)
    assert (quote.difference, quote.fee, quote.buyer_pays) == (30_000, 900, 30_900)
    assert services.change_order_fee(refresh(funded), 130_000) == 900
    services.wallet_topup(customer=buyer, amount=30_900, currency="USD")
    services.change_order_accept(proposal=proposal, by=buyer)
    assert change_order_postings(funded)[0][1] == {
        f"CUSTOMER_MAIN:{buyer.pk}": -30_900,
        "ESCROW_HOLD": 30_000,
        "PLATFORM_FEES": 900,
    }
    escrow = refresh(funded)
    assert (escrow.amount, escrow.fee, escrow.fee_schedule_version) == (130_000, 2_400, "2026-11-v1")
    assert wallet_balance(buyer, "USD") == 0
    # The schedule's minimum holds for the increase on its own.
    proposal = add_stage(escrow, seller, amount=1_000)
    assert services.change_order_quote(escrow, proposal).fee == 100
    assert_hold_matches(escrow)


def test_with_the_escrows_own_schedule_still_current_the_new_total_sets_the_fee(funded, seller, settings):
    # Same version, a rate the escrow was funded under: the fee of the new total less what was paid.
    proposal = add_stage(funded, seller)
    assert settings.ESCROW_FEE_SCHEDULE["version"] == refresh(funded).fee_schedule_version
    assert services.change_order_quote(funded, proposal).fee == 1_950 - 1_500


# -- a decrease: back to where the buyer paid from ---------------------------------------------


def test_a_lower_amount_goes_back_to_the_buyers_balance(funded, seller, buyer):
    second = milestones(funded)[1]
    proposal = services.change_order_propose(
        escrow=funded, by=buyer, changes=[StageEdit(milestone=second.public_id, amount=40_000)]
    )
    assert proposal.pay_source == "" and proposal.changes == [
        {
            "kind": "edit",
            "milestone": second.public_id,
            "index": 1,
            "title": "Stage 1",
            "before": {"amount": 50_000},
            "after": {"amount": 40_000},
        }
    ]
    services.change_order_accept(proposal=proposal, by=seller)
    escrow = refresh(funded)
    assert (escrow.amount, escrow.fee) == (90_000, 1_500)
    assert change_order_postings(escrow) == [
        (proposal.public_id, {"ESCROW_HOLD": -10_000, f"CUSTOMER_MAIN:{buyer.pk}": 10_000})
    ]
    assert wallet_balance(buyer, "USD") == 10_000
    assert refresh(proposal).refunded_amount == 10_000
    assert Event.objects.get(kind="change_order.accepted").details["refundedTo"] == "wallet"
    assert_hold_matches(escrow)


def test_a_lower_amount_goes_back_to_the_card_the_buyer_paid_with(seller, buyer):
    escrow = make_escrow(seller)
    services.escrow_fund(escrow=escrow, by=buyer, source="CARD", card_token="tok_visa")
    third = milestones(escrow)[2]
    proposal = services.change_order_propose(
        escrow=escrow, by=seller, changes=[StageEdit(milestone=third, amount=15_000)]
    )
    services.change_order_accept(proposal=proposal, by=buyer)
    assert change_order_postings(escrow) == [
        (proposal.public_id, {"ESCROW_HOLD": -5_000, "EXTERNAL_REFUNDS": 5_000})
    ]
    assert wallet_balance(buyer, "USD") == 0
    assert Event.objects.get(kind="change_order.accepted").details["refundedTo"] == "card"
    assert_hold_matches(escrow)


def test_removing_a_stage_refunds_it_and_the_stages_after_it_move_up(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.milestone_complete(milestone=first, by=seller, proof="done")
    proposal = services.change_order_propose(
        escrow=funded,
        by=seller,
        changes=[StageRemove(milestone=second.public_id), StageAdd(amount=10_000, title="Extra")],
    )
    assert proposal.changes == [
        {"kind": "remove", "milestone": second.public_id, "index": 1, "title": "Stage 1", "amount": 50_000},
        {"kind": "add", "title": "Extra", "description": "", "amount": 10_000, "dueDate": None, "index": 2},
    ]
    # The removed stage's audit rows stay, detached from it.
    reminded = Event.objects.create(kind="milestone.due_reminder_sent", escrow=funded, milestone=second)
    services.change_order_accept(proposal=proposal, by=buyer)
    escrow = refresh(funded)
    assert stages(escrow) == [
        (0, "Stage 0", 30_000, "COMPLETED"),
        (1, "Stage 2", 20_000, "PENDING"),
        (2, "Extra", 10_000, "PENDING"),
    ]
    assert not Milestone.objects.filter(pk=second.pk).exists()
    assert milestones(escrow)[1].pk == third.pk
    assert refresh(reminded).milestone is None
    assert escrow.amount == 60_000
    assert change_order_postings(escrow) == [
        (proposal.public_id, {"ESCROW_HOLD": -40_000, f"CUSTOMER_MAIN:{buyer.pk}": 40_000})
    ]
    assert_hold_matches(escrow)
    # The stage delivered before the change releases as usual, and so do the rest.
    for m in milestones(escrow):
        services.milestone_release(milestone=m, by=buyer)
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 60_000
    assert_ledger_invariants()


def test_a_new_title_description_and_due_date(funded, seller, buyer):
    third = milestones(funded)[2]
    due = timezone.now() + timedelta(days=20)
    Milestone.objects.filter(pk=third.pk).update(
        due_date=timezone.now() + timedelta(days=3), due_reminder_sent_at=timezone.now()
    )
    proposal = services.change_order_propose(
        escrow=funded,
        by=seller,
        changes=[StageEdit(milestone=third, title="Polish", description="Two rounds", due_date=due)],
    )
    assert proposal.changes[0]["after"] == {
        "title": "Polish",
        "description": "Two rounds",
        "dueDate": due.isoformat(),
    }
    assert proposal.amount_after == proposal.amount_before
    services.change_order_accept(proposal=proposal, by=buyer)
    changed = refresh(third)
    assert (changed.title, changed.description, changed.due_date) == ("Polish", "Two rounds", due)
    # A new due date earns a new reminder.
    assert changed.due_reminder_sent_at is None
    assert change_order_postings(funded) == []
    assert refresh(funded).terms_version == 2


def test_a_due_date_can_be_removed(funded, seller, buyer):
    third = milestones(funded)[2]
    Milestone.objects.filter(pk=third.pk).update(due_date=timezone.now() + timedelta(days=3))
    proposal = services.change_order_propose(
        escrow=funded, by=buyer, changes=[StageEdit(milestone=third, clear_due_date=True)]
    )
    assert proposal.changes[0]["after"] == {"dueDate": None}
    services.change_order_accept(proposal=proposal, by=seller)
    assert refresh(third).due_date is None


# -- refused: who, when, what -----------------------------------------------------------------


def test_only_the_parties_and_only_the_other_party_answers(funded, seller, buyer, stranger):
    with pytest.raises(NotFound):
        add_stage(funded, stranger)
    proposal = add_stage(funded, seller)
    with pytest.raises(Forbidden, match="Only the other party can accept"):
        services.change_order_accept(proposal=proposal, by=seller)
    with pytest.raises(Forbidden, match="Only the other party can decline"):
        services.change_order_decline(proposal=proposal, by=seller, reason="no")
    with pytest.raises(Forbidden, match="Only the party who proposed"):
        services.change_order_withdraw(proposal=proposal, by=buyer)
    for call in (
        lambda: services.change_order_accept(proposal=proposal, by=stranger),
        lambda: services.change_order_decline(proposal=proposal, by=stranger, reason="no"),
        lambda: services.change_order_withdraw(proposal=proposal, by=stranger),
    ):
        with pytest.raises(NotFound):
            call()
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_only_a_funded_open_milestone_escrow_changes(seller, buyer):
    unpaid = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState, match="Nobody has paid this escrow yet") as refused:
        add_stage(unpaid, seller)
    assert refused.value.code == "not_funded"
    standard = make_standard(seller)
    services.wallet_topup(customer=buyer, amount=standard.total_charge, currency="USD")
    services.escrow_fund(escrow=standard, by=buyer)
    with pytest.raises(InvalidState, match="A standard escrow has no stages to change"):
        add_stage(standard, seller)
    closed = make_escrow(seller)
    fund(closed, buyer)
    services.escrow_refund(escrow=closed, by=seller)
    with pytest.raises(InvalidState, match="This escrow is refunded; its terms can no longer change"):
        add_stage(closed, buyer)


def test_one_open_proposal_at_a_time(funded, seller, buyer):
    add_stage(funded, seller)
    with pytest.raises(Conflict, match="already an open change order") as refused:
        add_stage(funded, buyer)
    assert refused.value.code == "change_order_open"
    assert ChangeProposal.objects.filter(escrow=funded).count() == 1


def test_only_stages_still_to_come_change(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_complete(milestone=second, by=seller, proof="done")
    _dispute(third)
    cases = [
        (StageEdit(milestone=first, amount=1_000), "Stage 1 is already released"),
        (StageRemove(milestone=second), "Stage 2 was already delivered"),
        (StageEdit(milestone=third, title="x"), "Stage 3 is under dispute"),
    ]
    for change, words in cases:
        with pytest.raises(InvalidState) as refused:
            services.change_order_propose(escrow=funded, by=seller, changes=[change])
        assert refused.value.message == f"{words}; a change order only changes the stages still to come"
        assert refused.value.code == "stage_not_future"


def test_a_stage_partly_released_no_longer_changes(funded, seller, buyer):
    first = milestones(funded)[0]
    services.milestone_release_part(milestone=first, by=buyer, amount=10_000)
    with pytest.raises(InvalidState, match="Part of stage 1 was already released"):
        services.change_order_propose(
            escrow=funded, by=seller, changes=[StageEdit(milestone=first, amount=1)]
        )


def test_each_change_is_checked(funded, seller, buyer):
    first = milestones(funded)[0]
    cases = [
        ([], "Propose at least one change"),
        ([StageAdd(amount=0)], "changes[0]: amount must be greater than zero"),
        ([StageAdd(amount=-5)], "changes[0]: amount must be greater than zero"),
        ([StageAdd(amount=10, title="x" * 201)], "changes[0]: title must be at most 200 characters"),
        (
            [StageAdd(amount=10, due_date=timezone.now() - timedelta(days=1))],
            "changes[0]: dueDate must be in the future",
        ),
        ([StageEdit(milestone=first, amount=30_000)], "changes[0]: the change leaves the stage as it is"),
        (
            [StageEdit(milestone="milestone_nope", amount=5)],
            "changes[0]: no milestone milestone_nope in this escrow",
        ),
        (
            [StageEdit(milestone=first, amount=5), StageRemove(milestone=first)],
            "changes[1]: stage 1 is named twice",
        ),
        ([StageAdd(amount=10)] * 21, "At most 20 changes in one proposal"),
    ]
    for changes, message in cases:
        with pytest.raises(InvalidRequest) as refused:
            services.change_order_propose(escrow=funded, by=seller, changes=changes)
        assert refused.value.message == message
    with pytest.raises(InvalidRequest) as refused:
        services.change_order_propose(escrow=funded, by=seller, changes=[StageAdd(amount=0)])
    assert refused.value.for_person == "New stage: enter an amount greater than zero."
    assert not ChangeProposal.objects.exists()


def test_the_new_total_stays_within_what_one_escrow_can_hold(funded, seller, settings):
    settings.ESCROW_MAX_AMOUNTS = {**settings.ESCROW_MAX_AMOUNTS, "USD": 1_200}
    with pytest.raises(EscrowTooLarge) as refused:
        add_stage(funded, seller, amount=20_001)
    assert refused.value.for_person == "The most one escrow can hold is 1,200.00 USD."
    add_stage(funded, seller, amount=20_000)


def test_a_change_leaves_a_stage_to_deliver(seller, buyer):
    escrow = make_escrow(seller, parts=(30_000, 20_000))
    fund(escrow, buyer)
    first, second = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    with pytest.raises(InvalidState, match="must leave at least one stage to deliver"):
        services.change_order_propose(escrow=escrow, by=buyer, changes=[StageRemove(milestone=second)])


def test_a_stage_in_an_open_refund_request_waits_for_the_answer(funded, seller, buyer):
    second = milestones(funded)[1]
    services.refund_request_create(escrow=funded, by=buyer, reason="Not needed", milestones=[second])
    with pytest.raises(InvalidState, match="Stage 2 is part of an open refund request"):
        services.change_order_propose(escrow=funded, by=seller, changes=[StageRemove(milestone=second)])
    add_stage(funded, seller)  # another stage is not held up


def test_a_stage_with_a_dispute_on_record_is_not_removed(funded, seller, buyer):
    second = milestones(funded)[1]
    dispute = services.dispute_open(escrow=funded, by=buyer, reason="Late", milestone=second)
    services.dispute_withdraw(dispute=dispute, by=buyer)
    with pytest.raises(InvalidState, match="Stage 2 has a dispute on record"):
        services.change_order_propose(escrow=funded, by=seller, changes=[StageRemove(milestone=second)])
    services.change_order_propose(escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=100)])


def test_a_stage_that_moved_on_since_the_proposal_refuses_the_acceptance(funded, seller, buyer):
    first = milestones(funded)[0]
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=first, amount=35_000)]
    )
    services.milestone_release(milestone=first, by=buyer)
    services.wallet_topup(customer=buyer, amount=10_000, currency="USD")
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as refused:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert refused.value.message == (
        "Stage 1 is already released since this change was proposed; decline it and propose again"
    )
    assert refused.value.code == "change_order_stale"
    assert ledger_fingerprint() == before


def test_an_answered_proposal_is_not_answered_again(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    services.change_order_withdraw(proposal=proposal, by=seller)
    for call in (
        lambda: services.change_order_accept(proposal=proposal, by=buyer),
        lambda: services.change_order_decline(proposal=proposal, by=buyer, reason="no"),
        lambda: services.change_order_withdraw(proposal=proposal, by=seller),
    ):
        with pytest.raises(InvalidState, match="This change order was already withdrawn"):
            call()


# -- declined, withdrawn, lapsed ----------------------------------------------------------------


def test_declining_needs_a_reason_and_changes_nothing(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    with pytest.raises(InvalidRequest, match="Say why you decline the change"):
        services.change_order_decline(proposal=proposal, by=buyer, reason="  ")
    before = ledger_fingerprint()
    services.change_order_decline(proposal=proposal, by=buyer, reason="Over budget")
    declined = refresh(proposal)
    assert (declined.status, declined.decline_reason, declined.decided_by) == (
        "DECLINED",
        "Over budget",
        buyer,
    )
    assert ledger_fingerprint() == before
    event = Event.objects.get(kind="change_order.declined")
    assert (event.actor, event.from_status, event.to_status, event.details) == (
        buyer,
        "OPEN",
        "DECLINED",
        {
            "changeOrder": proposal.public_id,
            "role": "seller",
            "amountBefore": 100_000,
            "amountAfter": 130_000,
            "reason": "Over budget",
        },
    )
    add_stage(funded, buyer)  # a new proposal may follow


def test_the_proposer_withdraws(funded, seller, buyer):
    proposal = add_stage(funded, buyer, pay_source="CARD", card_token="tok_visa")
    services.change_order_withdraw(proposal=proposal, by=buyer)
    withdrawn = refresh(proposal)
    assert (withdrawn.status, withdrawn.card_token) == ("WITHDRAWN", "")
    assert Event.objects.get(kind="change_order.withdrawn").details["role"] == "buyer"


def test_an_unanswered_proposal_lapses(funded, seller, settings):
    settings.ESCROW_CHANGE_PROPOSAL_LAPSE = timedelta(days=3)
    start = timezone.now()
    with at(start):
        proposal = add_stage(funded, seller)
    assert proposal.lapses_at == start + timedelta(days=3)
    with at(start + timedelta(days=2)):
        assert list(services.change_orders_due()) == []
        assert services.change_order_lapse(proposal=proposal) is None
    later = start + timedelta(days=3, seconds=1)
    with at(later):
        assert list(services.change_orders_due()) == [proposal]
        assert services.change_order_lapse(proposal=proposal) is not None
        assert services.change_order_lapse(proposal=proposal) is None
    lapsed = refresh(proposal)
    assert (lapsed.status, lapsed.decided_at, lapsed.decided_by) == ("LAPSED", later, None)
    event = Event.objects.get(kind="change_order.lapsed")
    assert (event.actor, event.actor_kind, event.details["reason"]) == (None, "system", "no answer in time")


def test_a_proposal_past_its_time_is_not_accepted_before_the_timer_lapses_it(funded, seller, buyer):
    # The timer runs each minute; a buyer answering in between must not be charged for a
    # proposal that has run out.
    start = timezone.now()
    with at(start):
        proposal = add_stage(funded, seller)
    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    before = ledger_fingerprint()
    with at(proposal.lapses_at), pytest.raises(InvalidState) as exc:
        services.change_order_accept(proposal=proposal, by=buyer)
    assert exc.value.code == "change_order_lapsed"
    assert exc.value.message == "This change order ran out unanswered; it can no longer be accepted"
    assert exc.value.for_person == (
        "This change order ran out before it was answered, so it can no longer be accepted. "
        "Ask for it to be proposed again."
    )
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == "OPEN"
    assert stages(funded) == [
        (0, "Stage 0", 30_000, "PENDING"),
        (1, "Stage 1", 50_000, "PENDING"),
        (2, "Stage 2", 20_000, "PENDING"),
    ]
    # A moment before, it is still accepted.
    with at(proposal.lapses_at - timedelta(seconds=1)):
        services.change_order_accept(proposal=refresh(proposal), by=buyer)
    assert refresh(proposal).status == "ACCEPTED"


def test_a_proposal_on_an_escrow_that_closed_lapses_at_once(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    services.escrow_refund(escrow=funded, by=seller)
    assert list(services.change_orders_due()) == [proposal]
    with pytest.raises(InvalidState, match="This escrow is refunded"):
        services.change_order_accept(proposal=proposal, by=buyer)
    services.change_order_lapse(proposal=proposal)
    assert refresh(proposal).status == "LAPSED"
    assert Event.objects.get(kind="change_order.lapsed").details["reason"] == "escrow closed"


def test_the_timer_lapses_what_is_due(funded, seller):
    from escrows.tasks import run_timers

    proposal = add_stage(funded, seller)
    with at(timezone.now() + timedelta(days=8)):
        counts = run_timers()
    assert counts["change_orders_lapsed"] == 1
    assert refresh(proposal).status == "LAPSED"


def test_an_open_cancellation_no_longer_adds_up_after_a_change(funded, seller, buyer):
    cancellation = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=50_000, seller_amount=50_000
    )
    proposal = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageRemove(milestone=milestones(funded)[2])]
    )
    services.change_order_accept(proposal=proposal, by=buyer)
    assert refresh(cancellation).status == CancellationStatus.SUPERSEDED
    assert_hold_matches(funded)


def test_money_is_conserved_across_several_change_orders(funded, seller, buyer):
    services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
    first, second, third = milestones(funded)
    steps = [
        (seller, buyer, [StageAdd(amount=25_000, title="Four")]),
        (buyer, seller, [StageEdit(milestone=second, amount=45_000), StageRemove(milestone=third)]),
        (seller, buyer, [StageAdd(amount=1_000, title="Five"), StageAdd(amount=2_000, title="Six")]),
    ]
    for proposer, answerer, changes in steps:
        proposal = services.change_order_propose(escrow=funded, by=proposer, changes=changes)
        services.change_order_accept(proposal=proposal, by=answerer)
        assert_hold_matches(funded)
    escrow = refresh(funded)
    assert [m.index for m in milestones(escrow)] == [0, 1, 2, 3, 4]
    assert escrow.amount == sum(m.amount for m in milestones(escrow)) == 103_000
    assert escrow.terms_version == 4
    for m in milestones(escrow):
        services.milestone_release(milestone=m, by=buyer)
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    fees = ledger.cached_balance(ledger.platform_account(AccountKind.PLATFORM_FEES, "USD"))
    assert fees == refresh(escrow).fee
    assert wallet_balance(seller, "USD") == 103_000
    assert_ledger_invariants()


def test_the_ledger_summary_and_the_statement_count_what_changes_moved(funded, seller, buyer):
    from escrows.selectors import balance_statement, escrow_ledger_summary, with_progress

    services.wallet_topup(customer=buyer, amount=30_450, currency="USD")
    services.change_order_accept(proposal=add_stage(funded, seller), by=buyer)
    second = milestones(funded)[1]
    lower = services.change_order_propose(
        escrow=funded, by=seller, changes=[StageEdit(milestone=second, amount=40_000)]
    )
    services.change_order_accept(proposal=lower, by=buyer)
    summary = escrow_ledger_summary(refresh(funded))
    assert (summary.funded, summary.fee, summary.released, summary.refunded, summary.held) == (
        130_000,
        1_950,
        0,
        10_000,
        120_000,
    )
    assert with_progress(type(funded).objects.filter(pk=funded.pk)).get().refunded_total == 10_000
    rows = list(balance_statement(buyer).rows)
    assert [(r.kind_words, r.amount, r.description) for r in rows[:2]] == [
        ("Change order", 10_000, "Refunded to you: the decrease of an agreed change to “Website build”"),
        (
            "Change order",
            -30_450,
            "You paid the increase of an agreed change to “Website build” from your balance, fee included",
        ),
    ]
