"""The balance statement: every movement of a customer's available balance (top-ups, payments
from the balance with their fee, releases and refunds in, payouts and payouts returned) with the
balance after each, right on every page and in either order; the period filter; the totals
held in escrow, held for purchases and being paid out."""

from datetime import UTC, date, datetime

import pytest

from escrows import selectors, services
from escrows.models import LedgerAccount, Settlement, TransactionKind
from escrows.selectors import balance_statement, statement_totals
from tests.factories import UserFactory
from tests.helpers import at, make_escrow, milestones

pytestmark = pytest.mark.django_db


def moment(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


@pytest.fixture
def history(seller, buyer):
    """The buyer tops up on 1 March and pays a 1,000.00 USD escrow from the balance on the 2nd;
    stage 1 (300.00) is released on the 3rd, the seller withdraws 100.00 on the 4th, stage 3
    (200.00) is refunded to the buyer on the 5th."""
    with at(moment(1)):
        escrow = make_escrow(seller, buyer=buyer)
        services.wallet_topup(customer=buyer, amount=escrow.total_charge + 5_000, currency="USD")
    with at(moment(2)):
        services.escrow_fund(escrow=escrow, by=buyer)
    first, _, third = milestones(escrow)
    with at(moment(3)):
        services.milestone_release(milestone=first, by=buyer)
    with at(moment(4)):
        services.wallet_withdraw(customer=seller, amount=10_000, currency="USD", destination="bank-123")
    with at(moment(5)):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[third])
    return escrow


def test_the_buyers_rows_newest_first_with_the_balance_after_each(history, buyer):
    escrow = history
    rows = list(balance_statement(buyer).rows)
    assert [(r.kind, r.amount, r.balance) for r in rows] == [
        (TransactionKind.REFUND, 20_000, 25_000),
        (TransactionKind.FUNDING, -escrow.total_charge, 5_000),
        (TransactionKind.TOPUP, escrow.total_charge + 5_000, escrow.total_charge + 5_000),
    ]
    payment = rows[1]
    assert payment.fee == escrow.fee and payment.kind_words == "Payment"
    assert payment.description == (
        f"You paid “Website build” from your balance: 1,000.00 USD + {escrow.fee / 100:,.2f} USD fee"
    )
    assert rows[0].description == "Refunded to you from “Stage 2” of “Website build”"
    assert rows[2].description == "Test funds added to your balance"
    # The newest row's balance is what is available now.
    assert rows[0].balance == LedgerAccount.objects.get(owner=buyer, kind="CUSTOMER_MAIN").balance


def test_oldest_first_gives_the_same_balances(history, buyer):
    newest = list(balance_statement(buyer).rows)
    oldest = list(balance_statement(buyer, newest_first=False).rows)
    assert oldest == newest[::-1]


def test_the_sellers_release_in_and_payout_out(history, seller):
    rows = list(balance_statement(seller, newest_first=False).rows)
    assert [(r.kind_words, r.amount, r.balance) for r in rows] == [
        ("Release", 30_000, 30_000),
        ("Payout", -10_000, 20_000),
    ]
    release, payout = rows
    assert release.description == "Released to you: “Stage 0” of “Website build”"
    assert release.escrow == history and release.escrow_visible
    assert release.receipt is not None
    assert payout.description == "Payout to bank-123" and payout.escrow is None and payout.receipt is None
    assert (payout.payout_status, payout.payout_words) == ("SCHEDULED", "Scheduled")


def test_a_failed_payout_comes_back_as_its_own_row(history, seller):
    settlement = Settlement.objects.get(customer=seller)
    Settlement.objects.filter(pk=settlement.pk).update(attempts=99)
    services.settlement_give_up_stuck(settlement=settlement)
    newest = list(balance_statement(seller).rows)[0]
    assert (newest.kind_words, newest.amount, newest.balance) == ("Payout returned", 10_000, 30_000)
    assert newest.description == "Payout to bank-123 failed: the money is back in your balance"


def test_every_page_carries_the_running_balance_on(history, buyer):
    rows = balance_statement(buyer).rows
    assert len(rows) == 3
    whole = rows[0:3]
    assert rows[0:1] + rows[1:2] + rows[2:3] == whole
    oldest = balance_statement(buyer, newest_first=False).rows
    assert oldest[1:3] == whole[::-1][1:3]


def test_the_period_includes_both_days(history, buyer):
    rows = list(balance_statement(buyer, date_from=date(2026, 3, 2), date_to=date(2026, 3, 2)).rows)
    assert [r.kind for r in rows] == [TransactionKind.FUNDING]
    # The balance is still the balance after the movement, not counted from the period's start.
    assert rows[0].balance == 5_000
    assert [r.kind for r in balance_statement(buyer, date_from=date(2026, 3, 5)).rows] == [
        TransactionKind.REFUND
    ]
    assert [r.kind for r in balance_statement(buyer, date_to=date(2026, 3, 1)).rows] == [
        TransactionKind.TOPUP
    ]
    assert list(balance_statement(buyer, date_from=date(2026, 4, 1)).rows) == []
    # The last day a calendar has is a period's end like any other.
    assert len(balance_statement(buyer, date_to=date.max).rows) == 3


def test_totals_say_what_is_held_for_whom(history, seller, buyer):
    [sellers] = statement_totals(seller)
    assert (sellers.currency, sellers.available, sellers.being_paid_out) == ("USD", 20_000, 10_000)
    # Stage 2 (500.00) is still held for the seller; stage 3 was refunded.
    assert (sellers.held_for_you, sellers.held_for_purchases) == (50_000, 0)
    [buyers] = statement_totals(buyer)
    assert (buyers.available, buyers.held_for_you, buyers.held_for_purchases) == (25_000, 0, 50_000)
    assert buyers.being_paid_out == 0
    assert balance_statement(buyer).totals == [buyers]


def test_a_stage_paid_to_a_payee_is_held_for_the_payee_not_the_seller(seller, buyer):
    payee = UserFactory(email="payee@example.test")
    escrow = make_escrow(seller, buyer=buyer)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    services.escrow_fund(escrow=escrow, by=buyer)
    first = milestones(escrow)[0]
    type(first).objects.filter(pk=first.pk).update(payee=payee)
    [payees] = statement_totals(payee)
    assert payees.held_for_you == 30_000
    assert statement_totals(seller)[0].held_for_you == 70_000
    services.milestone_release(milestone=first, by=buyer)
    [row] = list(balance_statement(payee).rows)
    # The payee is not a party: the row names the escrow but links nowhere and has no receipt.
    assert row.amount == 30_000 and row.escrow == escrow
    assert not row.escrow_visible and row.receipt is None


def test_nobody_sees_anothers_movements(history, stranger):
    assert len(balance_statement(stranger).rows) == 0
    assert statement_totals(stranger) == []


def test_a_card_payment_is_not_a_movement_of_the_balance(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    services.escrow_fund(escrow=escrow, by=buyer, source="CARD", card_token="tok_visa")
    assert len(balance_statement(buyer).rows) == 0
    assert statement_totals(buyer)[0].held_for_purchases == escrow.amount
    assert selectors.receipts_of(escrow)[0].receipt_amount == escrow.total_charge
