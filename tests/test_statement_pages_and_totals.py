"""The balance statement read a row or a page at a time: a row by its place (from the first,
never from the end, none past the last), a page in one query plus one per account whatever its
rows show; the statement keeps the period and order it was asked for. Its totals add every open
escrow of the customer in each currency, and nothing of a closed one or of someone else's."""

from datetime import UTC, date, datetime

import pytest

from escrows import services
from escrows.selectors import StatementTotals as Totals
from escrows.selectors import balance_statement, statement_totals
from tests.factories import UserFactory
from tests.helpers import at, fund, make_escrow, make_standard, milestones

pytestmark = pytest.mark.django_db


def moment(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


@pytest.fixture
def history(seller, buyer):
    """The buyer tops up on 1 March and pays a 1,000.00 USD escrow on the 2nd; stage 1 (300.00)
    is released on the 3rd; the seller withdraws 100.00 on the 4th; stage 3 (200.00) is refunded
    to the buyer on the 5th."""
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


def test_a_row_is_read_by_its_place_from_the_first(history, buyer):
    for newest_first in (True, False):
        rows = balance_statement(buyer, newest_first=newest_first).rows
        whole = rows[0:3]
        assert [rows[0], rows[1], rows[2]] == whole
        assert [(r.kind, r.balance) for r in whole][:: 1 if newest_first else -1] == [
            ("REFUND", 25_000),
            ("FUNDING", 5_000),
            ("TOPUP", history.total_charge + 5_000),
        ]


@pytest.mark.parametrize("index", [3, 4, -1, -3])
def test_no_row_past_the_last_nor_counted_from_the_end(history, buyer, index):
    rows = balance_statement(buyer).rows
    with pytest.raises(IndexError) as missing:
        rows[index]
    assert missing.value.args == (index,)


def test_a_page_costs_one_query_and_one_per_account_whatever_its_rows_show(
    history, seller, django_assert_num_queries
):
    rows = balance_statement(seller).rows
    # A payout (its settlement) and a release of a stage (its escrow and milestone).
    with django_assert_num_queries(2):
        page = rows[0:2]
    assert [(r.kind_words, r.amount, r.payout_words, r.escrow) for r in page] == [
        ("Payout", -10_000, "Scheduled", None),
        ("Release", 30_000, "", history),
    ]
    assert page[1].description == "Released to you: “Stage 0” of “Website build”"
    with django_assert_num_queries(2):
        row = rows[1]
    assert row == page[1]


def test_the_statement_keeps_the_period_and_order_it_was_asked_for(history, buyer):
    statement = balance_statement(
        buyer, date_from=date(2026, 3, 2), date_to=date(2026, 3, 4), newest_first=False
    )
    assert (statement.date_from, statement.date_to, statement.newest_first) == (
        date(2026, 3, 2),
        date(2026, 3, 4),
        False,
    )
    assert [r.kind for r in statement.rows] == ["FUNDING"]
    newest = balance_statement(buyer)
    assert (newest.date_from, newest.date_to, newest.newest_first) == (None, None, True)


def test_held_for_the_seller_adds_every_open_escrow_of_theirs_and_nothing_else(seller, buyer):
    milestone_escrow = make_escrow(seller)
    fund(milestone_escrow, buyer)
    services.milestone_release(milestone=milestones(milestone_escrow)[0], by=buyer)
    standard = make_standard(seller, amount=40_000)
    fund(standard, buyer)
    # Not held for the seller: an unpaid escrow, a refunded one, another seller's.
    make_standard(seller, amount=1_000)
    refunded = make_standard(seller, amount=2_000)
    fund(refunded, buyer)
    services.escrow_refund(escrow=refunded, by=seller)
    fund(make_standard(UserFactory(email="other@example.test"), amount=4_000), buyer)
    [sellers] = statement_totals(seller)
    assert sellers == Totals(
        currency="USD",
        available=30_000,
        held_for_you=70_000 + 40_000,
        held_for_purchases=0,
        being_paid_out=0,
    )


def test_an_empty_balance_is_zero_and_a_closed_purchase_by_card_leaves_no_line(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    by_card = make_escrow(seller, currency="EUR")
    services.escrow_fund(escrow=by_card, by=buyer, source="CARD", card_token="tok_visa")
    services.escrow_refund(escrow=by_card, by=seller)
    assert statement_totals(buyer) == [
        Totals(
            currency="USD",
            available=0,
            held_for_you=0,
            held_for_purchases=100_000,
            being_paid_out=0,
        )
    ]
