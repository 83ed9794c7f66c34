"""Numbers a page cannot take at face value: amounts in exponent notation ("1e999999") on every
page that takes an amount (Decimal arithmetic on them would overflow), and row counts in digits
other than ASCII. A clear message, never a server error."""

import pytest
from django.urls import reverse

from core.errors import InvalidRequest
from escrows.models import Escrow
from escrows.money import to_minor
from tests.helpers import ledger_fingerprint
from tests.views.test_escrow_pages import form_data

HUGE = ["1e999999", "1E+999999", "9e999998", "-1e999999"]


@pytest.mark.parametrize("text", HUGE)
def test_to_minor_calls_huge_exponents_too_large(text):
    with pytest.raises(InvalidRequest, match="too large|greater than zero"):
        to_minor(text, "USD")


@pytest.mark.parametrize("text", ["1e-999999", "1E-40"])
def test_to_minor_calls_tiny_exponents_too_precise(text):
    with pytest.raises(InvalidRequest, match="decimal places"):
        to_minor(text, "USD")


def test_to_minor_still_reads_ordinary_exponents():
    assert to_minor("1e2", "USD") == 10000
    assert to_minor("0E-50", "USD", allow_zero=True) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("text", HUGE)
def test_pages_answer_huge_amounts_with_a_message(seller, seller_client, text):
    before = ledger_fingerprint()
    response = seller_client.get(reverse("fee_quote"), form_data(text, ["1.00", "2.00"]))
    assert response.status_code == 200
    response = seller_client.get(reverse("fee_quote"), form_data("3.00", [text, "2.00"]))
    assert response.status_code == 200
    response = seller_client.post(reverse("escrow_new"), form_data(text, ["1.00", "2.00"]))
    assert response.status_code == 200
    assert "The most one escrow can hold is 1,000,000.00 USD." in response.content.decode()
    response = seller_client.post(reverse("balance_topup"), {"currency": "USD", "amount": text}, follow=True)
    assert response.status_code == 200
    response = seller_client.post(
        reverse("balance_withdraw"), {"currency": "USD", "amount": text, "destination": "x"}, follow=True
    )
    assert response.status_code == 200
    assert not Escrow.objects.filter(seller=seller).exists()
    assert ledger_fingerprint() == before


@pytest.mark.django_db
def test_add_row_with_a_non_ascii_digit_row_count(seller_client):
    r = seller_client.post(
        reverse("escrow_new"), {"add_row": "1", "form-TOTAL_FORMS": "²", "form-INITIAL_FORMS": "0"}
    )
    assert r.status_code == 200


def test_currency_exponents_follow_the_setting(settings):
    """The exponents are read once per process; overriding the setting is still seen."""
    from escrows.money import currency_exponent

    assert currency_exponent("JPY") == 0
    settings.ESCROW_CURRENCIES = {"USD": 2, "BHD": 3}
    assert currency_exponent("BHD") == 3
    with pytest.raises(InvalidRequest, match="Unsupported currency: JPY"):
        currency_exponent("JPY")
