"""A buyer's refund request, asked and accepted, leaves its whole record: who asked, for which
stages and how much, and why; accepted on a standard escrow, one posting of its amount back to
the buyer named by the request, the escrow closed now, and its close in the seller's name. Each
refusal says exactly what is wrong and which field."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import (
    ActorKind,
    CancellationStatus,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    RefundRequest,
    RefundRequestStatus,
    TransactionKind,
)
from escrows.selectors import wallet_balance
from escrows.services.refunds import REASON_MAX
from tests.helpers import _dispute, fund, ledger_fingerprint, make_escrow, make_standard, milestones, refresh

pytestmark = pytest.mark.django_db


def _record(event):
    return (
        event.kind,
        event.actor_id,
        event.actor_kind,
        event.escrow_id,
        event.milestone_id,
        event.from_status,
        event.to_status,
        event.details,
    )


def _mark():
    last = Event.objects.order_by("-pk").first()
    return last.pk if last else 0


def _since(mark):
    return [_record(e) for e in Event.objects.filter(pk__gt=mark).order_by("pk")]


@pytest.fixture
def standard(seller, buyer):
    escrow = make_standard(seller, 40_000)
    fund(escrow, buyer)
    return escrow


# -- asking ----------------------------------------------------------------------------------------


def test_the_request_records_who_asked_for_which_stages_and_why(funded, buyer):
    first, second, third = milestones(funded)
    mark = _mark()
    request = services.refund_request_create(
        escrow=funded, by=buyer, reason="  Plans changed  ", milestones=[third.public_id, first, third]
    )
    stored = refresh(request)
    assert (stored.escrow_id, stored.requested_by_id, stored.amount, stored.reason) == (
        funded.pk,
        buyer.pk,
        50_000,
        "Plans changed",
    )
    assert stored.milestone_ids == [first.public_id, third.public_id]
    assert stored.status == RefundRequestStatus.REQUESTED
    assert _since(mark) == [
        (
            "refund.requested",
            buyer.pk,
            ActorKind.USER,
            funded.pk,
            None,
            "",
            "",
            {
                "refundRequest": request.public_id,
                "amount": 50_000,
                "milestones": [first.public_id, third.public_id],
                "reason": "Plans changed",
            },
        )
    ]


def test_by_default_the_request_asks_for_every_stage_that_can_be_refunded(funded, buyer):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    _dispute(third)
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Stop")
    assert (request.milestone_ids, request.amount) == ([second.public_id], 50_000)


def test_a_standard_escrow_request_asks_for_its_whole_amount(standard, buyer):
    mark = _mark()
    request = services.refund_request_create(escrow=standard, by=buyer, reason="Never arrived")
    assert (request.milestone_ids, request.amount) == ([], 40_000)
    assert _since(mark)[0][-1] == {
        "refundRequest": request.public_id,
        "amount": 40_000,
        "milestones": [],
        "reason": "Never arrived",
    }


def test_a_long_reason_is_kept_up_to_its_limit(funded, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="w" * (REASON_MAX + 5))
    assert refresh(request).reason == "w" * REASON_MAX
    assert Event.objects.get(kind="refund.requested").details["reason"] == "w" * REASON_MAX


def test_asking_is_refused_with_what_is_wrong(funded, seller, buyer, standard):
    first = milestones(funded)[0]
    with pytest.raises(Forbidden, match="^Only the buyer can request a refund$"):
        services.refund_request_create(escrow=funded, by=seller, reason="x")
    for reason in ("", "   ", None):
        with pytest.raises(InvalidRequest, match="^Say why you are asking for a refund$") as refused:
            services.refund_request_create(escrow=funded, by=buyer, reason=reason)
        assert refused.value.field == "reason"
    with pytest.raises(InvalidRequest, match="^A standard escrow has no milestones$") as refused:
        services.refund_request_create(escrow=standard, by=buyer, reason="x", milestones=["ms_x"])
    assert refused.value.field == "milestoneIds"
    with pytest.raises(InvalidRequest, match="^No milestone ms_nope in this escrow$") as refused:
        services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=["ms_nope"])
    assert (refused.value.code, refused.value.field) == ("milestone_unknown", "milestoneIds")
    services.milestone_release(milestone=first, by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="^Milestone 0 is already released$") as refused:
        services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[first])
    assert refused.value.code == "milestone_settled"
    assert not RefundRequest.objects.exists()
    assert ledger_fingerprint() == before


def test_a_disputed_stage_is_refused_by_name(funded, buyer):
    second = milestones(funded)[1]
    _dispute(second)
    with pytest.raises(
        InvalidState, match="^Milestone 1 is disputed; it is frozen until the dispute is resolved$"
    ) as refused:
        services.refund_request_create(escrow=funded, by=buyer, reason="x", milestones=[second])
    assert refused.value.code == "milestone_disputed"


def test_nothing_left_to_refund_is_said(funded, seller, buyer):
    first, second, third = milestones(funded)
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    _dispute(third)
    with pytest.raises(InvalidState, match="^Nothing is left that could be refunded$") as refused:
        services.refund_request_create(escrow=funded, by=buyer, reason="x")
    assert refused.value.code == "nothing_to_refund"


def test_an_unfunded_escrow_cannot_be_asked(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with pytest.raises(InvalidState, match="^This escrow is not funded yet$"):
        services.refund_request_create(escrow=escrow, by=buyer, reason="x")


def test_a_second_open_request_is_refused_while_the_first_can_still_be_carried_out(funded, buyer):
    services.refund_request_create(escrow=funded, by=buyer, reason="first")
    with pytest.raises(
        Conflict, match="^There is already an open refund request on this escrow; withdraw it first$"
    ) as refused:
        services.refund_request_create(escrow=funded, by=buyer, reason="second")
    assert refused.value.code == "refund_request_open"


def test_a_new_request_supersedes_a_stale_one_in_the_buyers_name(funded, buyer):
    first, second, _ = milestones(funded)
    stale = services.refund_request_create(escrow=funded, by=buyer, reason="first", milestones=[first])
    services.milestone_release(milestone=first, by=buyer)
    mark = _mark()
    fresh = services.refund_request_create(escrow=funded, by=buyer, reason="second", milestones=[second])
    superseded = refresh(stale)
    assert superseded.status == RefundRequestStatus.SUPERSEDED
    assert abs(superseded.decided_at - timezone.now()) < timedelta(seconds=5)
    assert _since(mark)[0] == (
        "refund.superseded",
        buyer.pk,
        ActorKind.USER,
        funded.pk,
        None,
        "",
        "",
        {"refundRequest": stale.public_id, "reason": "milestone 0 has since been released"},
    )
    assert refresh(fresh).status == RefundRequestStatus.REQUESTED


# -- accepting ---------------------------------------------------------------------------------------


def test_accepting_a_standard_escrow_request_refunds_and_closes_it(standard, seller, buyer):
    request = services.refund_request_create(escrow=standard, by=buyer, reason="Never arrived")
    proposal = services.cancellation_propose(escrow=standard, by=buyer, buyer_amount=40_000, seller_amount=0)
    mark = _mark()
    services.refund_request_accept(refund_request=request, by=seller)
    closed = refresh(standard)
    assert closed.status == EscrowStatus.REFUNDED
    assert abs(closed.closed_at - timezone.now()) < timedelta(seconds=5)
    posting = LedgerTransaction.objects.get(kind=TransactionKind.REFUND)
    assert (posting.escrow_id, posting.milestone_id, posting.currency, posting.memo) == (
        standard.pk,
        None,
        "USD",
        f"refund request {request.public_id}",
    )
    assert sorted(LedgerEntry.objects.filter(transaction=posting).values_list("amount", flat=True)) == [
        -40_000,
        40_000,
    ]
    assert wallet_balance(buyer, "USD") == 40_000
    assert refresh(proposal).status == CancellationStatus.SUPERSEDED
    assert _since(mark) == [
        (
            "refund.accepted",
            seller.pk,
            ActorKind.USER,
            standard.pk,
            None,
            "",
            "",
            {"refundRequest": request.public_id, "amount": 40_000},
        ),
        (
            "escrow.refunded",
            seller.pk,
            ActorKind.USER,
            standard.pk,
            None,
            EscrowStatus.OPENED,
            EscrowStatus.REFUNDED,
            {"amount": 40_000},
        ),
        (
            "cancellation.superseded",
            seller.pk,
            ActorKind.USER,
            standard.pk,
            None,
            "",
            "",
            {"proposal": proposal.public_id, "held": 0},
        ),
    ]


def test_a_request_on_an_escrow_since_disputed_cannot_be_accepted(standard, seller, buyer):
    request = services.refund_request_create(escrow=standard, by=buyer, reason="Never arrived")
    services.dispute_open(escrow=standard, by=buyer, reason="Broken")
    assert refresh(standard).status == EscrowStatus.DISPUTED
    before = ledger_fingerprint()
    with pytest.raises(
        InvalidState,
        match=(
            r"^This refund request can no longer be carried out as asked: the escrow is now disputed\. "
            r"The buyer can withdraw it and ask again\.$"
        ),
    ):
        services.refund_request_accept(refund_request=request, by=seller)
    assert ledger_fingerprint() == before


def test_a_request_naming_a_stage_the_escrow_lacks_is_refused_whole(funded, seller, buyer):
    first = milestones(funded)[0]
    request = RefundRequest.objects.create(
        escrow=funded,
        requested_by=buyer,
        milestone_ids=[first.public_id, "ms_gone"],
        amount=30_000,
        reason="x",
    )
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="^No milestone ms_gone in this escrow$") as refused:
        services.refund_request_accept(refund_request=request, by=seller)
    assert (refused.value.code, refused.value.field) == ("milestone_unknown", "milestoneIds")
    assert ledger_fingerprint() == before
    assert refresh(request).status == RefundRequestStatus.REQUESTED


def test_a_request_is_only_found_on_its_own_escrow(funded, seller, buyer):
    other = make_escrow(seller, buyer=buyer)
    fund(other, buyer)
    theirs = services.refund_request_create(escrow=other, by=buyer, reason="x")
    # The request's id, presented as if it were on this escrow.
    posing = RefundRequest(pk=theirs.pk, escrow=funded)
    before = ledger_fingerprint()
    for act in (
        lambda: services.refund_request_accept(refund_request=posing, by=seller),
        lambda: services.refund_request_decline(refund_request=posing, by=seller, reason="no"),
        lambda: services.refund_request_withdraw(refund_request=posing, by=buyer),
        lambda: services.refund_request_accept(refund_request=RefundRequest(pk=0, escrow=funded), by=seller),
    ):
        with pytest.raises(NotFound, match="^Refund request not found$"):
            act()
    assert ledger_fingerprint() == before
    assert refresh(theirs).status == RefundRequestStatus.REQUESTED


def test_declining_needs_a_reason(funded, seller, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x")
    for reason in (None, "", "  "):
        with pytest.raises(InvalidRequest, match="^Tell the buyer why you decline$") as refused:
            services.refund_request_decline(refund_request=request, by=seller, reason=reason)
        assert refused.value.field == "reason"
    assert refresh(request).status == RefundRequestStatus.REQUESTED
