"""What ledger.post writes: one transaction row with its links, one entry per leg that moves
money, and the running balance of each tracked account moved by its net amount, while the
platform's and the outside world's rows keep none; what it refuses (unbalanced, a single leg,
mixed currencies, outside a transaction) leaves nothing behind. The accounts it posts to: one per
owner, kind and currency, created on first use; an escrow's hold created once even when two
callers race for it; the funds check's exact limit and message."""

import pytest
from django.db import transaction
from django.db.models import OuterRef
from django.utils import timezone

from escrows import ledger
from escrows.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Settlement,
    SettlementMethod,
)
from escrows.models import Escrow as EscrowModel
from tests.helpers import make_escrow, milestones

pytestmark = pytest.mark.django_db


def entries_of(txn):
    return list(
        LedgerEntry.objects.filter(transaction_id=txn.pk).order_by("id").values_list("account_id", "amount")
    )


def row_balance(account):
    return LedgerAccount.objects.values_list("balance", flat=True).get(pk=account.pk)


def nothing_posted():
    return not LedgerTransaction.objects.exists() and not LedgerEntry.objects.exists()


def test_a_posting_stores_its_transaction_entries_and_tracked_balances(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    stage = milestones(escrow)[0]
    settlement = Settlement.objects.create(
        customer=seller,
        escrow=escrow,
        milestone=stage,
        amount=30_000,
        currency="USD",
        method=SettlementMethod.OFF_RAMP_MOCK,
        destination="acct-1",
    )
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    wallet = ledger.customer_account(buyer, "USD")
    hold = ledger.hold_account(escrow)
    fees = ledger.platform_account(AccountKind.PLATFORM_FEES, "USD")
    before = timezone.now()
    with transaction.atomic():
        txn = ledger.post(
            "FUNDING",
            "USD",
            [(outside, -31_000), (wallet, 1_000), (hold, 29_000), (fees, 1_000)],
            escrow=escrow,
            milestone=stage,
            settlement=settlement,
            memo="card payment",
        )
    stored = LedgerTransaction.objects.get(pk=txn.pk)
    assert (stored.kind, stored.currency, stored.memo) == ("FUNDING", "USD", "card payment")
    assert (stored.escrow_id, stored.milestone_id, stored.settlement_id) == (
        escrow.pk,
        stage.pk,
        settlement.pk,
    )
    assert before <= stored.created_at <= timezone.now()
    assert txn.created_at == stored.created_at
    assert entries_of(txn) == [(outside.pk, -31_000), (wallet.pk, 1_000), (hold.pk, 29_000), (fees.pk, 1_000)]
    # Tracked accounts keep their balance on the row; the platform's and the outside's do not.
    assert (row_balance(wallet), row_balance(hold)) == (1_000, 29_000)
    assert (row_balance(outside), row_balance(fees)) == (0, 0)
    assert (ledger.balance_of(outside), ledger.balance_of(fees)) == (-31_000, 1_000)


def test_a_posting_without_links_stores_none(buyer):
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "EUR")
    wallet = ledger.customer_account(buyer, "EUR")
    with transaction.atomic():
        txn = ledger.post("TOPUP", "EUR", [(outside, -500), (wallet, 500)])
    stored = LedgerTransaction.objects.get(pk=txn.pk)
    assert (stored.escrow_id, stored.milestone_id, stored.settlement_id, stored.memo) == (
        None,
        None,
        None,
        "",
    )
    assert row_balance(wallet) == 500


def test_legs_of_nothing_are_left_out_and_one_accounts_legs_add_up(buyer, seller):
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    wallet = ledger.customer_account(buyer, "USD")
    payouts = ledger.clearing_account(seller, "USD")
    with transaction.atomic():
        txn = ledger.post("TOPUP", "USD", [(outside, -800), (wallet, 300), (payouts, 0), (wallet, 500)])
    assert entries_of(txn) == [(outside.pk, -800), (wallet.pk, 300), (wallet.pk, 500)]
    assert row_balance(wallet) == 800
    assert row_balance(payouts) == 0


