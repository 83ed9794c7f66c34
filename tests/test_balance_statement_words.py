"""Each kind of row of the balance statement in words, for the buyer and the seller: whose part
of a dispute's ruling or of an agreed cancellation was released or refunded to the reader, a
stage without a title named by its number, a refund of several stages named by the escrow, and
what of a row is about a payout (only a payout's own row has a payout status)."""

from datetime import UTC, datetime

import pytest

from escrows import services
from escrows.models import LedgerTransaction, Settlement
from escrows.money import format_money
from escrows.selectors import balance_statement
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import at, fund, milestones

pytestmark = pytest.mark.django_db


def day(n: int) -> datetime:
    return datetime(2026, 3, n, 12, tzinfo=UTC)


def logo(seller, buyer):
    """600.00 USD in three stages, the first titled, the others not, paid from the buyer's balance."""
    with at(day(1)):
        escrow = services.escrow_create(
            seller=seller,
            buyer=buyer,
            terms=EscrowTerms(title="Logo", currency="USD", amount=60_000),
            milestones=[
                MilestoneInput(amount=20_000, title="Sketches"),
                MilestoneInput(amount=30_000),
                MilestoneInput(amount=10_000),
            ],
        )
        fund(escrow, buyer)
    return escrow


def rows(user):
    return [
        (r.kind_words, r.description, r.amount, r.fee, r.balance, r.payout_status, r.payout_words, r.receipt)
        for r in balance_statement(user, newest_first=False).rows
    ]


def posting(escrow, kind):
    return LedgerTransaction.objects.get(escrow=escrow, kind=kind).pk


def test_a_rulings_split_is_refunded_to_the_buyer_and_released_to_the_seller(seller, buyer, admin_user):
    escrow = logo(seller, buyer)
    dispute = services.dispute_open(escrow=escrow, by=buyer, reason="Late", milestone=milestones(escrow)[1])
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=18_000, buyer_amount=12_000
    )
    split, funding = posting(escrow, "SPLIT"), posting(escrow, "FUNDING")
    charge = escrow.total_charge
    assert rows(buyer) == [
        ("Top-up", "Test funds added to your balance", charge, 0, charge, "", "", None),
        (
            "Payment",
            f"You paid “Logo” from your balance: 600.00 USD + {format_money(escrow.fee, 'USD')} fee",
            -charge,
            escrow.fee,
            0,
            "",
            "",
            funding,
        ),
        (
            "Dispute split",
            "Your part of the dispute ruling on “Stage 2” of “Logo”, refunded to you",
            12_000,
            0,
            12_000,
            "",
            "",
            split,
        ),
    ]
    assert rows(seller) == [
        (
            "Dispute split",
            "Your part of the dispute ruling on “Stage 2” of “Logo”, released to you",
            18_000,
            0,
            18_000,
            "",
            "",
            split,
        )
    ]


def test_an_agreed_cancellations_parts_are_refunded_to_the_buyer_and_released_to_the_seller(seller, buyer):
    escrow = logo(seller, buyer)
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=45_000, seller_amount=15_000
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    cancellation = posting(escrow, "CANCELLATION")
    assert rows(buyer)[2:] == [
        (
            "Cancellation",
            "Your part of the agreed cancellation of “Logo”, refunded to you",
            45_000,
            0,
            45_000,
            "",
            "",
            cancellation,
        )
    ]
    assert rows(seller) == [
        (
            "Cancellation",
            "Your part of the agreed cancellation of “Logo”, released to you",
            15_000,
            0,
            15_000,
            "",
            "",
            cancellation,
        )
    ]


def test_a_refund_names_its_one_stage_or_else_the_escrow(seller, buyer):
    escrow = logo(seller, buyer)
    first, second, third = milestones(escrow)
    services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[third])
    services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[first, second])
    assert [r[:5] for r in rows(buyer)[2:]] == [
        ("Refund", "Refunded to you from “Stage 3” of “Logo”", 10_000, 0, 10_000),
        ("Refund", "Refunded to you from “Logo”", 50_000, 0, 60_000),
    ]


def test_a_release_has_no_fee_and_only_a_payouts_row_has_a_payout_status(seller, buyer):
    escrow = logo(seller, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = services.wallet_withdraw(customer=seller, amount=5_000, currency="USD", destination="bank-9")
    Settlement.objects.filter(pk=settlement.pk).update(attempts=99)
    services.settlement_give_up_stuck(settlement=settlement)
    assert rows(seller) == [
        (
            "Release",
            "Released to you: “Sketches” of “Logo”",
            20_000,
            0,
            20_000,
            "",
            "",
            posting(escrow, "RELEASE"),
        ),
        ("Payout", "Payout to bank-9", -5_000, 0, 15_000, "FAILED", "Failed", None),
        (
            "Payout returned",
            "Payout to bank-9 failed: the money is back in your balance",
            5_000,
            0,
            20_000,
            "",
            "",
            None,
        ),
    ]
