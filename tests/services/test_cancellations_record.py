"""What a cancellation leaves behind, exactly: who cancelled and when, each event's statuses and
details (the audit trail and the webhook payload), the proposal's decision, the one posting and
where each part of it went, the times on the settled stages, the payout that follows; the
reminder before an unpaid escrow expires; and the words of each refusal."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import ledger, services
from escrows.models import (
    ActorKind,
    CancellationProposal,
    CancellationStatus,
    Escrow,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Settlement,
    TransactionKind,
)
from escrows.selectors import wallet_balance
from escrows.services.cancellations import EXPIRY_REMINDER
from escrows.services.refunds import REASON_MAX
from tests.factories import UserFactory
from tests.helpers import (
    assert_ledger_invariants,
    at,
    fund,
    ledger_fingerprint,
    make_escrow,
    make_settling_escrow,
    milestones,
    refresh,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.UTC)


def _events_after(pk):
    return [
        (
            e.kind,
            e.actor,
            e.actor_kind,
            e.milestone.index if e.milestone else None,
            e.from_status,
            e.to_status,
            e.details,
        )
        for e in Event.objects.filter(pk__gt=pk).select_related("milestone").order_by("pk")
    ]


def _last_event_pk():
    last = Event.objects.order_by("-pk").first()
    return last.pk if last else 0


# -- an unpaid escrow -----------------------------------------------------------------------------


def test_cancelling_an_unpaid_escrow_records_who_and_when(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    before = _last_event_pk()
    with at(NOW):
        services.escrow_cancel(escrow=escrow, by=buyer)
    cancelled = refresh(escrow)
    assert (cancelled.status, cancelled.closed_at) == (EscrowStatus.CANCELLED, NOW)
    assert _events_after(before) == [
        (
            "escrow.cancelled",
            buyer,
            ActorKind.USER,
            None,
            EscrowStatus.AWAITING_PAYMENT,
            EscrowStatus.CANCELLED,
            {},
        )
    ]


def test_staff_cancel_an_unpaid_escrow_they_are_no_party_to(seller, buyer, stranger, admin_user):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.escrow_cancel(escrow=escrow, by=stranger)
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    before = _last_event_pk()
    services.escrow_cancel(escrow=escrow, by=admin_user)
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    [(kind, actor, actor_kind, *_)] = _events_after(before)
    assert (kind, actor, actor_kind) == ("escrow.cancelled", admin_user, ActorKind.ADMIN)


def test_a_paid_escrow_is_not_cancelled_outright(seller, buyer, admin_user):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    for who in (seller, buyer, admin_user):
        with pytest.raises(InvalidState, match="^Only an escrow that is awaiting payment can be cancelled$"):
            services.escrow_cancel(escrow=escrow, by=who)
    assert ledger_fingerprint() == before
    assert refresh(escrow).closed_at is None


# -- a mutual cancellation ------------------------------------------------------------------------


@pytest.fixture
def payee(db):
    return UserFactory(email="payee@example.test")


@pytest.fixture
def shared(seller, buyer, payee):
    """Stages of 300.00 and 500.00 USD for the seller and 200.00 for another payee, paid; the
    first released, so the seller already has a main balance (300.00)."""
    escrow = make_escrow(seller)
    Milestone.objects.filter(escrow=escrow, index=2).update(payee=payee)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    return refresh(escrow)


def test_an_accepted_split_records_each_step(shared, seller, buyer, payee):
    proposal = services.cancellation_propose(
        escrow=shared, by=buyer, buyer_amount=10_000, seller_amount=60_000
    )
    before = _last_event_pk()
    with at(NOW):
        services.cancellation_accept(proposal=proposal, by=seller)

    accepted = refresh(proposal)
    assert (accepted.status, accepted.decided_by, accepted.decided_at) == (
        CancellationStatus.ACCEPTED,
        seller,
        NOW,
    )
    escrow = refresh(shared)
    assert (escrow.status, escrow.closed_at) == (EscrowStatus.CANCELLED, NOW)
    pid = proposal.public_id
    user = ActorKind.USER
    pending, split = MilestoneStatus.PENDING, MilestoneStatus.SPLIT
    amounts = {"buyerAmount": 10_000, "sellerAmount": 60_000}
    why = {"reason": "mutual cancellation"}
    assert _events_after(before) == [
        ("cancellation.accepted", seller, user, None, "", "", {"proposal": pid, **amounts}),
        # The seller's 600.00 goes to the stages in order: all of stage 1, half of stage 2.
        (
            "milestone.split",
            seller,
            user,
            1,
            pending,
            split,
            {"index": 1, "amount": 50_000, "sellerShare": 50_000, "buyerShare": 0, **why},
        ),
        (
            "milestone.split",
            seller,
            user,
            2,
            pending,
            split,
            {"index": 2, "amount": 20_000, "sellerShare": 10_000, "buyerShare": 10_000, **why},
        ),
        (
            "escrow.cancelled",
            seller,
            user,
            None,
            EscrowStatus.OPENED,
            EscrowStatus.CANCELLED,
            {**why, "proposal": pid, **amounts},
        ),
    ]
    # A split by agreement records no time on its stages.
    assert [(m.released_at, m.refunded_at) for m in milestones(escrow)[1:]] == [(None, None), (None, None)]

    posting = LedgerTransaction.objects.get(kind=TransactionKind.CANCELLATION)
    assert (posting.escrow_id, posting.currency, posting.memo) == (
        escrow.pk,
        "USD",
        f"mutual cancellation {pid}",
    )
    legs = {
        (e.account.kind, e.account.owner, e.amount)
        for e in LedgerEntry.objects.filter(transaction=posting).select_related("account__owner")
    }
    assert legs == {
        ("ESCROW_HOLD", None, -70_000),
        ("CUSTOMER_MAIN", buyer, 10_000),
        ("CUSTOMER_MAIN", seller, 50_000),
        ("CUSTOMER_MAIN", payee, 10_000),
    }
    # Each payee's part lands on their own main balance, the seller's on the one it already had.
    assert (wallet_balance(seller, "USD"), wallet_balance(payee, "USD"), wallet_balance(buyer, "USD")) == (
        80_000,
        10_000,
        10_000,
    )
    assert_ledger_invariants()


def test_accepting_credits_the_sellers_balance_the_lock_read(shared, seller, buyer, payee, monkeypatch):
    """The seller's main account comes with the escrow's row lock: accepting looks up the
    buyer's and the other payee's accounts, not the seller's again."""
    proposal = services.cancellation_propose(
        escrow=shared, by=buyer, buyer_amount=10_000, seller_amount=60_000
    )
    looked_up = []
    real = ledger._account

    def recording(kind, currency, owner=None):
        looked_up.append(owner)
        return real(kind, currency, owner)

    monkeypatch.setattr(ledger, "_account", recording)
    services.cancellation_accept(proposal=proposal, by=seller)
    assert seller not in looked_up
    assert {buyer, payee} <= set(looked_up)
    assert wallet_balance(seller, "USD") == 80_000


