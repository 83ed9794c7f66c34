"""Each way to_minor refuses an amount says it twice, exactly: for the API naming the field it
was given, and for a person in plain words. Amounts written with an exponent are refused as too
large or as too precise by the same rules as amounts written out, whichever limit they meet first;
an escrow's total names its own field when it is past the most one escrow can hold."""

from decimal import Decimal

import pytest

from core.errors import InvalidRequest
from escrows.money import EscrowTooLarge, to_minor

SHAPE_FOR_PERSON = "Enter an amount as a number, such as 300.00."


def refusal(value, currency="USD", **kwargs):
    with pytest.raises(InvalidRequest) as caught:
        to_minor(value, currency, **kwargs)
    error = caught.value
    return type(error), error.message, error.field, error.for_person


@pytest.mark.parametrize("value", [None, 1.5, True], ids=["none", "float", "bool"])
def test_a_value_that_is_not_a_written_amount_is_refused_in_a_persons_words(value):
    assert refusal(value, field="price") == (
        InvalidRequest,
        'price must be a decimal string such as "300.00"',
        "price",
        SHAPE_FOR_PERSON,
    )


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", Decimal("NaN")])
def test_a_number_that_is_no_amount_is_refused_in_a_persons_words(value):
    assert refusal(value, field="price") == (
        InvalidRequest,
        'price must be a decimal string such as "300.00"',
        "price",
        SHAPE_FOR_PERSON,
    )


def test_over_long_text_is_refused_in_a_persons_words():
    assert refusal("1" * 41, field="price") == (
        InvalidRequest,
        "price must be at most 40 characters",
        "price",
        "Enter at most 40 characters.",
    )


def test_a_tiny_amount_in_exponent_notation_says_how_many_decimal_places_the_currency_has():
    assert refusal("1e-31", field="price") == (
        InvalidRequest,
        "price has more than 2 decimal places for USD",
        "price",
        "USD amounts have at most 2 decimal places.",
    )
    assert refusal("1e-31", "JPY", field="price")[1:] == (
        "price has more than 0 decimal places for JPY",
        "price",
        "JPY amounts are whole numbers, without decimal places.",
    )


# 31 and 32 digits before the point, with a third decimal place: the exponent limit (more than
# 30 digits after the first) is met by the longer one only; the shorter reaches the places rule.
THIRTY_ONE_DIGITS = "1" + "0" * 30 + ".001"
THIRTY_TWO_DIGITS = "1" + "0" * 31 + ".001"


def test_an_amount_just_within_the_exponent_limit_is_judged_by_its_decimal_places():
    assert refusal(THIRTY_ONE_DIGITS, field="price")[1:] == (
        "price has more than 2 decimal places for USD",
        "price",
        "USD amounts have at most 2 decimal places.",
    )


def test_an_amount_past_the_exponent_limit_is_too_large_whatever_its_decimal_places():
    assert refusal(THIRTY_TWO_DIGITS, field="price") == (
        InvalidRequest,
        "price is too large",
        "price",
        "Enter an amount of at most 1,000,000,000,000.00 USD.",
    )


def test_an_escrow_total_past_the_exponent_limit_names_its_field():
    assert refusal("1e31", field="total", escrow_total=True) == (
        EscrowTooLarge,
        "total is too large: the most one escrow can hold is 1,000,000.00 USD",
        "total",
        "The most one escrow can hold is 1,000,000.00 USD.",
    )


def test_an_escrow_total_past_the_most_one_escrow_can_hold_names_its_field():
    assert refusal("1000000.01", field="total", escrow_total=True) == (
        EscrowTooLarge,
        "total is too large: the most one escrow can hold is 1,000,000.00 USD",
        "total",
        "The most one escrow can hold is 1,000,000.00 USD.",
    )
    assert to_minor("1000000.00", "USD", field="total", escrow_total=True) == 100_000_000
