"""An amount is taken only when it is exactly a whole number of the currency's minor units,
however many digits it is written with: Decimal's default context keeps 28 digits, and an amount
rounded to fit them would be accepted as a different amount. Creation, edits and dispute splits
all parse amounts the same way."""

import pytest
from django.test import Client
from django.urls import reverse

from core.errors import InvalidRequest
from escrows.models import Dispute, Escrow
from escrows.money import to_minor
from tests.api.conftest import client_for
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.reliability import figures

SECTION = "money and security defects"

# Each is a fraction of a cent (or of a yen) away from a whole amount, written long enough that
# the arithmetic in the default context would round it away.
NOT_WHOLE = [
    ("USD", "100.0000000000000000000000000001"),
    ("USD", "99.99999999999999999999999999999"),
    ("USD", "1000000000000000000000000000.001"),
    ("USD", "0.0000000000000000000000000000000000001"),
    ("USD", "12.345000000000000000000000000000000000"),
    ("JPY", "5000.000000000000000000000000001"),
]
WHOLE = [("USD", "100.0000000000000000000000000000", 10_000), ("JPY", "5000.00000000", 5_000)]


def test_an_amount_that_is_not_whole_minor_units_is_refused_whatever_its_length():
    accepted = []
    for currency, text in NOT_WHOLE:
        try:
            accepted.append((text, to_minor(text, currency)))
        except InvalidRequest as refused:
            assert "decimal places" in refused.message or "characters" in refused.message
    figures.add(SECTION, "amounts with a fraction of a minor unit: tried", len(NOT_WHOLE))
    figures.add(SECTION, "violations: such an amount taken as another", len(accepted))
    assert accepted == []
    for currency, text, minor in WHOLE:
        assert to_minor(text, currency) == minor


def test_a_very_long_amount_string_is_refused_clearly():
    with pytest.raises(InvalidRequest) as refused:
        to_minor("1" + "0" * 60, "USD")
    assert refused.value.message == "amount must be at most 40 characters"


@pytest.mark.django_db
def test_creation_by_the_api_refuses_a_fraction_of_a_cent(seller):
    response = client_for(seller).post(
        "/v1/payment-intents",
        {"amount": "100.0000000000000000000000000001", "currency": "USD", "description": "Logo"},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "decimal places" in response.json()["error"]["message"]
    assert not Escrow.objects.exists()


@pytest.mark.django_db
def test_an_edit_on_the_page_refuses_a_fraction_of_a_cent(seller):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    browser = Client()
    browser.force_login(seller)
    data = {
        "title": "Logo design",
        "currency": "USD",
        "amount": "300.0000000000000000000000000001",
        "form-TOTAL_FORMS": "2",
        "form-INITIAL_FORMS": "0",
        "form-0-title": "One",
        "form-0-amount": "100.00",
        "form-1-title": "Two",
        "form-1-amount": "200.0000000000000000000000000001",
    }
    before = ledger_fingerprint()
    response = browser.post(reverse("escrow_edit", args=[escrow.public_id]), data)
    assert response.status_code == 200  # the form again, with the error
    assert "decimal places" in response.content.decode()
    assert ledger_fingerprint() == before and refresh(escrow).terms_version == escrow.terms_version


@pytest.mark.django_db
def test_a_dispute_split_refuses_a_fraction_of_a_cent(seller, buyer):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    fund(escrow, buyer)
    response = client_for(buyer).post(
        f"/v1/escrows/{escrow.public_id}/disputes",
        {
            "milestoneId": milestones(escrow)[1].public_id,
            "reason": "Not delivered",
            "defaultOutcome": "split",
            "defaultSellerAmount": "100.0000000000000000000000000001",
            "defaultBuyerAmount": "99.99999999999999999999999999999",
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "decimal places" in response.json()["error"]["message"]
    assert not Dispute.objects.exists()
