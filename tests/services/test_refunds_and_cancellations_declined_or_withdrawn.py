"""A refund request or a cancellation proposal that is declined or withdrawn moves no money: it
records who decided, when and (for a decline) why, and the event names the request. Only the
right party may close it, and only while it is open."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import CancellationStatus, Event, RefundRequestStatus
from tests.helpers import fund, ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    return escrow


def _decided_now(item, by):
    item = refresh(item)
    assert item.decided_by == by
    assert abs(item.decided_at - timezone.now()) < timedelta(seconds=5)
    return item


def test_the_seller_declines_a_refund_request_saying_why(funded, seller, buyer, stranger):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Never started")
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the seller can decline a refund request$"):
        services.refund_request_decline(refund_request=request, by=buyer, reason="no")
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.refund_request_decline(refund_request=request, by=stranger, reason="no")
    with pytest.raises(InvalidRequest, match="^Tell the buyer why you decline$") as refused:
        services.refund_request_decline(refund_request=request, by=seller, reason="   ")
    assert refused.value.field == "reason"
    services.refund_request_decline(refund_request=request, by=seller, reason="  Work is under way  ")
    assert ledger_fingerprint() == before
    declined = _decided_now(request, seller)
    assert (declined.status, declined.decline_reason) == (RefundRequestStatus.DECLINED, "Work is under way")
    event = Event.objects.get(kind="refund.declined")
    assert (event.actor, event.escrow_id) == (seller, funded.pk)
    assert event.details == {"refundRequest": request.public_id, "reason": "Work is under way"}
    with pytest.raises(InvalidState, match="^This refund request was already declined$") as closed:
        services.refund_request_decline(refund_request=request, by=seller, reason="again")
    assert closed.value.code == "refund_request_closed"


def test_the_buyer_withdraws_their_refund_request(funded, seller, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="Never started")
    with pytest.raises(Forbidden, match="^Only the buyer who asked can withdraw a refund request$"):
        services.refund_request_withdraw(refund_request=request, by=seller)
    services.refund_request_withdraw(refund_request=request, by=buyer)
    withdrawn = _decided_now(request, buyer)
    assert (withdrawn.status, withdrawn.decline_reason) == (RefundRequestStatus.WITHDRAWN, "")
    event = Event.objects.get(kind="refund.withdrawn")
    assert (event.actor, event.escrow_id) == (buyer, funded.pk)
    assert event.details == {"refundRequest": request.public_id}


def test_the_other_party_declines_a_cancellation_proposal(funded, seller, buyer):
    proposal = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=60_000, seller_amount=40_000
    )
    before = ledger_fingerprint()
    with pytest.raises(
        Forbidden, match="^Only the other party can decline this proposal; you can withdraw it$"
    ):
        services.cancellation_decline(proposal=proposal, by=buyer)
    services.cancellation_decline(proposal=proposal, by=seller, reason=" Too little for me ")
    assert ledger_fingerprint() == before
    declined = _decided_now(proposal, seller)
    assert (declined.status, declined.decline_reason) == (CancellationStatus.DECLINED, "Too little for me")
    event = Event.objects.get(kind="cancellation.declined")
    assert (event.actor, event.escrow_id) == (seller, funded.pk)
    assert event.details == {"proposal": proposal.public_id, "reason": "Too little for me"}


def test_a_proposal_may_be_declined_without_a_reason(funded, seller, buyer):
    proposal = services.cancellation_propose(
        escrow=funded, by=buyer, buyer_amount=60_000, seller_amount=40_000
    )
    services.cancellation_decline(proposal=proposal, by=seller)
    assert refresh(proposal).decline_reason == ""
    assert Event.objects.get(kind="cancellation.declined").details == {
        "proposal": proposal.public_id,
        "reason": "",
    }


def test_the_proposer_withdraws_a_cancellation_proposal(funded, seller, buyer):
    proposal = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    with pytest.raises(Forbidden, match="^Only the party who proposed the cancellation can withdraw it$"):
        services.cancellation_withdraw(proposal=proposal, by=buyer)
    services.cancellation_withdraw(proposal=proposal, by=seller)
    withdrawn = _decided_now(proposal, seller)
    assert withdrawn.status == CancellationStatus.WITHDRAWN
    event = Event.objects.get(kind="cancellation.withdrawn")
    assert (event.actor, event.escrow_id) == (seller, funded.pk)
    assert event.details == {"proposal": proposal.public_id}
    with pytest.raises(InvalidState, match="^This cancellation proposal was already withdrawn$") as closed:
        services.cancellation_withdraw(proposal=proposal, by=seller)
    assert closed.value.code == "cancellation_closed"