def test_everything_back_to_the_buyer_refunds_each_stage_and_pays_the_seller_nothing(seller, buyer):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    request = services.refund_request_create(escrow=escrow, by=buyer, reason="Never started")
    proposal = services.cancellation_propose(escrow=escrow, by=seller, buyer_amount=100_000, seller_amount=0)
    before = _last_event_pk()
    with at(NOW):
        services.cancellation_accept(proposal=proposal, by=buyer)
    events = _events_after(before)
    refunded = [e for e in events if e[0] == "milestone.refunded"]
    assert [(e[1], e[3], e[6]["sellerShare"], e[6]["buyerShare"]) for e in refunded] == [
        (buyer, 0, 0, 30_000),
        (buyer, 1, 0, 70_000),
    ]
    assert [(m.status, m.released_at, m.refunded_at) for m in milestones(escrow)] == [
        (MilestoneStatus.REFUNDED, None, NOW),
        (MilestoneStatus.REFUNDED, None, NOW),
    ]
    # Nothing for the seller: no payout, and the refund request the agreement answered is closed
    # in the buyer's name.
    assert not Settlement.objects.exists()
    assert [e for e in events if e[0] == "refund.superseded"] == [
        (
            "refund.superseded",
            buyer,
            ActorKind.USER,
            None,
            "",
            "",
            {"refundRequest": request.public_id, "reason": "the escrow is now cancelled"},
        )
    ]
    assert wallet_balance(buyer, "USD") == 100_000
    assert_ledger_invariants()


def test_everything_to_the_seller_releases_each_stage_and_schedules_the_payout(seller, buyer):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    proposal = services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=0, seller_amount=100_000)
    before = _last_event_pk()
    with at(NOW):
        services.cancellation_accept(proposal=proposal, by=seller)
    assert [(m.status, m.released_at, m.refunded_at) for m in milestones(escrow)] == [
        (MilestoneStatus.RELEASED, NOW, None),
        (MilestoneStatus.RELEASED, NOW, None),
    ]
    settlement = Settlement.objects.get()
    assert (settlement.customer, settlement.amount, settlement.escrow_id) == (seller, 100_000, escrow.pk)
    scheduled = [e for e in _events_after(before) if e[0] == "settlement.scheduled"]
    assert [(e[1], e[2]) for e in scheduled] == [(seller, ActorKind.USER)]
    assert_ledger_invariants()


