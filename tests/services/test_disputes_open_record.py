"""Opening a dispute leaves an exact record: the frozen milestone's (or escrow's) status move and
the dispute's own event, each with who opened it, what is disputed, until when and what happens
then; every refusal says exactly what is wrong and changes nothing."""

from datetime import UTC, datetime

import pytest

from core.errors import InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import Dispute, DisputeStatus, EscrowStatus, Event, MilestoneStatus
from escrows.services import EvidenceInput
from tests.helpers import at, fund, ledger_fingerprint, make_escrow, make_standard, milestones, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_milestone_dispute_records_the_freeze_and_the_dispute(funded, buyer, settings):
    reason = "".join(f"{i % 10}" for i in range(2500))
    second = milestones(funded)[1]
    with at(NOW):
        dispute = services.dispute_open(
            escrow=funded,
            milestone=second,
            by=buyer,
            reason=f"  {reason}  ",
            evidence=EvidenceInput(text="  "),
        )
    dispute = refresh(dispute)
    deadline = NOW + settings.ESCROW_DISPUTE_RESOLUTION_PERIOD
    assert (dispute.reason, dispute.opened_by, dispute.opener_role, dispute.milestone_id) == (
        reason,
        buyer,
        "buyer",
        second.pk,
    )
    assert (dispute.amount, dispute.deadline, dispute.status) == (50_000, deadline, DisputeStatus.OPEN)
    assert not dispute.evidence.exists()  # blank evidence is no evidence
    frozen, opened = Event.objects.filter(escrow=funded, kind__in=["milestone.disputed", "dispute.opened"])
    assert (frozen.kind, frozen.actor, frozen.actor_kind, frozen.milestone_id) == (
        "milestone.disputed",
        buyer,
        "user",
        second.pk,
    )
    assert (frozen.from_status, frozen.to_status) == (MilestoneStatus.PENDING, MilestoneStatus.DISPUTED)
    assert frozen.details == {
        "dispute": dispute.public_id,
        "index": 1,
        "amount": 50_000,
        "reason": reason[:2000],
    }
    assert (opened.kind, opened.actor, opened.milestone_id) == ("dispute.opened", buyer, second.pk)
    assert (opened.from_status, opened.to_status) == ("", DisputeStatus.OPEN)
    assert opened.details == {
        "dispute": dispute.public_id,
        "milestone": second.public_id,
        "openedBy": "buyer",
        "amount": 50_000,
        "deadline": deadline.isoformat(),
        "defaultOutcome": "split",
        "defaultSellerAmount": 25_000,
        "defaultBuyerAmount": 25_000,
    }
    assert refresh(second).status == MilestoneStatus.DISPUTED


def test_a_whole_escrow_dispute_records_the_escrows_move(seller, buyer, settings):
    reason = "".join(f"{i % 7}" for i in range(2100))
    escrow = make_standard(seller, amount=50_001)
    fund(escrow, buyer)
    with at(NOW):
        dispute = services.dispute_open(escrow=escrow, by=seller, reason=reason, default_outcome="release")
    assert refresh(escrow).status == EscrowStatus.DISPUTED
    frozen, opened = Event.objects.filter(escrow=escrow, kind__in=["escrow.disputed", "dispute.opened"])
    assert (frozen.kind, frozen.actor, frozen.milestone_id) == ("escrow.disputed", seller, None)
    assert (frozen.from_status, frozen.to_status) == (EscrowStatus.OPENED, EscrowStatus.DISPUTED)
    assert frozen.details == {"dispute": dispute.public_id, "reason": reason[:2000]}
    assert refresh(dispute).reason == reason
    assert (opened.actor, opened.milestone_id, opened.to_status) == (seller, None, DisputeStatus.OPEN)
    assert opened.details == {
        "dispute": dispute.public_id,
        "milestone": None,
        "openedBy": "seller",
        "amount": 50_001,
        "deadline": (NOW + settings.ESCROW_DISPUTE_RESOLUTION_PERIOD).isoformat(),
        "defaultOutcome": "release",
        "defaultSellerAmount": 50_001,
        "defaultBuyerAmount": 0,
    }


def test_without_a_choice_the_configured_default_outcome_applies(seller, buyer, settings):
    settings.ESCROW_DISPUTE_DEFAULT_OUTCOME = "refund"
    escrow = make_standard(seller, amount=50_001)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Broken")
    assert (dispute.default_outcome, dispute.default_seller_amount, dispute.default_buyer_amount) == (
        "refund",
        0,
        50_001,
    )
    settings.ESCROW_DISPUTE_DEFAULT_OUTCOME = "split"
    other = make_standard(seller, amount=50_001)
    fund(other, buyer)
    split = services.dispute_open(escrow=other, by=buyer, reason="Broken")
    assert (split.default_seller_amount, split.default_buyer_amount) == (25_000, 25_001)


