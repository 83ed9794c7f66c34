"""A standard escrow (no milestones) is released whole when its buyer confirms delivery: the
amount goes from the hold to the seller, the escrow closes, and a payout to the seller's
destination is scheduled when the escrow names one. Only the buyer of a funded standard escrow
may confirm."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.ledger import cached_balance, hold_account
from escrows.models import EscrowStatus, Event, Settlement, SettlementStatus
from escrows.selectors import balances_for_user
from escrows.services import EscrowTerms
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


def _standard(seller, buyer, **terms):
    return services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Logo", currency="USD", amount=40_000, settlement_type="STANDARD", **terms),
        milestones=[],
    )


def test_the_buyer_confirms_and_the_seller_is_paid_the_whole_amount(seller, buyer):
    escrow = _standard(seller, buyer)
    fund(escrow, buyer)
    done = services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert done.status == EscrowStatus.COMPLETED
    closed = refresh(escrow)
    assert closed.status == EscrowStatus.COMPLETED
    assert abs(closed.closed_at - timezone.now()) < timedelta(seconds=5)
    assert balances_for_user(seller)["USD"]["available"] == 40_000
    assert cached_balance(hold_account(closed)) == 0
    event = Event.objects.get(kind="escrow.completed")
    assert (event.escrow_id, event.actor) == (escrow.pk, buyer)
    assert (event.from_status, event.to_status) == (EscrowStatus.OPENED, EscrowStatus.COMPLETED)
    assert not Settlement.objects.exists()
    assert_ledger_invariants()


def test_a_named_destination_gets_a_payout_of_the_amount(seller, buyer, django_capture_on_commit_callbacks):
    escrow = _standard(seller, buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="iban-9")
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    settlement = Settlement.objects.get()
    assert (settlement.customer, settlement.amount, settlement.currency) == (seller, 40_000, "USD")
    assert (settlement.method, settlement.destination) == ("OFF_RAMP_MOCK", "iban-9")
    assert (settlement.escrow_id, settlement.milestone_id) == (escrow.pk, None)
    assert settlement.status == SettlementStatus.SCHEDULED
    assert balances_for_user(seller)["USD"] == {"available": 0, "in_flight": 40_000}
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.escrow_id) == (buyer, seller, escrow.pk)
    assert scheduled.details == {"amount": 40_000, "currency": "USD", "destination": "iban-9"}
    assert_ledger_invariants()


def test_only_the_buyer_of_a_funded_standard_escrow_confirms(seller, buyer, stranger):
    escrow = _standard(seller, buyer)
    with pytest.raises(InvalidState, match="^This escrow is not funded yet$") as refused:
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert refused.value.code == "not_funded"
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden, match="^Only the buyer can confirm delivery$"):
        services.escrow_confirm_delivery(escrow=escrow, by=seller)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        services.escrow_confirm_delivery(escrow=escrow, by=stranger)
    assert ledger_fingerprint() == before


def test_a_milestone_escrow_is_not_confirmed_whole(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest, match="^A milestone escrow is released milestone by milestone$"):
        services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    assert ledger_fingerprint() == before
