"""Where a payout goes while Connect is on: only to the person's own connected account (never to
another person's), and only in a currency Stripe has a code for, whatever unit we count it in:
money in a currency Stripe has no code for stays in the balance; one we count in finer units
than Stripe does is still transferred."""

import pytest

from core.errors import InvalidState
from escrows import services
from escrows.models import Settlement, SettlementMethod, SettlementStatus
from escrows.selectors import wallet_balance
from tests.connect.conftest import posts
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_a_person_without_an_account_is_never_paid_to_another_persons(
    stripe_connect_fake, connected_seller, buyer
):
    services.wallet_topup(customer=buyer, amount=5_000, currency="USD")
    before = ledger_fingerprint()

    with pytest.raises(InvalidState) as refused:
        services.wallet_withdraw(customer=buyer, amount=2_000, currency="USD", destination="")

    assert refused.value.code == "stripe_account_required"
    assert ledger_fingerprint() == before
    assert not Settlement.objects.exists()
    assert posts(stripe_connect_fake, "/v1/transfers") == []


def test_money_in_a_currency_stripe_has_no_code_for_stays_in_the_balance(
    stripe_connect_fake, connected_seller, seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller, currency="USDC")
    fund(escrow, buyer)

    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)

    assert not Settlement.objects.exists()
    assert wallet_balance(seller, "USDC") == 30_000
    with pytest.raises(InvalidState) as refused:
        services.wallet_withdraw(customer=seller, amount=10_000, currency="USDC", destination="")
    assert refused.value.code == "stripe_account_required"
    assert posts(stripe_connect_fake, "/v1/transfers") == []
    assert_ledger_invariants()


def test_a_currency_counted_in_finer_units_than_stripes_is_still_transferred(
    stripe_connect_fake, connected_seller, seller, settings, django_capture_on_commit_callbacks
):
    # Ariary in hundredths, as ISO 4217 counts them; Stripe counts whole ariary.
    settings.ESCROW_CURRENCIES = {**settings.ESCROW_CURRENCIES, "MGA": 2}
    stripe_connect_fake.available["mga"] = 1_000_000
    services.wallet_topup(customer=seller, amount=5_000_000, currency="MGA")

    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=seller, amount=2_000_000, currency="MGA", destination="")

    settlement = Settlement.objects.get()
    assert (settlement.method, settlement.destination, settlement.status) == (
        SettlementMethod.STRIPE_TRANSFER,
        connected_seller.account_id,
        SettlementStatus.PAID,
    )
    [transfer] = stripe_connect_fake.transfers.values()
    assert (transfer["amount"], transfer["currency"]) == (20_000, "mga")
    assert_ledger_invariants()
