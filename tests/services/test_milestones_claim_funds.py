"""The seller's claim of a standard escrow's money once its delivery window has passed:
maxDelivery x deliveryTimeline from payment, only the seller, only a paid, open standard escrow;
the whole amount to the seller through the release the buyer's confirmation makes."""

from datetime import timedelta

import pytest

from core.errors import Forbidden, InvalidState, NotFound
from escrows import services
from escrows.ledger import customer_account, hold_account
from escrows.models import Escrow, EscrowStatus, Event, LedgerTransaction, Settlement, TransactionKind
from escrows.services import EscrowTerms
from tests.helpers import assert_ledger_invariants, at, fund, ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


def standard(seller, *, max_delivery=2, timeline="hours", **terms):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=50_000,
            settlement_type="STANDARD",
            release_type="DELIVERY_PROOF",
            max_delivery=max_delivery,
            delivery_timeline=timeline,
            **terms,
        ),
        milestones=[],
    )


@pytest.mark.parametrize(
    "max_delivery, timeline, window",
    [
        (2, "hours", timedelta(hours=2)),
        (30, "minutes", timedelta(minutes=30)),
        (3, "days", timedelta(days=3)),
    ],
)
def test_claimable_exactly_when_the_window_has_passed(seller, buyer, max_delivery, timeline, window):
    escrow = standard(seller, max_delivery=max_delivery, timeline=timeline)
    fund(escrow, buyer)
    escrow = refresh(escrow)
    assert escrow.delivery_window == window
    assert escrow.delivery_window_ends_at == escrow.funded_at + window
    before = ledger_fingerprint()
    too_early = escrow.funded_at + window - timedelta(microseconds=1)
    with at(too_early), pytest.raises(InvalidState, match="^Escrow cannot be claimed yet$") as refused:
        services.escrow_claim_funds(escrow=escrow, by=seller)
    assert refused.value.code == "not_claimable"
    assert ledger_fingerprint() == before
    with at(escrow.funded_at + window):
        claimed = services.escrow_claim_funds(escrow=escrow, by=seller)
    assert claimed.status == EscrowStatus.COMPLETED
    after = refresh(escrow)
    assert after.status == EscrowStatus.COMPLETED and after.claimed_at == escrow.funded_at + window
    assert after.closed_at is not None
    assert customer_account(seller, "USD").balance == 50_000
    assert hold_account(escrow).balance == 0
    release = LedgerTransaction.objects.get(escrow=escrow, kind=TransactionKind.RELEASE)
    assert sorted(e.amount for e in release.entries.all()) == [-50_000, 50_000]
    closed = Event.objects.get(escrow=escrow, kind="escrow.completed")
    assert closed.details == {"claimed": True, "reason": "delivery window passed"} and closed.actor == seller
    assert_ledger_invariants()


def test_only_the_seller_claims_and_only_once(seller, buyer, stranger):
    escrow = standard(seller)
    fund(escrow, buyer)
    later = refresh(escrow).funded_at + timedelta(hours=3)
    with at(later):
        with pytest.raises(Forbidden, match="^Only the seller can claim the funds of this escrow$"):
            services.escrow_claim_funds(escrow=escrow, by=buyer)
        with pytest.raises(NotFound):
            services.escrow_claim_funds(escrow=escrow, by=stranger)
        services.escrow_claim_funds(escrow=escrow, by=seller)
        with pytest.raises(InvalidState, match="^Escrow cannot be claimed yet$"):
            services.escrow_claim_funds(escrow=escrow, by=seller)
    assert LedgerTransaction.objects.filter(escrow=escrow, kind=TransactionKind.RELEASE).count() == 1


def test_a_payout_is_scheduled_as_for_any_release(seller, buyer):
    escrow = standard(seller, settlement_method="OFF_RAMP_MOCK", settlement_destination="bank-ok")
    fund(escrow, buyer)
    with at(refresh(escrow).funded_at + timedelta(hours=2)):
        services.escrow_claim_funds(escrow=escrow, by=seller)
    assert Settlement.objects.get(escrow=escrow).amount == 50_000


def test_nothing_to_claim_unpaid_disputed_windowless_frozen_or_staged(seller, buyer):
    unpaid = standard(seller)
    with pytest.raises(InvalidState, match="^Escrow cannot be claimed yet$"):
        services.escrow_claim_funds(escrow=unpaid, by=seller)
    disputed = standard(seller)
    fund(disputed, buyer)
    services.dispute_open(escrow=disputed, by=buyer, reason="Not delivered")
    windowless = standard(seller, max_delivery=None, timeline="")
    fund(windowless, buyer)
    frozen = standard(seller)
    fund(frozen, buyer)
    Escrow.objects.filter(pk=frozen.pk).update(frozen_by_chargeback=True)
    staged = make_escrow(seller, max_delivery=1, delivery_timeline="hours")
    fund(staged, buyer)
    with at(refresh(disputed).funded_at + timedelta(days=400)):
        for escrow in (disputed, windowless):
            with pytest.raises(InvalidState, match="^Escrow cannot be claimed yet$"):
                services.escrow_claim_funds(escrow=escrow, by=seller)
        with pytest.raises(InvalidState, match="chargeback"):
            services.escrow_claim_funds(escrow=frozen, by=seller)
        with pytest.raises(InvalidState, match="^A milestone escrow is released milestone by milestone$"):
            services.escrow_claim_funds(escrow=staged, by=seller)
    assert refresh(frozen).claimed_at is None
    assert_ledger_invariants()


def test_the_buyers_confirmation_is_the_same_release_and_not_a_claim(seller, buyer):
    escrow = standard(seller)
    fund(escrow, buyer)
    services.escrow_confirm_delivery(escrow=escrow, by=buyer)
    after = refresh(escrow)
    assert after.status == EscrowStatus.COMPLETED and after.claimed_at is None
    assert Event.objects.get(escrow=escrow, kind="escrow.completed").details == {}
    assert customer_account(seller, "USD").balance == 50_000
