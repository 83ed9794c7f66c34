"""The fee is the schedule's basis points of the amount, rounded half up to the minor unit, then
clamped to [min, max] major units. Amounts here land exactly on half a minor unit, just below
and just above it, and on each side of both clamps; the escrow, the fee quote and the new-escrow
page's quote charge what fee_for says."""

from decimal import Decimal

import pytest
from django.urls import reverse

from escrows.models import WhoPays
from escrows.money import fee_for
from escrows.services import MilestoneInput, fee_quote, fee_shares
from tests.helpers import make_escrow

SCHEDULE = {"version": "rounding-test", "basis_points": 150, "min_major": 1, "max_major": 1000}


@pytest.fixture(autouse=True)
def _schedule(settings):
    settings.ESCROW_FEE_SCHEDULE = SCHEDULE


def exact_fee(amount: int) -> Decimal:
    """The unrounded fee in minor units."""
    return Decimal(amount) * SCHEDULE["basis_points"] / 10_000


def test_the_chosen_amounts_land_where_the_cases_say():
    # 1.5% of 67.00 is 1.005: exactly half a cent, and an even cent below it, so rounding half
    # to even (banker's rounding) or truncating would give 1.00 where half up gives 1.01.
    assert exact_fee(6_700) == Decimal("100.5")
    assert exact_fee(6_699) == Decimal("100.485")
    assert exact_fee(6_701) == Decimal("100.515")
    assert exact_fee(6_666_700) == Decimal("100000.5")


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (6_700, 101),  # exactly half: up
        (6_699, 100),  # just below half: down
        (6_701, 101),  # just above half: up
        (6_900, 104),  # 103.5, an odd cent below: up as well
        (1_000_100, 15_002),  # 15001.5
    ],
)
def test_half_a_minor_unit_rounds_up(amount, fee):
    assert fee_for(amount, "USD") == (fee, "rounding-test")


def test_a_half_found_from_the_configured_basis_points_rounds_up(settings):
    # Whatever the schedule's rate, an amount whose fee ends in exactly .5 rounds up.
    for bps in (150, 250, 99, 1):
        settings.ESCROW_FEE_SCHEDULE = {**SCHEDULE, "basis_points": bps, "min_major": 0, "max_major": 10**9}
        amount = next(a for a in range(1, 10**6) if a * bps % 10_000 == 5_000 and a * bps // 10_000 % 2 == 0)
        assert fee_for(amount, "USD")[0] == amount * bps // 10_000 + 1, bps
        assert fee_for(amount - 1, "USD")[0] <= amount * bps // 10_000, bps


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (1, 100),  # 0.015 cents: the minimum, 1.00
        (6_500, 100),  # 97.5 rounds to 98, below the minimum
        (6_633, 100),  # 99.495 rounds to 99, below the minimum
        (6_667, 100),  # 100.005 rounds to 100: the minimum itself
        (6_700, 101),  # the first half above the minimum
        (6_666_633, 99_999),  # 99999.495: one cent under the maximum
        (6_666_634, 100_000),  # 99999.51 rounds to the maximum itself
        (6_666_700, 100_000),  # 100000.5 would round to 100001: clamped
        (10**12, 100_000),
    ],
)
def test_the_minimum_and_maximum_clamp_at_their_boundaries(amount, fee):
    assert fee_for(amount, "USD")[0] == fee


@pytest.mark.parametrize(
    ("amount", "fee"),
    [
        (33, 1),  # 0.495 yen rounds to 0: the minimum, 1 yen
        (100, 2),  # 1.5 yen: half up
        (6_700, 101),  # 100.5 yen
        (66_633, 999),  # 999.495 yen
        (66_700, 1_000),  # 1000.5 yen: clamped to the maximum
    ],
)
def test_a_currency_without_minor_units_rounds_to_whole_units(amount, fee):
    assert fee_for(amount, "JPY")[0] == fee


@pytest.mark.django_db
def test_the_escrow_and_the_quote_charge_the_rounded_fee(seller):
    escrow = make_escrow(seller, parts=(3_350, 3_350))
    assert (escrow.fee, escrow.total_charge, escrow.fee_schedule_version) == (101, 6_801, "rounding-test")
    quote = fee_quote(
        currency="USD", amount=6_700, milestones=[MilestoneInput(amount=3_350), MilestoneInput(amount=3_350)]
    )
    assert (quote.fee, quote.buyer_fee, quote.buyer_total) == (101, 101, 6_801)


@pytest.mark.django_db
def test_the_new_escrow_page_quotes_the_rounded_fee(client):
    r = client.get(
        reverse("fee_quote"),
        {
            "currency": "USD",
            "amount": "67.00",
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "0",
            "form-0-amount": "33.50",
            "form-1-amount": "33.50",
        },
    )
    html = r.content.decode()
    assert "1.01 USD" in html and "68.01 USD" in html


@pytest.mark.parametrize(
    ("fee", "who", "amounts", "expected"),
    [
        # Half each: the buyer takes the odd minor unit.
        (101, WhoPays.SPLIT, [1, 1], (51, [25, 25])),
        (1, WhoPays.SPLIT, [1, 1], (1, [0, 0])),
        # The payees' part in proportion; the units left over go to the largest remainders
        # first, equal remainders to the earlier milestone.
        (3, WhoPays.SELLER, [1, 1], (0, [2, 1])),
        (100, WhoPays.SELLER, [1, 1, 1], (0, [34, 33, 33])),
        (7, WhoPays.SELLER, [1, 2, 1], (0, [2, 3, 2])),
        (5, WhoPays.SELLER, [3, 1], (0, [4, 1])),
        (101, WhoPays.BUYER, [1, 1], (101, [0, 0])),
    ],
)
def test_fee_shares_round_to_exact_minor_units(fee, who, amounts, expected):
    assert fee_shares(fee, who, amounts) == expected
