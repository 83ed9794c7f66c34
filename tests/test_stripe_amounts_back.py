"""Stripe's amounts back in our integer minor units: one rule, the other way of stripe_amount."""

import pytest

from escrows import stripe_api


@pytest.mark.parametrize(
    ("amount", "currency", "ours"),
    [(101_500, "usd", 101_500), (15_150, "JPY", 15_150), (1, "eur", 1), (2_000, "cad", None)],
)
def test_stripes_amount_in_our_minor_units(amount, currency, ours):
    assert stripe_api.our_amount(amount, currency) == ours
    if ours is not None:
        assert stripe_api.stripe_amount(ours, currency) == (amount, currency.lower())
