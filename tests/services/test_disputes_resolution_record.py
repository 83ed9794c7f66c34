"""How a dispute ends, exactly: the one posting that moves the disputed amount out of the hold
(to the milestone's payee and/or back to the buyer), the milestone's settlement or the escrow's
close, the dispute's resolution fields, and each event with who decided (staff, or the system
at the deadline). Each refusal says exactly why."""

from datetime import UTC, datetime

import pytest

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import (
    DisputeStatus,
    Escrow,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
)
from escrows.selectors import wallet_balance
from tests.factories import UserFactory
from tests.helpers import (
    at,
    fund,
    ledger_fingerprint,
    make_settling_escrow,
    make_standard,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def posting(dispute):
    txn = LedgerTransaction.objects.get(memo=f"dispute {dispute.public_id}")
    legs = sorted(
        (e.account.kind, e.account.owner_id, e.amount)
        for e in LedgerEntry.objects.filter(transaction=txn).select_related("account")
    )
    return txn, legs


def test_staff_split_of_a_milestone_is_recorded_whole(funded, seller, buyer, admin_user):
    second = milestones(funded)[1]
    dispute = services.dispute_open(escrow=funded, milestone=second, by=buyer, reason="Half done")
    note = "".join(f"{i % 10}" for i in range(6000))
    with at(NOW):
        services.dispute_resolve(
            dispute=dispute,
            by=admin_user,
            outcome="split",
            seller_amount=30_000,
            buyer_amount=20_000,
            note=f"  {note}",
        )
    resolved = refresh(dispute)
    assert (resolved.status, resolved.outcome, resolved.seller_amount, resolved.buyer_amount) == (
        DisputeStatus.RESOLVED,
        "split",
        30_000,
        20_000,
    )
    assert (resolved.resolved_by, resolved.resolved_at, resolved.resolution_note) == (
        admin_user,
        NOW,
        note[:5000],
    )
    settled = refresh(second)
    assert (settled.status, settled.released_at, settled.refunded_at) == (MilestoneStatus.SPLIT, NOW, NOW)
    txn, legs = posting(dispute)
    assert (txn.kind, txn.currency, txn.escrow_id, txn.milestone_id) == ("SPLIT", "USD", funded.pk, second.pk)
    assert legs == sorted(
        [
            ("ESCROW_HOLD", None, -30_000),
            ("CUSTOMER_MAIN", seller.pk, 30_000),
            ("ESCROW_HOLD", None, -20_000),
            ("CUSTOMER_MAIN", buyer.pk, 20_000),
        ]
    )
    split = Event.objects.get(kind="milestone.split")
    assert (split.actor, split.actor_kind, split.escrow_id, split.milestone_id) == (
        admin_user,
        "admin",
        funded.pk,
        second.pk,
    )
    assert (split.from_status, split.to_status) == (MilestoneStatus.DISPUTED, MilestoneStatus.SPLIT)
    assert split.details == {
        "index": 1,
        "amount": 50_000,
        "sellerAmount": 30_000,
        "buyerAmount": 20_000,
        "payee": seller.customer_id,
        "reason": "dispute resolved: split",
    }
    event = Event.objects.get(kind="dispute.resolved")
    assert (event.actor, event.actor_kind, event.escrow_id, event.milestone_id) == (
        admin_user,
        "admin",
        funded.pk,
        second.pk,
    )
    assert (event.from_status, event.to_status) == (DisputeStatus.OPEN, DisputeStatus.RESOLVED)
    assert event.details == {
        "dispute": dispute.public_id,
        "outcome": "split",
        "sellerAmount": 30_000,
        "buyerAmount": 20_000,
        "note": note[:2000],
    }
    assert refresh(funded).status == EscrowStatus.OPENED


def test_the_sellers_part_goes_to_the_milestones_payee(funded, seller, buyer, admin_user):
    payee = UserFactory()
    Milestone.objects.filter(escrow=funded, index=1).update(payee=payee)
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    _, legs = posting(dispute)
    assert legs == sorted([("ESCROW_HOLD", None, -50_000), ("CUSTOMER_MAIN", payee.pk, 50_000)])
    assert (wallet_balance(payee, "USD"), wallet_balance(seller, "USD")) == (50_000, 0)
    assert Event.objects.get(kind="milestone.released").details["payee"] == payee.customer_id


def test_the_payout_a_ruling_schedules_is_the_rulers_doing(seller, buyer, admin_user):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[0], by=buyer, reason="Late")
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=10_000, buyer_amount=20_000
    )
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.actor, scheduled.actor_kind, scheduled.escrow_id, scheduled.details["amount"]) == (
        admin_user,
        "admin",
        escrow.pk,
        10_000,
    )


