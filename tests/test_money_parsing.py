"""Amounts as people write them become exact minor units, or are refused with a message in the
user's words naming the field: floats, booleans and non-numbers, too many decimal places for the
currency, zero (unless allowed), negative, too large, and over-long text. Currencies are known
codes, any case. Minor units print back as the decimal string they came from."""

from contextlib import contextmanager
from decimal import Decimal

import pytest

from core.errors import InvalidRequest
from escrows.money import (
    MAX_AMOUNT_CHARS,
    check_minor,
    currency_exponent,
    format_minor,
    format_money,
    major_int_to_minor,
    max_amount_minor,
    normalize_currency,
    to_decimal,
    to_minor,
)

SHAPE = 'amount must be a decimal string such as "300.00"'


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("300.00", "USD", 30_000),
        (" 12.5 ", "USD", 1_250),
        ("7", "JPY", 7),
        (Decimal("0.01"), "USD", 1),
        (42, "USD", 4_200),
        ("1e2", "USD", 10_000),
        ("1000000000000", "USD", 100_000_000_000_000),  # the largest amount allowed
    ],
)
def test_amounts_become_exact_minor_units(value, currency, minor):
    assert to_minor(value, currency) == minor


@contextmanager
def refused(message, *, field="amount"):
    with pytest.raises(InvalidRequest) as info:
        yield
    assert str(info.value) == message
    assert info.value.field == field


@pytest.mark.parametrize("value", [0.1, True, None, "abc", "", "NaN", "Infinity", "-inf", [1]])
def test_what_is_not_a_decimal_amount_is_refused(value):
    with refused(SHAPE):
        to_minor(value, "USD")


def test_the_field_name_is_the_callers():
    with refused('price must be a decimal string such as "300.00"', field="price"):
        to_minor(1.5, "USD", field="price")
    with refused("price must be greater than zero", field="price"):
        to_minor("0", "USD", field="price")


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("0.001", "USD", "amount has more than 2 decimal places for USD"),
        ("1.5", "JPY", "amount has more than 0 decimal places for JPY"),
        ("1e-31", "USD", "amount has more than 2 decimal places for USD"),
        ("1." + "0" * 30 + "1", "USD", "amount has more than 2 decimal places for USD"),
        ("0", "USD", "amount must be greater than zero"),
        ("-1", "USD", "amount must be greater than zero"),
        ("1000000000000.01", "USD", "amount is too large"),
        ("1e31", "USD", "amount is too large"),
        ("9" * 31, "JPY", "amount is too large"),
    ],
)
def test_amounts_out_of_bounds_are_refused(value, currency, message):
    with refused(message):
        to_minor(value, currency)


def test_exponent_bounds_are_exactly_thirty():
    with refused("amount is too large"):
        to_minor("1e30", "JPY")  # adjusted exponent 30 passes the shape check, then the limit
    assert to_minor("1e-2", "USD") == 1
    with refused("amount has more than 2 decimal places for USD"):
        to_minor("1e-30", "USD")


def test_text_of_at_most_forty_characters_is_read():
    assert MAX_AMOUNT_CHARS == 40
    assert to_minor("0" * 36 + "1.00", "USD") == 100  # 40 characters
    with refused("amount must be at most 40 characters"):
        to_minor("0" * 37 + "1.00", "USD")


def test_a_decimal_is_read_exactly_to_a_hundred_digits():
    assert to_minor(Decimal("1." + "0" * 50), "USD") == 100  # not held to the 40 characters of text
    for value in (Decimal("1." + "0" * 150), Decimal("1." + "0" * 150 + "1")):  # would need rounding
        with refused("amount has more than 2 decimal places for USD"):
            to_minor(value, "USD")


def test_zero_only_where_allowed():
    assert to_minor("0", "USD", allow_zero=True) == 0
    assert check_minor(0, "USD", allow_zero=True) == 0
    with refused("amount must be greater than zero"):
        check_minor(-1, "USD", allow_zero=True)
    assert check_minor(max_amount_minor("USD"), "USD") == 10**14
    with refused("amount is too large"):
        check_minor(10**14 + 1, "USD")


def test_the_provider_surface_speaks_whole_major_units():
    assert major_int_to_minor(1, "USD") == 100
    assert major_int_to_minor(3, "USD") == 300
    assert major_int_to_minor(10**12, "JPY") == 10**12
    for value in (0, -1, True, "3", 1.0):
        with refused("amount must be a positive integer"):
            major_int_to_minor(value, "USD")
    with refused("amount is too large"):
        major_int_to_minor(10**12 + 1, "USD")


def test_currencies_are_known_codes_in_any_case():
    assert normalize_currency(" usd ") == "USD"
    assert currency_exponent("JPY") == 0
    for value in ("", "   ", None, 5):
        with refused("currency is required", field="currency"):
            normalize_currency(value)
    with pytest.raises(InvalidRequest) as info:
        normalize_currency("doge-coin-of-the-month")
    assert str(info.value) == (
        "Unsupported currency: DOGE-COIN-. Supported: EUR, GBP, JPY, KES, NGN, USD, USDC"
    )
    assert (info.value.code, info.value.field) == ("invalid_currency", "currency")


def test_minor_units_print_back_exactly():
    assert to_decimal(30_050, "USD") == Decimal("300.50")
    assert str(to_decimal(30_050, "USD")) == "300.50"
    assert format_minor(5, "USD") == "0.05"
    assert format_minor(7, "JPY") == "7"
    assert format_money(123_456_789, "USD") == "1,234,567.89 USD"
