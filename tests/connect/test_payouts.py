"""Payouts as Stripe transfers while Connect is on: a withdrawal goes to the person's connected
account (refused without one that Stripe pays out to), a release to a connected payee is
transferred with its escrow as the transfer group, a lost answer is asked again with the same
key and never transfers twice, a platform balance too short is retried later with staff told,
and any other refusal gives the money back at once."""

import pytest

from core.errors import InvalidState
from escrows import services, stripe_connect
from escrows.models import (
    Event,
    LedgerTransaction,
    Settlement,
    SettlementMethod,
    SettlementStatus,
    StripeAccount,
    TransactionKind,
)
from escrows.selectors import balances_for_user, wallet_balance
from tests.connect.conftest import onboard, posts
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.notifications.helpers import nobody_told, told
from tests.stripe_connect_fake import BALANCE_INSUFFICIENT

pytestmark = pytest.mark.django_db


def withdraw(customer, amount, capture, *, pay=True):
    """The customer withdraws; with `pay` the payout is attempted after the commit, as the worker
    would."""
    with capture(execute=pay):
        services.wallet_withdraw(customer=customer, amount=amount, currency="USD", destination="")
    return Settlement.objects.get()


def transfer_keys(fake):
    return [headers["idempotency-key"] for _, headers in posts(fake, "/v1/transfers")]


