"""Who decides a dispute: a contested one goes to an arbiter (staff) and nothing applies by itself,
however long it waits; one the other party never answered gets the opener's request at its
deadline (they had their chance). What the opener asks for is checked and worked out once,
by the same function the confirmation page calls before anything is opened."""

from datetime import timedelta

import pytest

from core.errors import InvalidRequest
from escrows import services, tasks
from escrows.models import Dispute, DisputeStatus, Event, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, at, ledger_fingerprint, milestones, refresh

pytestmark = pytest.mark.django_db


def test_a_contested_dispute_waits_for_an_arbiter_past_its_deadline(funded, seller, buyer, admin_user):
    second = milestones(funded)[1]
    dispute = services.dispute_open(
        escrow=funded, milestone=second, by=buyer, reason="Never started", default_outcome="refund"
    )
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="It is half done")
    before = ledger_fingerprint()
    long_after = refresh(dispute).deadline + timedelta(days=30)
    with at(long_after):
        assert services.dispute_apply_default(dispute=dispute) is None
        assert list(services.disputes_due()) == []
        assert list(services.disputes_reminder_due()) == []
        assert tasks.run_timers()["disputes_defaulted"] == 0
    assert ledger_fingerprint() == before, "the buyer's request did not apply"
    assert (refresh(dispute).status, refresh(second).status) == (
        DisputeStatus.ANSWERED,
        MilestoneStatus.DISPUTED,
    )
    assert not Event.objects.filter(kind="dispute.resolved").exists()
    # The arbiter decides, whatever the opener asked for.
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=20_000, buyer_amount=30_000
    )
    assert (wallet_balance(seller, "USD"), refresh(dispute).resolved_by) == (20_000, admin_user)
    assert_ledger_invariants()


def test_an_unanswered_dispute_gets_the_openers_request_at_its_deadline(funded, seller, buyer):
    second = milestones(funded)[1]
    dispute = services.dispute_open(
        escrow=funded,
        milestone=second,
        by=seller,
        reason="Delivered, never confirmed",
        default_outcome="split",
        default_seller_amount=40_000,
        default_buyer_amount=10_000,
    )
    deadline = refresh(dispute).deadline
    with at(deadline):
        assert list(services.disputes_due()) == [refresh(dispute)]
        assert services.dispute_apply_default(dispute=dispute) is not None
    settled = refresh(dispute)
    assert (settled.status, settled.outcome, settled.seller_amount, settled.buyer_amount) == (
        DisputeStatus.RESOLVED,
        "split",
        40_000,
        10_000,
    )
    assert settled.resolved_by is None
    assert settled.resolution_note == "The buyer did not answer by the deadline: the seller's request applied"
    assert (wallet_balance(seller, "USD"), refresh(second).status) == (40_000, MilestoneStatus.SPLIT)
    assert_ledger_invariants()


@pytest.mark.parametrize(
    "status, offset, applies",
    [
        (DisputeStatus.OPEN, timedelta(0), True),
        (DisputeStatus.OPEN, timedelta(seconds=1), True),
        (DisputeStatus.OPEN, timedelta(seconds=-1), False),
        (DisputeStatus.ANSWERED, timedelta(days=365), False),
        (DisputeStatus.RESOLVED, timedelta(days=1), False),
        (DisputeStatus.WITHDRAWN, timedelta(days=1), False),
    ],
)
def test_the_request_applies_only_to_an_unanswered_dispute_from_its_deadline(
    funded, buyer, status, offset, applies
):
    dispute = services.dispute_open(escrow=funded, milestone=milestones(funded)[0], by=buyer, reason="Late")
    Dispute.objects.filter(pk=dispute.pk).update(status=status)
    dispute = refresh(dispute)
    assert dispute.request_applies_at_deadline(dispute.deadline + offset) is applies
    # The timer's query is the same rule.
    assert (dispute in services.disputes_due(dispute.deadline + offset)) is applies


@pytest.mark.parametrize(
    "outcome, seller_amount, buyer_amount, expected",
    [
        ("refund", None, None, ("refund", 50_000, 0, 50_000)),
        ("release", None, None, ("release", 50_000, 50_000, 0)),
        ("split", None, None, ("split", 50_000, 25_000, 25_000)),
        ("split", 10_000, 40_000, ("split", 50_000, 10_000, 40_000)),
        (None, None, None, ("split", 50_000, 25_000, 25_000)),
    ],
)
def test_the_request_shown_before_opening_is_the_one_recorded(
    funded, buyer, outcome, seller_amount, buyer_amount, expected
):
    second = milestones(funded)[1]
    before = ledger_fingerprint()
    shown = services.dispute_request_amounts(
        escrow=funded,
        milestone=second,
        outcome=outcome,
        seller_amount=seller_amount,
        buyer_amount=buyer_amount,
    )
    assert shown == expected
    assert not Dispute.objects.exists() and ledger_fingerprint() == before, "the dry run writes nothing"
    dispute = services.dispute_open(
        escrow=funded,
        milestone=second,
        by=buyer,
        reason="Late",
        default_outcome=outcome,
        default_seller_amount=seller_amount,
        default_buyer_amount=buyer_amount,
    )
    assert (
        dispute.default_outcome,
        dispute.amount,
        dispute.default_seller_amount,
        dispute.default_buyer_amount,
    ) == (expected)


def test_a_wrong_split_is_refused_in_money_before_and_at_opening(funded, buyer):
    second = milestones(funded)[1]
    kwargs = {"outcome": "split", "seller_amount": 30_000, "buyer_amount": 30_000}
    with pytest.raises(InvalidRequest) as shown:
        services.dispute_request_amounts(escrow=funded, milestone=second, **kwargs)
    assert shown.value.message == (
        "The split must add up to the disputed amount, 500.00 USD: 300.00 USD + 300.00 USD is 600.00 USD"
    )
    assert (shown.value.code, shown.value.field) == ("split_mismatch", "sellerAmount")
    with pytest.raises(InvalidRequest) as opened:
        services.dispute_open(
            escrow=funded,
            milestone=second,
            by=buyer,
            reason="Late",
            default_outcome="split",
            default_seller_amount=30_000,
            default_buyer_amount=30_000,
        )
    assert opened.value.message == shown.value.message
    with pytest.raises(InvalidRequest) as half:
        services.dispute_request_amounts(
            escrow=funded, milestone=second, outcome="split", seller_amount=30_000, buyer_amount=None
        )
    # The API keeps its words; a person reads the amount in the currency.
    assert half.value.message == "A split needs buyerAmount in minor units"
    assert "minor units" not in half.value.for_person and "buyerAmount" not in half.value.for_person
    assert not Dispute.objects.exists()
