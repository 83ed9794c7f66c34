"""Cancelling an escrow: by either party while it awaits payment; once funded, by a mutual
cancellation that splits what is held (proposed, accepted, declined or withdrawn); and by expiry
of an unpaid escrow. Every path and every refusal, with the ledger invariants after each."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import (
    ActorKind,
    CancellationProposal,
    CancellationStatus,
    Escrow,
    EscrowStatus,
    Event,
    LedgerTransaction,
    Milestone,
    RefundRequestStatus,
    Settlement,
)
from escrows.selectors import escrow_ledger_summary, wallet_balance
from tests.factories import UserFactory
from tests.helpers import (
    _dispute,
    assert_ledger_invariants,
    at,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_settling_escrow,
    make_standard,
    milestones,
    refresh,
    statuses,
)

pytestmark = pytest.mark.django_db


def test_cancel_awaiting_payment(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    services.escrow_cancel(escrow=escrow, by=buyer)
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    with pytest.raises(InvalidState):
        services.escrow_cancel(escrow=escrow, by=seller)


def test_cancel_refused_once_funded(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="awaiting payment"):
        services.escrow_cancel(escrow=escrow, by=seller)
    assert ledger_fingerprint() == before


# -- mutual cancellation ------------------------------------------------------------------------


def test_buyer_proposes_60_40_and_seller_accepts(funded, seller, buyer):
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    held = 70_000
    proposal = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=42_000, seller_amount=28_000, note="Call it off"
    )
    assert proposal.public_id.startswith("mcp_")
    assert proposal.proposer_role == "buyer" and proposal.total == held
    before_txns = LedgerTransaction.objects.count()
    services.cancellation_accept(proposal=proposal, by=seller)
    assert LedgerTransaction.objects.count() == before_txns + 1
    escrow = refresh(funded)
    assert escrow.status == EscrowStatus.CANCELLED
    assert refresh(proposal).status == CancellationStatus.ACCEPTED
    assert statuses(escrow) == ["RELEASED", "SPLIT", "SPLIT"]
    assert wallet_balance(buyer, "USD") == 42_000
    assert wallet_balance(seller, "USD") == 30_000 + 28_000
    summary = escrow_ledger_summary(escrow)
    assert (summary.released, summary.refunded, summary.held) == (58_000, 42_000, 0)
    kinds = list(Event.objects.filter(escrow=escrow).values_list("kind", flat=True))
    assert kinds[-1] == "escrow.cancelled"
    assert "cancellation.accepted" in kinds and kinds.count("milestone.split") == 2
    assert_ledger_invariants()


def test_all_to_buyer_marks_refunded_all_to_seller_marks_released(seller, buyer):
    a = make_escrow(seller)
    fund(a, buyer)
    p = services.cancellation_propose(escrow=a, by=seller, buyer_amount=100_000, seller_amount=0)
    services.cancellation_accept(proposal=p, by=buyer)
    assert statuses(a) == ["REFUNDED"] * 3
    assert refresh(a).status == EscrowStatus.CANCELLED
    b = make_escrow(seller)
    fund(b, buyer)
    p = services.cancellation_propose(escrow=b, by=seller, buyer_amount=0, seller_amount=100_000)
    services.cancellation_accept(proposal=p, by=buyer)
    assert statuses(b) == ["RELEASED"] * 3
    assert_ledger_invariants()


def test_seller_share_goes_to_each_milestones_payee(seller, buyer):
    payee = UserFactory()
    escrow = make_escrow(seller)

    Milestone.objects.filter(escrow=escrow, index=0).update(payee=payee)
    fund(escrow, buyer)
    p = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000)
    services.cancellation_accept(proposal=p, by=seller)
    # The seller's 400.00 is allocated in index order: 300.00 to stage 0's payee, 100.00 to stage 1.
    assert wallet_balance(payee, "USD") == 30_000
    assert wallet_balance(seller, "USD") == 10_000
    assert wallet_balance(buyer, "USD") == 60_000
    assert_ledger_invariants()


def test_cancellation_schedules_the_sellers_payout(seller, buyer):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    p = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000)
    services.cancellation_accept(proposal=p, by=seller)
    settlement = Settlement.objects.get(escrow=escrow)
    assert settlement.amount == 40_000 and settlement.customer == seller
    assert_ledger_invariants()


def test_standard_escrow_cancelled_while_disputed(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    services.dispute_open(escrow=escrow, by=buyer, reason="Late")
    p = services.cancellation_propose(escrow=escrow, by=seller, buyer_amount=20_000, seller_amount=30_000)
    services.cancellation_accept(proposal=p, by=buyer)
    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.CANCELLED
    assert wallet_balance(buyer, "USD") == 20_000 and wallet_balance(seller, "USD") == 30_000
    # The agreement ends the dispute too: nothing is left for staff or the deadline to settle.
    assert [d.status for d in escrow.disputes.all()] == ["WITHDRAWN"]
    assert_ledger_invariants()


def test_sums_must_match_what_is_held(funded, buyer):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as exc:
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=60_000, seller_amount=30_000)
    assert exc.value.code == "split_mismatch"
    assert "1,000.00 USD" in exc.value.message
    with pytest.raises(InvalidRequest):
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=-1, seller_amount=100_001)
    with pytest.raises(InvalidRequest):
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=True, seller_amount=99_999)
    assert ledger_fingerprint() == before
    assert not CancellationProposal.objects.exists()


def test_only_the_other_party_accepts_or_declines(funded, seller, buyer, stranger):
    p = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=50_000, seller_amount=50_000)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden):
        services.cancellation_accept(proposal=p, by=buyer)
    with pytest.raises(Forbidden):
        services.cancellation_decline(proposal=p, by=buyer)
    with pytest.raises(NotFound):
        services.cancellation_accept(proposal=p, by=stranger)
    with pytest.raises(Forbidden):
        services.cancellation_withdraw(proposal=p, by=seller)
    assert ledger_fingerprint() == before
    services.cancellation_decline(proposal=p, by=seller, reason="No, I will finish")
    p = refresh(p)
    assert p.status == CancellationStatus.DECLINED and p.decline_reason == "No, I will finish"
    assert refresh(funded).status == EscrowStatus.OPENED
    assert ledger_fingerprint() == before


def test_withdraw_and_one_open_proposal(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    with pytest.raises(Conflict) as exc:
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)
    assert exc.value.code == "cancellation_open"
    services.cancellation_withdraw(proposal=p, by=seller)
    assert refresh(p).status == CancellationStatus.WITHDRAWN
    with pytest.raises(InvalidState) as closed:
        services.cancellation_accept(proposal=p, by=buyer)
    assert closed.value.code == "cancellation_closed"
    services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=100_000, seller_amount=0)


def test_stale_proposal_is_refused(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=50_000, seller_amount=50_000)
    # Money moved after the proposal: the buyer released the first stage.
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.cancellation_accept(proposal=p, by=buyer)
    assert exc.value.code == "cancellation_stale"
    assert "700.00 USD" in exc.value.message
    assert ledger_fingerprint() == before
    # A fresh proposal at the new amount supersedes it.
    services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=35_000, seller_amount=35_000)
    assert refresh(p).status == CancellationStatus.SUPERSEDED


def test_double_accept_moves_money_once(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=10_000, seller_amount=90_000)
    services.cancellation_accept(proposal=p, by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState):
        services.cancellation_accept(proposal=p, by=buyer)
    assert ledger_fingerprint() == before


def test_cancellation_refused_while_a_milestone_is_disputed(funded, seller, buyer):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=10_000, seller_amount=90_000)
    _dispute(milestones(funded)[2])
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as exc:
        services.cancellation_accept(proposal=p, by=buyer)
    assert exc.value.code == "milestone_disputed"
    with pytest.raises(InvalidState):
        services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=80_000, seller_amount=0)
    assert ledger_fingerprint() == before


def test_cancellation_needs_a_funded_open_escrow(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState) as exc:
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    assert exc.value.code == "not_funded"
    fund(escrow, buyer)
    p = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    services.escrow_refund(escrow=escrow, by=seller)
    assert refresh(p).status == CancellationStatus.SUPERSEDED
    with pytest.raises(InvalidState):
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=0, seller_amount=0)


def test_accepting_cancellation_supersedes_open_refund_request(funded, seller, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x")
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=70_000, seller_amount=30_000)
    services.cancellation_accept(proposal=p, by=buyer)
    assert refresh(request).status == RefundRequestStatus.SUPERSEDED
    assert_ledger_invariants()


# The timer picks escrows still awaiting payment past their expiry and calls escrow_expire for
# each; the service decides again from the locked row. One not expired yet, or paid after the
# pick, is left alone; an expired one is cancelled by the system.


def expiring_in(escrow, delta):
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() + delta)
    return refresh(escrow)


def test_an_escrow_not_expired_yet_is_left_alone(seller):
    escrow = expiring_in(make_escrow(seller), timedelta(minutes=1))
    assert services.escrow_expire(escrow=escrow) is None
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert not Event.objects.filter(kind="escrow.cancelled").exists()


def test_an_escrow_paid_after_the_pick_is_left_alone(seller, buyer):
    """Paid in its last moments: the timer's object still says awaiting payment, and the expiry
    has passed by the time the service runs."""
    picked = make_escrow(seller)
    fund(refresh(picked), buyer)
    Escrow.objects.filter(pk=picked.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert picked.status == EscrowStatus.AWAITING_PAYMENT  # what the timer holds
    before = ledger_fingerprint()
    assert services.escrow_expire(escrow=picked) is None
    assert refresh(picked).status == EscrowStatus.OPENED
    assert ledger_fingerprint() == before


def test_an_expired_escrow_is_cancelled_by_the_system(seller):
    escrow = expiring_in(make_escrow(seller), -timedelta(minutes=1))
    assert services.escrow_expire(escrow=escrow) is not None
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    event = Event.objects.get(kind="escrow.cancelled", escrow=escrow)
    assert event.actor_kind == ActorKind.SYSTEM


# An unpaid escrow expires at its expiry itself, not a moment after, as the sweep that picks
# it (deadline <= now) expects, and leaves its reason in the record.


def test_an_unpaid_escrow_expires_at_its_expiry(seller):
    escrow = make_escrow(seller)
    expiry = refresh(escrow).expires_at
    with at(expiry - timedelta(seconds=1)):
        assert services.escrow_expire(escrow=escrow) is None
    with at(expiry):
        assert services.escrow_expire(escrow=escrow) is not None
    expired = refresh(escrow)
    assert expired.status == EscrowStatus.CANCELLED
    assert expired.closed_at == expiry
    event = Event.objects.get(kind="escrow.cancelled")
    assert (event.actor, event.actor_kind, event.escrow_id) == (None, "system", escrow.pk)
    assert (event.from_status, event.to_status) == (EscrowStatus.AWAITING_PAYMENT, EscrowStatus.CANCELLED)
    assert event.details == {"reason": "expired"}
