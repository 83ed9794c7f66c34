"""What Stripe tells us of money already sent to a connected account: a reversed transfer comes
back to the person's balance once (however often, and in as many parts as Stripe reverses it),
with the person and staff told; a bank payout that failed at Stripe is told to the person, with
its amount, and moves nothing of ours."""

import pytest

from escrows import services
from escrows.models import Event, LedgerEntry, LedgerTransaction, Settlement, TransactionKind
from escrows.selectors import balances_for_user
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, refresh
from tests.notifications.helpers import nobody_told, told
from tests.stripe_fake import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_out(stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks):
    """The seller withdrew 20.00 USD of 50.00 USD, paid as a Stripe transfer."""
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="")
    settlement = Settlement.objects.get()
    assert settlement.status == "PAID"
    return settlement


def given_back(settlement) -> list[int]:
    return [
        e.amount
        for e in LedgerEntry.objects.filter(
            transaction__settlement=settlement,
            transaction__kind=TransactionKind.PAYOUT_RETURN,
            account__kind="CUSTOMER_MAIN",
        )
    ]


def test_a_reversed_transfer_comes_back_to_the_balance_once(
    client, stripe_connect_fake, seller, admin_user, paid_out
):
    event = stripe_connect_fake.reverse_transfer(paid_out.provider_reference)

    first = deliver(client, stripe_connect_fake, event)
    second = deliver(client, stripe_connect_fake, event)
    # Stripe says the same total again in another event: nothing more comes back.
    resent = deliver(client, stripe_connect_fake, {**event, "id": event["id"] + "_again"})

    assert [r.status_code for r in (first, second, resent)] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in (first, second, resent)] == [False, True, False]
    assert given_back(paid_out) == [2_000]
    [txn] = LedgerTransaction.objects.filter(settlement=paid_out, kind=TransactionKind.PAYOUT_RETURN)
    assert sorted((e.account.kind, e.amount) for e in txn.entries.all()) == [
        ("CUSTOMER_MAIN", 2_000),
        ("EXTERNAL_PAYOUTS", -2_000),
    ]
    assert txn.memo == "Stripe transfer reversed"
    assert balances_for_user(seller)["USD"] == {"available": 5_000, "in_flight": 0}
    assert refresh(paid_out).status == "PAID"
    assert Event.objects.filter(kind="settlement.reversed").count() == 1
    assert_ledger_invariants()
    notices = told("settlement.reversed")
    assert notices["seller@example.test"].subject == (
        "20.00 USD came back to your balance: Stripe reversed a transfer"
    )
    assert notices["admin@example.test"].subject == (
        "Stripe transfer reversed: 20.00 USD back to the payee's balance"
    )


def test_a_transfer_reversed_in_parts_gives_back_each_part(client, stripe_connect_fake, seller, paid_out):
    first = stripe_connect_fake.reverse_transfer(paid_out.provider_reference, amount=500)
    second = stripe_connect_fake.reverse_transfer(paid_out.provider_reference, amount=700)

    # Delivered out of order: each gives back what the total so far adds.
    deliver(client, stripe_connect_fake, second)
    deliver(client, stripe_connect_fake, first)

    assert sum(given_back(paid_out)) == 1_200
    assert balances_for_user(seller)["USD"]["available"] == 3_000 + 1_200
    assert_ledger_invariants()


def test_a_reversal_of_a_transfer_not_ours_changes_nothing(client, stripe_connect_fake, connected_seller):
    stripe_connect_fake.available["usd"] = 10_000
    stripe_connect_fake._transfer(
        {"amount": "900", "currency": "usd", "destination": connected_seller.account_id}
    )
    [transfer_id] = stripe_connect_fake.transfers
    event = stripe_connect_fake.reverse_transfer(transfer_id)
    before = ledger_fingerprint()

    answer = deliver(client, stripe_connect_fake, event)

    assert answer.status_code == 200
    assert ledger_fingerprint() == before
    assert nobody_told("settlement.reversed")


def test_a_failed_bank_payout_is_told_to_the_person_with_its_amount(
    client, stripe_connect_fake, connected_seller, seller
):
    before = ledger_fingerprint()
    event = stripe_connect_fake.fail_payout(connected_seller.account_id, 2_000)

    answer = deliver(client, stripe_connect_fake, event)
    again = deliver(client, stripe_connect_fake, event)

    assert (answer.status_code, again.json()["duplicate"]) == (200, True)
    assert ledger_fingerprint() == before
    [notice] = told("stripe_account.payout_failed").values()
    assert notice.recipient == seller
    assert notice.subject == "Stripe could not pay 20.00 USD to your bank"
    assert "The bank account has been closed." in notice.body_text
    assert notice.action_required
    assert Event.objects.filter(kind="stripe_account.payout_failed").count() == 1


def test_a_failed_payout_of_an_account_not_ours_tells_nobody(client, stripe_connect_fake, connected_seller):
    event = stripe_connect_fake.fail_payout("acct_not_ours", 2_000)
    # A payout.failed that names no connected account (not sent to a Connect endpoint).
    without_account = dict(stripe_connect_fake.fail_payout(connected_seller.account_id, 1))
    without_account.pop("account")

    assert deliver(client, stripe_connect_fake, event).status_code == 200
    assert deliver(client, stripe_connect_fake, without_account).status_code == 200

    assert nobody_told("stripe_account.payout_failed")