@pytest.mark.parametrize(
    "request_, field, message",
    [
        ({"default_outcome": "resume"}, "outcome", "outcome must be one of: release, refund, split"),
        (
            {"default_outcome": "split", "default_seller_amount": 20_000},
            "buyerAmount",
            "A split needs buyerAmount in minor units",
        ),
        (
            {"default_outcome": "split", "default_buyer_amount": 20_000},
            "sellerAmount",
            "A split needs sellerAmount in minor units",
        ),
    ],
)
def test_a_request_that_is_no_outcome_or_half_a_split_is_refused(funded, buyer, request_, field, message):
    """Asking for something that is not an outcome, or for a split naming only one side's part,
    is refused in these words: a split is never halved when the opener named a part."""
    second = milestones(funded)[1]
    with pytest.raises(InvalidRequest) as refused:
        services.dispute_open(escrow=funded, milestone=second, by=buyer, reason="Late", **request_)
    assert (refused.value.message, refused.value.field) == (message, field)
    assert not Dispute.objects.exists()
    assert refresh(second).status == MilestoneStatus.PENDING


def refusal(kind, call):
    before = ledger_fingerprint()
    events = Event.objects.count()
    with pytest.raises(kind) as caught:
        call()
    assert ledger_fingerprint() == before and Event.objects.count() == events
    return caught.value


@pytest.mark.parametrize(
    "reason, message",
    [
        ("   ", "A dispute needs a reason"),
        ("", "A dispute needs a reason"),
        ("x" * 5001, "reason must be at most 5000 characters"),
        ("a\x00b", "reason must be at most 5000 characters"),
    ],
)
def test_the_reason_is_required_and_bounded(funded, buyer, reason, message):
    error = refusal(
        InvalidRequest,
        lambda: services.dispute_open(
            escrow=funded, milestone=milestones(funded)[0], by=buyer, reason=reason
        ),
    )
    assert (error.message, error.field) == (message, "reason")
    assert not Dispute.objects.exists()


def test_a_reason_of_the_limit_is_taken(funded, buyer):
    dispute = services.dispute_open(
        escrow=funded, milestone=milestones(funded)[0], by=buyer, reason="x" * 5000
    )
    assert len(dispute.reason) == 5000


def test_what_is_disputed_must_fit_the_kind_of_escrow(funded, seller, buyer):
    error = refusal(InvalidRequest, lambda: services.dispute_open(escrow=funded, by=buyer, reason="Late"))
    assert (error.message, error.field) == (
        "A milestone escrow is disputed one milestone at a time: name the milestone",
        "milestoneId",
    )
    standard = make_standard(seller)
    fund(standard, buyer)
    error = refusal(
        InvalidRequest,
        lambda: services.dispute_open(escrow=standard, milestone=milestones(funded)[0], by=buyer, reason="x"),
    )
    assert (error.message, error.field) == ("A standard escrow has no milestones to dispute", "milestoneId")
    assert not Dispute.objects.exists()


def test_a_stranger_learns_nothing(funded, stranger):
    error = refusal(
        NotFound,
        lambda: services.dispute_open(
            escrow=funded, milestone=milestones(funded)[0], by=stranger, reason="x"
        ),
    )
    assert error.message == "Escrow not found"


def test_a_disputed_or_settled_milestone_cannot_be_disputed(funded, seller, buyer):
    first, second, _ = milestones(funded)
    services.dispute_open(escrow=funded, milestone=first, by=buyer, reason="Late")
    error = refusal(
        InvalidState, lambda: services.dispute_open(escrow=funded, milestone=first, by=seller, reason="No")
    )
    assert (error.message, error.code) == ("This milestone is already disputed", "already_disputed")
    services.milestone_release(milestone=second, by=buyer)
    error = refusal(
        InvalidState, lambda: services.dispute_open(escrow=funded, milestone=second, by=buyer, reason="No")
    )
    assert (error.message, error.code) == ("This milestone is already released", "milestone_settled")


def test_an_unpaid_or_disputed_escrow_cannot_be_disputed(seller, buyer):
    unpaid = make_escrow(seller, buyer=buyer)
    error = refusal(
        InvalidState,
        lambda: services.dispute_open(escrow=unpaid, milestone=milestones(unpaid)[0], by=buyer, reason="x"),
    )
    assert (error.message, error.code) == ("This escrow is not funded yet", "not_funded")
    standard = make_standard(seller)
    error = refusal(InvalidState, lambda: services.dispute_open(escrow=standard, by=seller, reason="x"))
    assert (error.message, error.code) == ("This escrow is not funded yet", "not_funded")
    fund(standard, buyer)
    services.dispute_open(escrow=standard, by=buyer, reason="Broken")
    error = refusal(InvalidState, lambda: services.dispute_open(escrow=standard, by=seller, reason="x"))
    assert (error.message, error.code) == ("This escrow is already disputed", "already_disputed")