@pytest.mark.parametrize(
    "outcome, kind, status, seller_amount, buyer_amount",
    [
        ("release", "RELEASE", EscrowStatus.COMPLETED, 50_001, 0),
        ("refund", "REFUND", EscrowStatus.REFUNDED, 0, 50_001),
        ("split", "SPLIT", EscrowStatus.COMPLETED, 25_000, 25_001),
    ],
)
def test_the_default_outcome_closes_a_whole_escrow_dispute_as_the_system(
    seller, buyer, outcome, kind, status, seller_amount, buyer_amount
):
    escrow = make_standard(seller, amount=50_001)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Broken", default_outcome=outcome)
    deadline = refresh(dispute).deadline
    with at(deadline):
        assert services.dispute_apply_default(dispute=dispute) is not None
    closed = refresh(escrow)
    assert (closed.status, closed.closed_at) == (status, deadline)
    txn, _ = posting(dispute)
    assert (txn.kind, txn.milestone_id) == (kind, None)
    ended = Event.objects.get(kind=f"escrow.{status.lower()}")
    assert (ended.actor, ended.actor_kind, ended.milestone_id) == (None, "system", None)
    assert (ended.from_status, ended.to_status) == (EscrowStatus.DISPUTED, status)
    assert ended.details == {"sellerAmount": seller_amount, "buyerAmount": buyer_amount}
    event = Event.objects.get(kind="dispute.resolved")
    assert (event.actor, event.actor_kind, event.milestone_id) == (None, "system", None)
    assert event.details == {
        "dispute": dispute.public_id,
        "outcome": outcome,
        "sellerAmount": seller_amount,
        "buyerAmount": buyer_amount,
        "note": "The seller did not answer by the deadline: the buyer's request applied",
    }
    resolved = refresh(dispute)
    assert (resolved.resolved_by, resolved.resolved_at) == (None, deadline)


def test_the_default_outcome_settles_a_milestone_as_the_system(funded, buyer):
    second = milestones(funded)[1]
    dispute = services.dispute_open(
        escrow=funded, milestone=second, by=buyer, reason="Never started", default_outcome="refund"
    )
    deadline = refresh(dispute).deadline
    with at(deadline):
        services.dispute_apply_default(dispute=dispute)
    settled = refresh(second)
    assert (settled.status, settled.refunded_at, settled.released_at) == (
        MilestoneStatus.REFUNDED,
        deadline,
        None,
    )
    refunded = Event.objects.get(kind="milestone.refunded")
    assert (refunded.actor, refunded.actor_kind, refunded.milestone_id) == (None, "system", second.pk)
    assert refunded.details["reason"] == "dispute resolved: refund"
    assert refresh(funded).status == EscrowStatus.OPENED


def test_who_may_resolve_and_when(funded, seller, buyer, stranger, admin_user):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only an administrator can resolve a dispute$"):
        services.dispute_resolve(dispute=dispute, by=seller, outcome="release")
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.dispute_resolve(dispute=dispute, by=stranger, outcome="release")
    for amounts in ({}, {"seller_amount": 50_000}, {"buyer_amount": 50_000}):
        with pytest.raises(
            InvalidRequest, match="^A split needs both sellerAmount and buyerAmount$"
        ) as refused:
            services.dispute_resolve(dispute=dispute, by=admin_user, outcome="split", **amounts)
        assert refused.value.field == "sellerAmount"
    assert ledger_fingerprint() == before and refresh(dispute).status == DisputeStatus.OPEN
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert refresh(dispute).resolution_note == ""  # no note given is no note
    assert Event.objects.get(kind="dispute.resolved").details["note"] == ""
    with pytest.raises(InvalidState, match="^This dispute is already resolved$") as refused:
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    assert refused.value.code == "dispute_closed"


