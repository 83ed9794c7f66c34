"""Creating an escrow: an amount that is not a whole number of minor units is refused in a
person's words, a missing currency with the invalid_currency code, and the first version of the
terms is proposed (and agreed by the seller) at the very moment the escrow was made, the moment
its time to pay is counted from."""

import itertools
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings

from core.errors import InvalidRequest
from escrows import services
from escrows.models import TermsVersion
from escrows.money import normalize_currency
from escrows.services import EscrowTerms, MilestoneInput

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _create(seller, **terms):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(**{"title": "Website build", "currency": "USD", "amount": 80_000, **terms}),
        milestones=[MilestoneInput(amount=30_000, title="Design"), MilestoneInput(amount=50_000)],
    )


@pytest.mark.parametrize("amount", [300.0, "30000"])
def test_an_amount_not_in_whole_minor_units_is_refused_in_a_persons_words(seller, amount):
    with pytest.raises(InvalidRequest) as refused:
        _create(seller, amount=amount)
    assert (refused.value.message, refused.value.field, refused.value.for_person) == (
        "amount must be an exact number of minor units",
        "amount",
        "Enter the amount as money, such as 300.00.",
    )


@pytest.mark.parametrize("currency", ["", "   ", None])
def test_a_missing_currency_is_refused_as_an_invalid_currency(currency):
    with pytest.raises(InvalidRequest) as refused:
        normalize_currency(currency)
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "invalid_currency",
        "currency",
        "currency is required",
    )


def test_creating_without_a_currency_answers_the_invalid_currency_code(seller):
    with pytest.raises(InvalidRequest) as refused:
        _create(seller, currency="")
    assert (refused.value.code, refused.value.field) == ("invalid_currency", "currency")


def test_the_first_terms_are_proposed_at_the_moment_the_escrow_was_made(seller):
    """A clock that moves on at every reading: the version's time is the one the escrow's time
    to pay is counted from, not a later reading."""
    ticks = itertools.count()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: DAY1 + timedelta(seconds=next(ticks))):
        escrow = _create(seller)
    made_at = escrow.expires_at - settings.ESCROW_PAYMENT_EXPIRY
    (version,) = TermsVersion.objects.filter(escrow=escrow)
    agreed = (version.proposed_at, version.seller_agreed_at, version.buyer_agreed_at)
    assert agreed == (made_at, made_at, None)
