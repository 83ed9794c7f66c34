"""How a payment's source reads (funding_source_label, the one home of those words): a card is the
mock gateway's test card only while cards do not go through Stripe, on the pay page's choice, a
receipt and the evidence record alike."""

import pytest

from escrows.models import FundingSource
from escrows.models.payments import funding_source_label
from escrows.selectors import _detail_value

pytestmark = pytest.mark.django_db


def test_a_card_reads_as_the_test_gateways_only_while_cards_do_not_go_through_stripe(stripe_fake, settings):
    # The secret key alone does not send a buyer's card to Stripe; both keys do.
    assert funding_source_label(FundingSource.CARD) == "Card (test gateway)"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    assert funding_source_label(FundingSource.CARD) == "Card"
    assert funding_source_label(FundingSource.WALLET) == "Wallet balance"
    settings.STRIPE_SECRET_KEY = ""
    assert funding_source_label(FundingSource.CARD) == "Card (test gateway)"


def test_the_evidence_record_names_a_card_paid_through_stripe_a_card(stripe_fake, settings):
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    assert _detail_value("source", "CARD", "USD") == "Card"
    assert _detail_value("paidFrom", "WALLET", "USD") == "Wallet balance"