def test_only_the_other_party_accepts_in_these_words(funded, buyer):
    proposal = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=50_000, seller_amount=50_000
    )
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the other party can accept this cancellation proposal$"):
        services.cancellation_accept(proposal=proposal, by=buyer)
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == CancellationStatus.PROPOSED


def test_a_proposal_is_answered_only_on_its_own_escrow(seller, buyer):
    first, second = make_escrow(seller, buyer=buyer), make_escrow(seller, buyer=buyer)
    fund(first, buyer)
    fund(second, buyer)
    proposal = services.cancellation_propose(escrow=first, by=buyer, buyer_amount=100_000, seller_amount=0)
    # Handed in with the other escrow of the same parties, holding the same amount.
    proposal.escrow = second
    before = ledger_fingerprint()
    with pytest.raises(NotFound, match="^Cancellation proposal not found$"):
        services.cancellation_accept(proposal=proposal, by=seller)
    assert ledger_fingerprint() == before
    assert refresh(proposal).status == CancellationStatus.PROPOSED


# -- a proposal -----------------------------------------------------------------------------------


def test_a_proposal_records_who_proposed_what(funded, seller, buyer):
    before = _last_event_pk()
    with at(NOW):
        proposal = services.cancellation_propose(
            escrow=funded, by=buyer, buyer_amount=60_000, seller_amount=40_000, note="  Call it off \n"
        )
    stored = refresh(proposal)
    assert (stored.proposed_by, stored.proposer_role, stored.status, stored.created_at) == (
        buyer,
        "buyer",
        CancellationStatus.PROPOSED,
        NOW,
    )
    assert (stored.buyer_amount, stored.seller_amount, stored.note) == (60_000, 40_000, "Call it off")
    details = {"proposal": proposal.public_id, "buyerAmount": 60_000, "sellerAmount": 40_000}
    assert _events_after(before) == [
        (
            "cancellation.proposed",
            buyer,
            ActorKind.USER,
            None,
            "",
            "",
            {**details, "role": "buyer", "reason": "Call it off"},
        )
    ]
    services.cancellation_withdraw(proposal=proposal, by=buyer)
    # Without a note, and from the seller; a long note is kept to the length of a reason.
    proposal = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    assert refresh(proposal).note == ""
    proposed = Event.objects.filter(kind="cancellation.proposed").latest("pk")
    assert (proposed.actor, proposed.details["role"], proposed.details["reason"]) == (seller, "seller", "")
    services.cancellation_withdraw(proposal=proposal, by=seller)
    proposal = services.cancellation_propose(
        escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0, note="n" * (REASON_MAX + 5)
    )
    assert refresh(proposal).note == "n" * REASON_MAX


@pytest.mark.parametrize(
    ("buyer_amount", "seller_amount", "message", "field"),
    [
        (-1, 100_001, "buyerAmount must be zero or a positive amount", "buyerAmount"),
        (100_001, -1, "sellerAmount must be zero or a positive amount", "sellerAmount"),
        ("100000", 0, "buyerAmount must be zero or a positive amount", "buyerAmount"),
        (0, 1000.0, "sellerAmount must be zero or a positive amount", "sellerAmount"),
        (
            60_000,
            30_000,
            "The split must add up to what is held, 1,000.00 USD: 600.00 USD + 300.00 USD is 900.00 USD",
            "buyerAmount",
        ),
    ],
)
def test_a_split_is_refused_in_these_words(funded, buyer, buyer_amount, seller_amount, message, field):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as refused:
        services.cancellation_propose(
            escrow=funded, by=buyer, buyer_amount=buyer_amount, seller_amount=seller_amount
        )
    assert (refused.value.message, refused.value.field) == (message, field)
    assert ledger_fingerprint() == before
    assert not CancellationProposal.objects.exists()


def test_a_proposal_is_refused_in_these_words(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState, match="^Nobody has paid this escrow yet; cancel it instead$") as unpaid:
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0)
    assert unpaid.value.code == "not_funded"
    fund(escrow, buyer)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.cancellation_propose(escrow=escrow, by=stranger, buyer_amount=100_000, seller_amount=0)
    services.cancellation_propose(escrow=escrow, by=seller, buyer_amount=100_000, seller_amount=0)
    with pytest.raises(
        Conflict,
        match="^There is already an open cancellation proposal on this escrow; answer or withdraw it first$",
    ) as open_one:
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=50_000, seller_amount=50_000)
    assert open_one.value.code == "cancellation_open"
    services.escrow_refund(escrow=escrow, by=seller)
    with pytest.raises(InvalidState, match="^This escrow is refunded$") as closed:
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=0, seller_amount=0)
    assert closed.value.code == "escrow_closed"
    assert CancellationProposal.objects.count() == 1