@pytest.mark.parametrize(
    "seller_amount, buyer_amount, field, message",
    [
        ("25000", 25_000, "sellerAmount", "A split needs sellerAmount in minor units"),
        (25_000, True, "buyerAmount", "A split needs buyerAmount in minor units"),
        (-1, 50_001, "sellerAmount", "sellerAmount cannot be negative"),
        (50_001, -1, "buyerAmount", "buyerAmount cannot be negative"),
    ],
)
def test_a_split_names_the_amount_that_is_wrong(
    funded, buyer, admin_user, seller_amount, buyer_amount, field, message
):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    with pytest.raises(InvalidRequest) as refused:
        services.dispute_resolve(
            dispute=dispute,
            by=admin_user,
            outcome="split",
            seller_amount=seller_amount,
            buyer_amount=buyer_amount,
        )
    assert (refused.value.message, refused.value.field) == (message, field)


def test_a_split_that_does_not_add_up_says_both_sums(funded, buyer, admin_user):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[1], by=buyer, reason="Late")
    with pytest.raises(InvalidRequest) as refused:
        services.dispute_resolve(
            dispute=dispute, by=admin_user, outcome="split", seller_amount=1, buyer_amount=2
        )
    assert (refused.value.message, refused.value.field, refused.value.code) == (
        "The split must add up to the disputed amount, 500.00 USD: 0.01 USD + 0.02 USD is 0.03 USD",
        "sellerAmount",
        "split_mismatch",
    )


def test_the_last_milestone_ruled_on_closes_the_escrow_by_the_same_hand_at_the_same_moment(
    funded, buyer, admin_user
):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    dispute = services.dispute_open(escrow=funded, milestone=third, by=buyer, reason="Late")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    resolved = refresh(dispute)
    assert refresh(third).refunded_at == resolved.resolved_at
    closed = Event.objects.get(kind="escrow.completed")
    assert (closed.actor, closed.actor_kind, closed.from_status, closed.to_status) == (
        admin_user,
        "admin",
        EscrowStatus.OPENED,
        EscrowStatus.COMPLETED,
    )


def test_a_whole_escrow_ruling_closes_it_at_the_moment_of_the_ruling(seller, buyer, admin_user):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Broken")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    closed = refresh(escrow)
    assert (closed.status, closed.closed_at) == (EscrowStatus.REFUNDED, refresh(dispute).resolved_at)
    ended = Event.objects.get(kind="escrow.refunded")
    assert (ended.actor, ended.actor_kind) == (admin_user, "admin")


def test_a_ruling_on_a_milestone_no_longer_frozen_is_refused(funded, buyer, admin_user):
    second = milestones(funded)[1]
    dispute = services.dispute_open(escrow=funded, milestone=second, by=buyer, reason="Late")
    Milestone.objects.filter(pk=second.pk).update(status=MilestoneStatus.PENDING)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="^The disputed milestone is no longer frozen$") as refused:
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    assert refused.value.code == "dispute_closed"
    assert ledger_fingerprint() == before and refresh(dispute).status == DisputeStatus.OPEN


def test_a_ruling_on_an_escrow_no_longer_disputed_is_refused(seller, buyer, admin_user):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Broken")
    Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.OPENED)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="^This escrow is no longer disputed$") as refused:
        services.dispute_resolve(dispute=dispute, by=admin_user, outcome="refund")
    assert refused.value.code == "dispute_closed"
    assert ledger_fingerprint() == before and refresh(dispute).status == DisputeStatus.OPEN
