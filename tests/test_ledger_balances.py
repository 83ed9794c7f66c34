"""An account's balance: the running figure kept on the row for the accounts that are locked to
check funds, the sum of the entries for the platform's and the outside world's accounts (whose
row is never updated, so that fundings do not queue on it), and zero for an account nothing has
touched."""

import pytest

from escrows import services
from escrows.ledger import balance_of, cached_balance, customer_account, platform_account
from escrows.models import AccountKind
from tests.helpers import fund, make_escrow

pytestmark = pytest.mark.django_db


def test_each_kind_of_account_reports_what_it_holds(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer, extra=1_234)
    fees = platform_account(AccountKind.PLATFORM_FEES, "USD")
    outside = platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    wallet = customer_account(buyer, "USD")
    assert escrow.fee > 0
    assert cached_balance(fees) == balance_of(fees) == escrow.fee
    assert cached_balance(outside) == balance_of(outside) == -(escrow.total_charge + 1_234)
    assert cached_balance(wallet) == balance_of(wallet) == 1_234


def test_an_untouched_account_holds_nothing(seller):
    refunds = platform_account(AccountKind.EXTERNAL_REFUNDS, "EUR")
    assert balance_of(refunds) == 0
    assert cached_balance(refunds) == 0
    services.wallet_topup(customer=seller, amount=500, currency="USD")
    assert cached_balance(customer_account(seller, "USD")) == 500
