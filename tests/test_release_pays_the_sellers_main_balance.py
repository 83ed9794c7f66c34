"""A release pays the seller's main balance in the escrow's currency, whatever other accounts the
seller has: a balance in another currency, or payouts in flight, are never credited by mistake
(the account is found by kind, currency and owner in the escrow lock's own query)."""

import pytest

from escrows import ledger, services
from escrows.selectors import balances_for_user
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_the_release_reaches_the_main_balance_in_the_escrows_currency(seller, buyer):
    services.wallet_topup(customer=seller, amount=700, currency="EUR")
    ledger.clearing_account(seller, "USD")  # made before the main USD account
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    balances = balances_for_user(seller)
    assert balances["USD"] == {"available": 30_000, "in_flight": 0}
    assert balances["EUR"] == {"available": 700, "in_flight": 0}
    assert_ledger_invariants()
