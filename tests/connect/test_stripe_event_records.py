"""What a reversed transfer and a failed bank payout leave behind: the event each records (what
Stripe said, word for word where the person reads it), the escrow a reversal belongs to, each
payout given back only its own reversal, a reversal arriving before our record of its transfer
refused in words until that record is written, and the log line an operator reads when an
event names a payout that is not ours (or one paid by another transfer)."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from escrows import services
from escrows.models import (
    Escrow,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Settlement,
    SettlementMethod,
    SettlementStatus,
    TransactionKind,
)
from escrows.selectors import balances_for_user
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.notifications.helpers import nobody_told, told
from tests.stripe_fake import deliver

pytestmark = pytest.mark.django_db

CONNECT_LOG = "escrows.services.connect"


def withdrawn(seller, amount, capture, *, pay=True):
    """The seller withdraws; with `pay` the transfer is made after the commit, as the worker would."""
    with capture(execute=pay):
        services.wallet_withdraw(customer=seller, amount=amount, currency="USD", destination="")
    return Settlement.objects.order_by("-pk").first()


def given_back(settlement) -> list[int]:
    return list(
        LedgerEntry.objects.filter(
            transaction__settlement=settlement,
            transaction__kind=TransactionKind.PAYOUT_RETURN,
            account__kind="CUSTOMER_MAIN",
        ).values_list("amount", flat=True)
    )


def read_by_itself(queries, model) -> int:
    """How many of the queries read this model's table by itself (not joined to another's)."""
    return sum(f'FROM "{model._meta.db_table}"' in q["sql"] for q in queries.captured_queries)


def connect_log(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == CONNECT_LOG]


@pytest.fixture
def released(stripe_connect_fake, connected_seller, seller, buyer, django_capture_on_commit_callbacks):
    """The first stage (300.00 USD) of an escrow released to the connected seller, transferred."""
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    settlement = Settlement.objects.get()
    assert (settlement.status, settlement.escrow, settlement.amount) == (
        SettlementStatus.PAID,
        escrow,
        30_000,
    )
    return settlement


# -- transfer.reversed ----------------------------------------------------------------------


def test_a_reversal_records_its_amount_currency_and_transfer_on_the_escrow_it_was_paid_from(
    client, stripe_connect_fake, seller, admin_user, released
):
    event = stripe_connect_fake.reverse_transfer(released.provider_reference)

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    [record] = Event.objects.filter(kind="settlement.reversed")
    assert record.details == {"amount": 30_000, "currency": "USD", "transfer": released.provider_reference}
    assert (record.escrow, record.settlement, record.customer) == (released.escrow, released, seller)
    [txn] = LedgerTransaction.objects.filter(settlement=released, kind=TransactionKind.PAYOUT_RETURN)
    assert txn.escrow == released.escrow
    assert given_back(released) == [30_000]
    staff = told("settlement.reversed")["admin@example.test"]
    assert f"Stripe reversed 300.00 USD of the transfer {released.provider_reference} to" in staff.body_text
    assert_ledger_invariants()


def test_each_payout_is_given_back_its_own_reversal(
    client, stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    first = withdrawn(seller, 2_000, django_capture_on_commit_callbacks)
    second = withdrawn(seller, 1_500, django_capture_on_commit_callbacks)
    assert first != second and first.status == second.status == SettlementStatus.PAID

    # The later payout's transfer is reversed first; then the earlier one's.
    deliver(client, stripe_connect_fake, stripe_connect_fake.reverse_transfer(second.provider_reference))
    deliver(client, stripe_connect_fake, stripe_connect_fake.reverse_transfer(first.provider_reference))

    assert (given_back(first), given_back(second)) == ([2_000], [1_500])
    assert balances_for_user(seller)["USD"] == {"available": 5_000, "in_flight": 0}
    assert sorted(e.details["transfer"] for e in Event.objects.filter(kind="settlement.reversed")) == sorted(
        [first.provider_reference, second.provider_reference]
    )
    assert_ledger_invariants()


def test_a_reversal_of_one_minor_unit_comes_back(
    client, stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    paid = withdrawn(seller, 2_000, django_capture_on_commit_callbacks)

    deliver(
        client, stripe_connect_fake, stripe_connect_fake.reverse_transfer(paid.provider_reference, amount=1)
    )

    assert given_back(paid) == [1]
    assert balances_for_user(seller)["USD"]["available"] == 3_001
    assert told("settlement.reversed")["seller@example.test"].subject == (
        "0.01 USD came back to your balance: Stripe reversed a transfer"
    )


def test_a_reversal_that_does_not_say_how_much_gives_nothing_back(
    client, stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    paid = withdrawn(seller, 2_000, django_capture_on_commit_callbacks)
    event = stripe_connect_fake.reverse_transfer(paid.provider_reference)
    del event["data"]["object"]["amount_reversed"]
    before = ledger_fingerprint()

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    assert ledger_fingerprint() == before
    assert nobody_told("settlement.reversed")


def test_a_reversal_before_our_record_of_its_transfer_is_refused_in_words_until_it_is_written(
    client, stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    stripe_connect_fake.lose_answers = 1  # Stripe makes the transfer; its answer never arrives
    settlement = withdrawn(seller, 2_000, django_capture_on_commit_callbacks)
    assert settlement.status == SettlementStatus.SCHEDULED
    [transfer_id] = stripe_connect_fake.transfers
    event = stripe_connect_fake.reverse_transfer(transfer_id)

    early = deliver(client, stripe_connect_fake, event)

    assert (early.status_code, early.json()) == (
        409,
        {"error": "This transfer is not recorded as paid yet", "code": "transfer_not_recorded"},
    )
    assert given_back(settlement) == []

    # Our record of the transfer is written; Stripe sends the event again.
    assert services.settlement_process(settlement_id=settlement.pk).status == SettlementStatus.PAID
    assert refresh(settlement).provider_reference == transfer_id
    again = deliver(client, stripe_connect_fake, event)

    assert (again.status_code, again.json()["duplicate"]) == (200, False)
    assert given_back(settlement) == [2_000]
    assert_ledger_invariants()


def test_a_reversal_not_ours_is_logged_with_its_transfer(
    client, stripe_connect_fake, connected_seller, caplog
):
    stripe_connect_fake._transfer(
        {"amount": "900", "currency": "usd", "destination": connected_seller.account_id}
    )
    [transfer_id] = stripe_connect_fake.transfers
    event = stripe_connect_fake.reverse_transfer(transfer_id)
    before = ledger_fingerprint()

    with caplog.at_level(logging.INFO, logger=CONNECT_LOG):
        assert deliver(client, stripe_connect_fake, event).status_code == 200

    assert connect_log(caplog) == [
        (logging.INFO, f"Stripe transfer {transfer_id} reversed: not one of our settlements")
    ]
    assert ledger_fingerprint() == before


def test_a_reversal_whose_metadata_is_not_an_object_is_not_ours(
    client, stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks, caplog
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    paid = withdrawn(seller, 2_000, django_capture_on_commit_callbacks)
    event = stripe_connect_fake.reverse_transfer(paid.provider_reference)
    event["data"]["object"]["metadata"] = paid.public_id
    before = ledger_fingerprint()

    with caplog.at_level(logging.INFO, logger=CONNECT_LOG):
        answer = deliver(client, stripe_connect_fake, event)

    assert (answer.status_code, answer.json()["duplicate"]) == (200, False)
    assert connect_log(caplog) == [
        (logging.INFO, f"Stripe transfer {paid.provider_reference} reversed: not one of our settlements")
    ]
    assert ledger_fingerprint() == before
    assert nobody_told("settlement.reversed")


def test_a_reversal_naming_a_payout_not_made_by_stripe_transfer_is_not_ours(
    client,
    stripe_connect_fake,
    connected_seller,
    seller,
    settings,
    django_capture_on_commit_callbacks,
    caplog,
):
    # A payout through the off-ramp, not sent yet; a transfer made in Stripe's dashboard names it.
    settings.STRIPE_CONNECT = False
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=False):
        services.wallet_withdraw(customer=seller, amount=2_000, currency="USD", destination="iban-8")
    off_ramp = Settlement.objects.get()
    assert (off_ramp.method, off_ramp.status) == (SettlementMethod.OFF_RAMP_MOCK, SettlementStatus.SCHEDULED)
    settings.STRIPE_CONNECT = True
    stripe_connect_fake._transfer(
        {
            "amount": "2000",
            "currency": "usd",
            "destination": connected_seller.account_id,
            "metadata": {"settlement": off_ramp.public_id},
        }
    )
    [transfer_id] = stripe_connect_fake.transfers
    event = stripe_connect_fake.reverse_transfer(transfer_id)
    before = ledger_fingerprint()

    with caplog.at_level(logging.INFO, logger=CONNECT_LOG):
        answer = deliver(client, stripe_connect_fake, event)

    assert (answer.status_code, answer.json()["duplicate"]) == (200, False)
    assert connect_log(caplog) == [
        (logging.INFO, f"Stripe transfer {transfer_id} reversed: not one of our settlements")
    ]
    assert ledger_fingerprint() == before


def test_a_reversal_of_another_transfer_naming_our_payout_is_logged_and_left(
    client, stripe_connect_fake, connected_seller, seller, django_capture_on_commit_callbacks, caplog
):
    services.wallet_topup(customer=seller, amount=5_000, currency="USD")
    paid = withdrawn(seller, 2_000, django_capture_on_commit_callbacks)
    # A second transfer made in Stripe's dashboard, with our payout's metadata copied onto it.
    stripe_connect_fake._transfer(
        {
            "amount": "2000",
            "currency": "usd",
            "destination": connected_seller.account_id,
            "metadata": {"settlement": paid.public_id},
        }
    )
    [other] = set(stripe_connect_fake.transfers) - {paid.provider_reference}
    event = stripe_connect_fake.reverse_transfer(other)
    before = ledger_fingerprint()

    with caplog.at_level(logging.INFO, logger=CONNECT_LOG):
        assert deliver(client, stripe_connect_fake, event).status_code == 200

    assert connect_log(caplog) == [
        (logging.WARNING, f"Stripe transfer {other} reversed: settlement {paid.public_id} paid by another")
    ]
    assert ledger_fingerprint() == before
    assert nobody_told("settlement.reversed")


def test_a_reversal_reads_its_payout_escrow_and_person_in_one_query(stripe_connect_fake, released):
    event = stripe_connect_fake.reverse_transfer(released.provider_reference)

    with CaptureQueriesContext(connection) as queries:
        services.stripe_event_handle(event_id=event["id"], kind=event["type"], obj=event["data"]["object"])

    assert (read_by_itself(queries, Escrow), read_by_itself(queries, User)) == (0, 0)
    assert given_back(released) == [30_000]


# -- payout.failed --------------------------------------------------------------------------


def test_a_failed_payout_records_what_stripe_said(client, stripe_connect_fake, connected_seller):
    event = stripe_connect_fake.fail_payout(connected_seller.account_id, 2_000)
    payout = event["data"]["object"]

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    [record] = Event.objects.filter(kind="stripe_account.payout_failed")
    assert record.details == {
        "account": connected_seller.account_id,
        "payout": payout["id"],
        "amount": 2_000,
        "stripeAmount": 2_000,
        "currency": "USD",
        "reason": "The bank account has been closed.",
        "failureCode": "account_closed",
    }
    assert record.customer == connected_seller.customer


def test_a_failed_payout_stripe_sends_without_amount_currency_or_reasons_is_still_told(
    client, stripe_connect_fake, connected_seller, seller
):
    event = stripe_connect_fake.fail_payout(connected_seller.account_id, 2_000)
    payout = event["data"]["object"]
    for name in ("amount", "currency", "failure_message", "failure_code"):
        del payout[name]

    assert deliver(client, stripe_connect_fake, event).status_code == 200

    [record] = Event.objects.filter(kind="stripe_account.payout_failed")
    assert record.details == {
        "account": connected_seller.account_id,
        "payout": payout["id"],
        "amount": None,
        "stripeAmount": 0,
        "currency": "",
        "reason": "",
        "failureCode": "",
    }
    notice = told("stripe_account.payout_failed")["seller@example.test"]
    assert notice.subject == "Stripe could not pay 0 to your bank"
    assert "to your bank failed: Your bank did not accept it." in notice.body_text


def test_a_failed_payout_reads_its_account_and_person_in_one_query(stripe_connect_fake, connected_seller):
    event = stripe_connect_fake.fail_payout(connected_seller.account_id, 2_000)

    with CaptureQueriesContext(connection) as queries:
        services.stripe_event_handle(
            event_id=event["id"],
            kind=event["type"],
            obj=event["data"]["object"],
            account=connected_seller.account_id,
        )

    assert read_by_itself(queries, User) == 0
    [record] = Event.objects.filter(kind="stripe_account.payout_failed")
    assert record.customer == connected_seller.customer