@pytest.mark.parametrize("onboarded", [False, True])
def test_a_withdrawal_without_an_account_stripe_pays_out_to_is_refused_in_words(
    stripe_connect_fake, seller, onboarded
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    if onboarded:
        onboard(seller)  # started, not finished: Stripe does not pay out yet
    before = ledger_fingerprint()

    with pytest.raises(InvalidState) as refused:
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-1")

    assert refused.value.code == "stripe_account_required"
    assert refused.value.for_person == "Connect your Stripe account on your balance page to withdraw."
    assert ledger_fingerprint() == before
    assert not Settlement.objects.exists()
    assert posts(stripe_connect_fake, "/v1/transfers") == []


def test_a_withdrawal_is_paid_as_one_transfer_to_the_connected_account(
    stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    platform_before = stripe_connect_fake.available["usd"]

    settlement = withdraw(seller, 2_000, django_capture_on_commit_callbacks)

    assert settlement.status == SettlementStatus.PAID
    assert (settlement.method, settlement.destination) == (
        SettlementMethod.STRIPE_TRANSFER,
        connected_seller.account_id,
    )
    [transfer] = stripe_connect_fake.transfers.values()
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        2_000,
        "usd",
        connected_seller.account_id,
    )
    assert transfer["metadata"] == {"settlement": settlement.public_id}
    assert transfer["transfer_group"] is None
    assert transfer_keys(stripe_connect_fake) == [f"settlement-{settlement.public_id}"]
    assert settlement.provider_reference == transfer["id"]
    assert stripe_connect_fake.available["usd"] == platform_before - 2_000
    assert [t.kind for t in LedgerTransaction.objects.filter(settlement=settlement)] == [
        TransactionKind.PAYOUT_RESERVE,
        TransactionKind.PAYOUT_PAID,
    ]
    assert balances_for_user(seller)["USD"] == {"available": 3_000, "in_flight": 0}
    assert_ledger_invariants()
    notice = told("settlement.paid")["seller@example.test"]
    assert notice.subject == "Payout of 20.00 USD sent"
    assert connected_seller.account_id in notice.body_text


def test_the_destination_asked_for_is_not_where_the_money_goes(
    stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(
            customer=seller, amount=1_000, currency="USD", destination="acct_someone_else"
        )
    [transfer] = stripe_connect_fake.transfers.values()
    assert transfer["destination"] == connected_seller.account_id


def test_a_release_to_a_connected_seller_is_transferred_with_its_escrow_as_the_transfer_group(
    stripe_connect_fake, connected_seller, seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller)
    fund(escrow, buyer)

    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)

    settlement = Settlement.objects.get()
    assert (settlement.status, settlement.escrow, settlement.milestone) == (
        SettlementStatus.PAID,
        escrow,
        milestones(escrow)[0],
    )
    assert (settlement.method, settlement.destination) == ("STRIPE_TRANSFER", connected_seller.account_id)
    [transfer] = stripe_connect_fake.transfers.values()
    assert (transfer["amount"], transfer["transfer_group"]) == (30_000, escrow.public_id)
    assert transfer["metadata"] == {"settlement": settlement.public_id, "escrow": escrow.public_id}
    assert wallet_balance(seller, "USD") == 0
    assert_ledger_invariants()


def test_a_release_to_a_seller_without_an_account_stays_in_their_balance(
    stripe_connect_fake, seller, buyer, django_capture_on_commit_callbacks
):
    onboard(seller)  # not finished
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    assert not Settlement.objects.exists()
    assert wallet_balance(seller, "USD") == 30_000
    assert posts(stripe_connect_fake, "/v1/transfers") == []


def test_with_connect_off_a_release_and_a_withdrawal_go_through_the_off_ramp_as_before(
    stripe_connect_fake, connected_seller, seller, buyer, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_CONNECT = False
    services.wallet_topup(customer=seller, amount=1_000, currency="USD")
    escrow = make_escrow(seller, settlement_method="OFF_RAMP_MOCK", settlement_destination="iban-7")
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
        services.wallet_withdraw(customer=seller, amount=1_000, currency="USD", destination="iban-8")
    assert sorted(Settlement.objects.values_list("method", "destination", "status")) == [
        ("OFF_RAMP_MOCK", "iban-7", "PAID"),
        ("OFF_RAMP_MOCK", "iban-8", "PAID"),
    ]
    assert posts(stripe_connect_fake, "/v1/transfers") == []


def test_an_escrow_naming_stripe_transfers_pays_only_the_payees_own_account(
    stripe_connect_fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(
        seller, settlement_method="STRIPE_TRANSFER", settlement_destination="acct_someone_else"
    )
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    # No connected account of the seller's own: the money stays in their balance.
    assert not Settlement.objects.exists()
    assert wallet_balance(seller, "USD") == 30_000


def test_a_transfer_asked_twice_with_its_key_is_made_once(stripe_connect_fake, connected_seller):
    ask = dict(
        key="settlement-pay_test",
        amount=2_000,
        currency="USD",
        destination=connected_seller.account_id,
        transfer_group="",
        metadata={"settlement": "pay_test"},
    )
    first, _ = stripe_connect.transfer_create(**ask)
    again, refused = stripe_connect.transfer_create(**ask)
    assert first.ok and again.ok and not refused
    assert again.reference == first.reference
    assert len(stripe_connect_fake.transfers) == 1


def test_a_lost_answer_is_asked_again_with_the_same_key_and_never_transfers_twice(
    stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    stripe_connect_fake.lose_answers = 1  # Stripe makes the transfer; its answer never arrives

    settlement = withdraw(seller, 2_000, django_capture_on_commit_callbacks)

    assert settlement.status == SettlementStatus.SCHEDULED
    assert "Stripe could not be reached" in settlement.last_error
    assert len(stripe_connect_fake.transfers) == 1
    assert balances_for_user(seller)["USD"] == {"available": 3_000, "in_flight": 2_000}

    outcome = services.settlement_process(settlement_id=settlement.pk)

    assert outcome.status == SettlementStatus.PAID
    [transfer] = stripe_connect_fake.transfers.values()
    assert refresh(settlement).provider_reference == transfer["id"]
    assert transfer_keys(stripe_connect_fake) == [f"settlement-{settlement.public_id}"] * 2
    assert LedgerTransaction.objects.filter(kind=TransactionKind.PAYOUT_PAID).count() == 1
    assert balances_for_user(seller)["USD"] == {"available": 3_000, "in_flight": 0}
    assert_ledger_invariants()


def test_the_sdks_own_retry_of_a_lost_answer_carries_the_same_key(
    stripe_connect_fake, connected_seller, seller, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_NETWORK_RETRIES = 1
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    stripe_connect_fake.lose_answers = 1

    settlement = withdraw(seller, 2_000, django_capture_on_commit_callbacks)

    assert settlement.status == SettlementStatus.PAID
    assert len(stripe_connect_fake.transfers) == 1
    assert transfer_keys(stripe_connect_fake) == [f"settlement-{settlement.public_id}"] * 2
    assert_ledger_invariants()


def test_a_platform_balance_too_short_is_retried_later_with_staff_told_once(
    stripe_connect_fake, connected_seller, seller, admin_user, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    stripe_connect_fake.available["usd"] = 1_500

    settlement = withdraw(seller, 2_000, django_capture_on_commit_callbacks)

    assert settlement.status == SettlementStatus.SCHEDULED
    assert BALANCE_INSUFFICIENT in settlement.last_error
    assert stripe_connect_fake.transfers == {}
    assert balances_for_user(seller)["USD"] == {"available": 3_000, "in_flight": 2_000}
    notices = told("settlement.held_up")
    staff = notices["admin@example.test"]
    assert staff.subject == "Stripe transfer of 20.00 USD held up: the platform's Stripe balance is short"
    assert BALANCE_INSUFFICIENT in staff.body_text
    assert staff.url == f"/admin/escrows/settlement/{settlement.pk}/change/"
    assert notices["seller@example.test"].subject == "Your payout of 20.00 USD is delayed"

    # Still short: retried again, staff are not told twice.
    outcome = services.settlement_process(settlement_id=settlement.pk)
    assert outcome.status == SettlementStatus.SCHEDULED and outcome.retry_in is not None
    assert Event.objects.filter(kind="settlement.held_up").count() == 1

    # Pending funds became available: the next attempt pays, with a key Stripe has not refused.
    stripe_connect_fake.available["usd"] = 100_000
    assert services.settlement_process(settlement_id=settlement.pk).status == SettlementStatus.PAID
    assert len(stripe_connect_fake.transfers) == 1
    key = f"settlement-{settlement.public_id}"
    assert transfer_keys(stripe_connect_fake) == [key, f"{key}-after-refusal-1", f"{key}-after-refusal-2"]
    assert balances_for_user(seller)["USD"] == {"available": 3_000, "in_flight": 0}
    assert_ledger_invariants()


def test_a_transfer_stripe_refuses_for_good_gives_the_money_back_at_once(
    stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    stripe_connect_fake.accounts[connected_seller.account_id]["capabilities"]["transfers"] = "inactive"

    settlement = withdraw(seller, 2_000, django_capture_on_commit_callbacks)

    assert settlement.status == SettlementStatus.FAILED
    assert settlement.attempts == 1
    assert settlement.last_error.startswith("Stripe refused the transfer: Your destination account needs")
    assert balances_for_user(seller)["USD"] == {"available": 5_000, "in_flight": 0}
    assert nobody_told("settlement.held_up")
    assert told("settlement.failed")["seller@example.test"].subject == (
        "Payout of 20.00 USD failed: the money is back in your balance"
    )
    assert_ledger_invariants()


def test_a_connected_account_that_lost_its_payouts_cannot_withdraw(
    client, stripe_connect_fake, connected_seller, seller
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    StripeAccount.objects.filter(pk=connected_seller.pk).update(payouts_enabled=False)
    with pytest.raises(InvalidState, match="payouts enabled is required"):
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="")