def test_legs_that_cancel_out_on_one_account_leave_its_balance(buyer, seller):
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    wallet = ledger.customer_account(buyer, "USD")
    with transaction.atomic():
        ledger.post("TOPUP", "USD", [(outside, -1_000), (wallet, 1_000)])
        txn = ledger.post("REFUND", "USD", [(wallet, -400), (wallet, 400), (outside, 0), (outside, 0)])
    assert entries_of(txn) == [(wallet.pk, -400), (wallet.pk, 400)]
    assert row_balance(wallet) == 1_000


def test_a_wallet_known_by_its_id_is_posted_to_like_the_one_looked_up(buyer):
    wallet = ledger.customer_account(buyer, "USD")
    known = ledger.customer_account(buyer, "USD", known_id=wallet.pk)
    assert (known.pk, known.kind, known.currency, known.owner) == (
        wallet.pk,
        AccountKind.CUSTOMER_MAIN,
        "USD",
        buyer,
    )
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    with transaction.atomic():
        txn = ledger.post("TOPUP", "USD", [(outside, -700), (known, 700)])
    assert entries_of(txn) == [(outside.pk, -700), (wallet.pk, 700)]
    assert row_balance(wallet) == 700
    assert ledger.cached_balance(known) == 700
    assert LedgerAccount.objects.filter(owner=buyer).count() == 1


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        ([("outside", -100), ("wallet", 99)], r"^TOPUP entries do not sum to zero: \["),
        ([("wallet", 0)], r"^TOPUP entries do not sum to zero: \["),
        ([("outside", -100), ("euro_wallet", 100)], r"^TOPUP mixes currencies$"),
    ],
)
def test_a_posting_that_does_not_balance_is_refused_and_leaves_nothing(buyer, legs, message):
    accounts = {
        "outside": ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD"),
        "wallet": ledger.customer_account(buyer, "USD"),
        "euro_wallet": ledger.customer_account(buyer, "EUR"),
    }
    with transaction.atomic(), pytest.raises(ledger.UnbalancedTransaction, match=message):
        ledger.post("TOPUP", "USD", [(accounts[name], amount) for name, amount in legs])
    assert nothing_posted()
    assert row_balance(accounts["wallet"]) == 0


@pytest.mark.django_db(transaction=True)
def test_a_posting_outside_a_transaction_is_refused(buyer):
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    wallet = ledger.customer_account(buyer, "USD")
    with pytest.raises(
        RuntimeError, match="^ledger.post must run inside the transaction of its state change$"
    ):
        ledger.post("TOPUP", "USD", [(outside, -100), (wallet, 100)])
    assert nothing_posted()
    assert row_balance(wallet) == 0


def test_each_owner_kind_and_currency_has_one_account_made_on_first_use(buyer, seller):
    wallet = ledger.customer_account(buyer, "USD")
    assert (wallet.kind, wallet.currency, wallet.owner_id, wallet.escrow_id) == (
        AccountKind.CUSTOMER_MAIN,
        "USD",
        buyer.pk,
        None,
    )
    payouts = ledger.clearing_account(buyer, "USD")
    assert (payouts.kind, payouts.currency, payouts.owner_id) == (
        AccountKind.PAYOUT_CLEARING,
        "USD",
        buyer.pk,
    )
    fees = ledger.platform_account(AccountKind.PLATFORM_FEES, "USD")
    assert (fees.kind, fees.currency, fees.owner_id, fees.escrow_id) == (
        AccountKind.PLATFORM_FEES,
        "USD",
        None,
        None,
    )
    others = [
        ledger.customer_account(seller, "USD"),
        ledger.customer_account(buyer, "EUR"),
        ledger.clearing_account(buyer, "EUR"),
        ledger.platform_account(AccountKind.PLATFORM_FEES, "EUR"),
        ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD"),
    ]
    assert len({a.pk for a in [wallet, payouts, fees, *others]}) == 8
    # Asked again, each is the same row.
    assert ledger.customer_account(buyer, "USD").pk == wallet.pk
    assert ledger.clearing_account(buyer, "USD").pk == payouts.pk
    assert ledger.platform_account(AccountKind.PLATFORM_FEES, "USD").pk == fees.pk
    assert LedgerAccount.objects.count() == 8


