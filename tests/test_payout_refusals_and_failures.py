"""A payout: asked for with a destination of at most 200 characters, and when the off-ramp
refuses it for good the reserved money goes back to the customer's balance, with the posting
and the event naming the payout, its escrow and the off-ramp's reason."""

import pytest

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Event, LedgerTransaction, Settlement, SettlementStatus, TransactionKind
from escrows.selectors import balances_for_user
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("destination", ["", "   ", None, "x" * 201])
def test_a_withdrawal_needs_a_destination_of_at_most_200_characters(seller, destination):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    before = ledger_fingerprint()
    with pytest.raises(
        InvalidRequest, match=r"^destination is required \(at most 200 characters\)$"
    ) as refused:
        services.wallet_withdraw(customer=seller, amount=1_000, currency="USD", destination=destination)
    assert refused.value.field == "destination"
    assert ledger_fingerprint() == before


def test_a_destination_of_exactly_200_characters_is_taken_trimmed(seller, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=False):
        settlement = services.wallet_withdraw(
            customer=seller, amount=1_000, currency="USD", destination=f"  {'d' * 200}  "
        )
    assert settlement.destination == "d" * 200
    scheduled = Event.objects.get(kind="settlement.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.escrow_id) == (seller, seller, None)


def test_a_refused_payout_gives_the_money_back_and_says_why(
    seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(
        seller, buyer=buyer, settlement_method="OFF_RAMP_MOCK", settlement_destination="reject-me"
    )
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = refresh(Settlement.objects.get())
    assert settlement.status == SettlementStatus.FAILED
    assert settlement.next_attempt_at is None
    assert settlement.last_error == "Destination rejected by the off-ramp"
    assert balances_for_user(seller)["USD"] == {"available": 30_000, "in_flight": 0}
    returned = LedgerTransaction.objects.get(kind=TransactionKind.PAYOUT_RETURN)
    assert (returned.escrow_id, returned.settlement_id, returned.currency) == (
        escrow.pk,
        settlement.pk,
        "USD",
    )
    event = Event.objects.get(kind="settlement.failed")
    assert (event.actor, event.customer, event.escrow_id, event.settlement_id) == (
        None,
        seller,
        escrow.pk,
        settlement.pk,
    )
    assert (event.from_status, event.to_status) == (SettlementStatus.PROCESSING, SettlementStatus.FAILED)
    assert event.details == {"error": settlement.last_error}
    assert_ledger_invariants()