def test_an_open_proposal_on_another_escrow_does_not_block_this_one(seller, buyer):
    """Only this escrow's open proposal stands in the way: the same parties' other escrow,
    holding the same amount, may have one open at the same time."""
    first, second = make_escrow(seller, buyer=buyer), make_escrow(seller, buyer=buyer)
    fund(first, buyer)
    fund(second, buyer)
    services.cancellation_propose(escrow=first, by=buyer, buyer_amount=100_000, seller_amount=0)
    proposal = services.cancellation_propose(escrow=second, by=buyer, buyer_amount=100_000, seller_amount=0)
    assert refresh(proposal).status == CancellationStatus.PROPOSED
    assert CancellationProposal.objects.filter(status=CancellationStatus.PROPOSED).count() == 2


def test_a_new_proposal_supersedes_one_money_has_outgrown(funded, seller, buyer):
    stale = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=50_000, seller_amount=50_000)
    # Money moved after it: the buyer released the first stage, 700.00 is held now.
    services.milestone_release(milestone=milestones(funded)[0], by=buyer)
    assert refresh(stale).status == CancellationStatus.PROPOSED
    before = _last_event_pk()
    fresh = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=35_000, seller_amount=35_000)
    superseded = refresh(stale)
    assert superseded.status == CancellationStatus.SUPERSEDED
    assert [e[:3] + e[6:] for e in _events_after(before)] == [
        ("cancellation.superseded", buyer, ActorKind.USER, {"proposal": stale.public_id, "held": 70_000}),
        (
            "cancellation.proposed",
            buyer,
            ActorKind.USER,
            {
                "proposal": fresh.public_id,
                "role": "buyer",
                "buyerAmount": 35_000,
                "sellerAmount": 35_000,
                "reason": "",
            },
        ),
    ]


# -- the reminder before an unpaid escrow expires --------------------------------------------------


def test_the_expiry_reminder_comes_once_inside_its_window(settings, seller, buyer):
    settings.ESCROW_EXPIRY_REMINDER_BEFORE = timedelta(hours=72)
    escrow, other = make_escrow(seller, buyer=buyer), make_escrow(seller, buyer=buyer)
    expiry = refresh(escrow).expires_at
    window = expiry - timedelta(hours=72)
    with at(window - timedelta(seconds=1)):
        assert services.escrow_expiry_remind(escrow=escrow) is None
    with at(expiry):
        assert services.escrow_expiry_remind(escrow=escrow) is None
    # Another escrow's reminder does not stand for this one's.
    with at(refresh(other).expires_at - timedelta(hours=1)):
        assert services.escrow_expiry_remind(escrow=other) is not None
    before = _last_event_pk()
    with at(window):
        assert services.escrow_expiry_remind(escrow=escrow) is not None
        assert services.escrow_expiry_remind(escrow=escrow) is None
    assert _events_after(before) == [
        (EXPIRY_REMINDER, None, ActorKind.SYSTEM, None, "", "", {"expiresAt": expiry.isoformat()})
    ]


def test_a_paid_escrow_gets_no_expiry_reminder(funded):
    with at(refresh(funded).expires_at - timedelta(hours=1)):
        assert services.escrow_expiry_remind(escrow=funded) is None
    assert not Event.objects.filter(kind=EXPIRY_REMINDER).exists()


def test_the_timer_asks_to_remind_only_unpaid_escrows_in_their_window_not_yet_reminded(
    settings, seller, buyer, funded
):
    """The list the timer works through: an unpaid escrow that expires within the reminder
    window (its far edge included) and whose parties were not told yet; not one already expired
    (at this very moment included), not one expiring later, not a paid one, not one reminded."""
    settings.ESCROW_EXPIRY_REMINDER_BEFORE = timedelta(hours=72)
    due, edge, reminded, later, lapsed = (make_escrow(seller, buyer=buyer) for _ in range(5))
    now = timezone.now()
    Escrow.objects.filter(pk__in=[due.pk, reminded.pk, funded.pk]).update(expires_at=now + timedelta(hours=1))
    Escrow.objects.filter(pk=edge.pk).update(expires_at=now + timedelta(hours=72))
    Escrow.objects.filter(pk=later.pk).update(expires_at=now + timedelta(hours=72, seconds=1))
    Escrow.objects.filter(pk=lapsed.pk).update(expires_at=now)
    assert services.escrow_expiry_remind(escrow=reminded) is not None
    assert sorted(e.pk for e in services.escrows_expiry_reminder_due(now)) == sorted([due.pk, edge.pk])


def test_the_escrow_closes_at_the_moment_the_proposal_was_accepted(funded, seller, buyer):
    proposal = services.cancellation_propose(escrow=funded, by=buyer, buyer_amount=0, seller_amount=100_000)
    services.cancellation_accept(proposal=proposal, by=seller)
    decided = refresh(proposal).decided_at
    assert refresh(funded).closed_at == decided
    assert {m.released_at for m in milestones(funded)} == {decided}
