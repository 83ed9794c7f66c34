"""`manage.py stripe_reconcile`: Stripe's balance transactions of a period beside our card payments,
card refunds and payouts and what our ledger moved for each, against the local Stripe-compatible
server with the platform balance's history (tests/stripe_balance_fake.py)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from escrows import services
from escrows.models import (
    CardPaymentStatus,
    LedgerEntry,
    LedgerTransaction,
    Settlement,
    StripeAccount,
    StripeRefund,
)
from tests.connect.conftest import onboard
from tests.helpers import make_escrow, refresh
from tests.stripe_balance_fake import started
from tests.stripe_fake import browser_confirm

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    fake = started(settings)
    yield fake
    fake.stop()


def paid_by_stripe(fake, seller, buyer):
    escrow = make_escrow(seller, parts=(60_000, 40_000))
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    services.card_payment_refresh(card_payment=card_payment)
    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    return refresh(escrow), refresh(card_payment)


def reconcile(*args):
    out = StringIO()
    try:
        call_command("stripe_reconcile", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def today():
    return timezone.now().strftime("%Y-%m-%d")


def balance_gets(fake):
    return [r for r in fake.requests if r[:2] == ("GET", "/v1/balance_transactions")]


def test_a_clean_period_prints_every_transaction_and_no_difference(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    assert refresh(refund).provider_reference
    before = (LedgerEntry.objects.count(), LedgerTransaction.objects.count(), StripeRefund.objects.count())

    code, out = reconcile("--since", today())

    assert code == 0, out
    charge = card_payment.total  # 100,000 + the buyer's fee, 1,500
    assert f"card payment {card_payment.public_id}" in out
    assert f"card refund {refund.public_id}" in out
    assert "1,015.00 USD" in out and "-1,000.00 USD" in out
    # Stripe's processing fee on the charge (2.9% + 30 cents) is shown, and is not a difference.
    assert "29.74 USD" in out and charge == 101_500
    assert "No differences" in out
    [(_, _, params, _)] = balance_gets(fake)
    assert set(params["created"]) == {"gte", "lt"}
    # It changes nothing.
    assert before == (
        LedgerEntry.objects.count(),
        LedgerTransaction.objects.count(),
        StripeRefund.objects.count(),
    )


def test_differences_are_said_in_words_and_exit_1(fake, seller, buyer, django_capture_on_commit_callbacks):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    # A refund recorded by us (the ledger gave the money back) but never sent: Stripe has none.
    services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    # A charge on Stripe that no card payment of ours made.
    stranger = fake._create({"amount": "5000", "currency": "usd"})
    browser_confirm(fake, stranger["id"], "pm_card_visa")
    # Stripe charged our card payment another amount than our ledger took in.
    fake.charge_of(card_payment.provider_reference)["amount"] = 101_600

    code, out = reconcile("--since", today())

    assert code == 1, out
    stranger_charge = fake.charge_of(stranger["id"])["id"]
    assert f"On Stripe but not recorded by us: charge {stranger_charge} of 50.00 USD." in out
    missing = f"card refund {refund.public_id} (refund of 1,000.00 USD)."
    assert f"Recorded by us in the period but not on Stripe: {missing}" in out
    assert f"Amounts differ for card payment {card_payment.public_id} (charge ch_" in out
    assert "Stripe says 1,016.00 USD, our ledger 1,015.00 USD (a difference of 1.00 USD)." in out
    assert "3 difference(s)" in out


def test_a_transaction_of_another_product_is_listed_as_not_ours_and_is_no_difference(fake, seller, buyer):
    paid_by_stripe(fake, seller, buyer)
    fake.other_transactions.append(
        {
            **fake.balance_transactions()[0],
            "id": "txn_adjustment",
            "type": "adjustment",
            "amount": -2_000,
            "fee": 0,
            "net": -2_000,
            "source": {"id": "adj_1", "object": "adjustment", "currency": "usd"},
        }
    )

    code, out = reconcile("--since", today())

    assert code == 0, out
    assert "adj_1" in out and "not ours" in out


def test_a_payout_transferred_to_a_connected_account_is_set_beside_its_ledger_posting(
    fake, seller, django_capture_on_commit_callbacks
):
    onboard(seller)
    fake.complete_onboarding(StripeAccount.objects.get(customer=seller).account_id)
    services.stripe_account_refresh(customer=seller)
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="")
    settlement = Settlement.objects.get()
    [transfer] = fake.transfers.values()

    code, out = reconcile("--since", today())

    assert code == 0, out
    assert f"payout {settlement.public_id}" in out and "-20.00 USD" in out

    transfer["amount"] = 2_500
    code, out = reconcile("--since", today())

    assert code == 1, out
    assert f"Amounts differ for payout {settlement.public_id} (transfer {transfer['id']})" in out
    assert "Stripe says -25.00 USD, our ledger -20.00 USD (a difference of -5.00 USD)." in out


def test_every_page_is_read(fake, seller, buyer):
    payments = [paid_by_stripe(fake, seller, buyer)[1] for _ in range(3)]

    code, out = reconcile("--since", today(), "--page-size", "2")

    assert code == 0, out
    assert len(balance_gets(fake)) == 2
    assert balance_gets(fake)[1][2]["starting_after"]
    for card_payment in payments:
        assert f"card payment {card_payment.public_id}" in out


def test_the_period_bounds_what_stripe_is_asked(fake, seller, buyer):
    paid_by_stripe(fake, seller, buyer)

    code, out = reconcile("--since", "2020-01-01", "--until", "2020-01-31")

    assert code == 0, out
    [(_, _, params, _)] = balance_gets(fake)
    assert params["created"] == {"gte": "1577836800", "lt": "1580515200"}
    assert "card payment" not in out


@pytest.mark.parametrize(
    "args, words",
    [
        (["--since", "2026-13-01"], "--since must be a date as YYYY-MM-DD"),
        (["--since", "yesterday"], "--since must be a date as YYYY-MM-DD"),
        (["--since", "2026-11-30", "--until", "30/11/2026"], "--until must be a date as YYYY-MM-DD"),
        (["--since", "2026-12-01", "--until", "2026-11-30"], "--since must be before --until"),
    ],
)
def test_bad_dates_are_refused(fake, args, words):
    with pytest.raises(CommandError, match=words) as refused:
        reconcile(*args)
    assert refused.value.returncode == 2  # nothing compared, unlike 1: differences found
    assert not balance_gets(fake)


def test_refused_while_stripe_is_not_configured(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="Stripe is not configured"):
        reconcile("--since", "2026-11-30")


def test_a_transaction_in_a_currency_we_do_not_keep_is_listed_not_a_crash(fake, seller, buyer):
    paid_by_stripe(fake, seller, buyer)
    fake.other_transactions.append(
        {
            **fake.balance_transactions()[0],
            "id": "txn_cad",
            "type": "adjustment",
            "currency": "cad",
            "amount": -2_000,
            "fee": 0,
            "net": -2_000,
            "source": {"id": "adj_cad", "object": "adjustment", "currency": "cad"},
        }
    )

    code, out = reconcile("--since", today())

    assert code == 0, out
    assert "adj_cad" in out and "not ours" in out