def test_an_escrows_hold_is_made_once_even_when_a_second_caller_races_for_it(seller):
    escrow = make_escrow(seller, currency="EUR")
    racing = EscrowModel.objects.get(pk=escrow.pk)
    with pytest.raises(LedgerAccount.DoesNotExist):
        racing.hold_account  # noqa: B018 -- it read "no hold yet" before the first caller made one
    hold = ledger.hold_account(escrow)
    assert (hold.kind, hold.currency, hold.escrow_id, hold.owner_id) == (
        AccountKind.ESCROW_HOLD,
        "EUR",
        escrow.pk,
        None,
    )
    assert ledger.hold_account(escrow).pk == hold.pk
    assert ledger.hold_account(racing).pk == hold.pk
    assert ledger.hold_account(EscrowModel.objects.get(pk=escrow.pk)).pk == hold.pk
    assert LedgerAccount.objects.filter(escrow=escrow).count() == 1


def test_funds_are_enough_up_to_the_last_minor_unit(buyer):
    wallet = ledger.customer_account(buyer, "USD")
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    with transaction.atomic():
        ledger.post("TOPUP", "USD", [(outside, -1_000), (wallet, 1_000)])
        ledger.require_funds(wallet, 1_000)
        with pytest.raises(ledger.InsufficientFunds) as refused:
            ledger.require_funds(wallet, 1_001)
        assert refused.value.message == "Insufficient wallet balance: 10.01 USD needed, 10.00 USD available"
        with pytest.raises(ledger.InsufficientFunds) as refused:
            ledger.require_funds(wallet, 250_000, what="balance for this payout")
        assert (
            refused.value.message
            == "Insufficient balance for this payout: 2,500.00 USD needed, 10.00 USD available"
        )


def test_locking_an_account_that_does_not_exist_names_it():
    ghost = LedgerAccount(pk=987_654, kind=AccountKind.CUSTOMER_MAIN, currency="USD")
    with transaction.atomic(), pytest.raises(LedgerAccount.DoesNotExist, match="^ledger account 987654$"):
        ledger.lock_account(ghost)


def test_an_account_that_exists_is_found_in_one_query(buyer, django_assert_num_queries):
    wallet = ledger.customer_account(buyer, "USD")
    fees = ledger.platform_account(AccountKind.PLATFORM_FEES, "USD")
    with django_assert_num_queries(1):
        assert ledger.customer_account(buyer, "USD").pk == wallet.pk
    with django_assert_num_queries(1):
        assert ledger.platform_account(AccountKind.PLATFORM_FEES, "USD").pk == fees.pk


def test_the_main_account_id_read_with_an_escrow_is_the_sellers_in_its_currency(seller, buyer):
    usd = make_escrow(seller, buyer=buyer)
    gbp = make_escrow(seller, buyer=buyer, currency="GBP")
    ledger.clearing_account(seller, "GBP")  # another kind of the seller's, in GBP
    ledger.customer_account(buyer, "GBP")  # another owner's main account in GBP
    wallet = ledger.customer_account(seller, "USD")
    ledger.customer_account(seller, "EUR")
    ledger.hold_account(usd)
    ids = dict(
        EscrowModel.objects.filter(pk__in=[usd.pk, gbp.pk])
        .annotate(account_id=ledger.customer_account_id(OuterRef("seller_id"), OuterRef("currency")))
        .values_list("pk", "account_id")
    )
    # The seller has no GBP main account yet: none (customer_account then makes it).
    assert ids == {usd.pk: wallet.pk, gbp.pk: None}
