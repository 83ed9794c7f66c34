"""A payment leaves an exact record: the payment row, the funding's ledger rows, the time the
escrow was funded and the event (the audit trail and the webhook payload) in full; each refusal
tells the payer exactly why, and a top-up is recorded as well."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import timezone

from core import errors
from core.errors import Conflict, Forbidden, InvalidRequest, InvalidState, PaymentFailed, TermsChanged
from escrows import hot, services
from escrows.models import (
    AccountKind,
    Escrow,
    EscrowStatus,
    Event,
    LedgerEntry,
    LedgerTransaction,
    Payment,
)
from escrows.providers import MockCardGateway
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, at, fund, ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


def record(event):
    return {
        "kind": event.kind,
        "escrow": event.escrow_id,
        "customer": event.customer_id,
        "actor": event.actor_id,
        "actor_kind": event.actor_kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "details": event.details,
    }


def refusal(exc_type, call):
    with pytest.raises(exc_type) as exc:
        call()
    return exc.value.message, exc.value.code, exc.value.field


def postings(transaction):
    return sorted(
        (e.account.kind, e.account.owner_id, e.account.escrow_id, e.amount)
        for e in LedgerEntry.objects.filter(transaction=transaction).select_related("account")
    )


def test_a_wallet_payment_is_recorded_in_full(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=101_500, currency="USD")
    now = timezone.now()
    with at(now):
        payment = services.escrow_fund(escrow=escrow, by=buyer, reference="  order-7  ")
    payment = Payment.objects.get(pk=payment.pk)
    assert (
        payment.escrow_id,
        payment.payer_id,
        payment.source,
        payment.reference,
        payment.amount,
        payment.fee,
        payment.currency,
        payment.terms_version,
        payment.gateway_reference,
    ) == (escrow.pk, buyer.pk, "WALLET", "order-7", 100_000, 1_500, "USD", escrow.terms_version, "")
    funded = refresh(escrow)
    assert (funded.status, funded.buyer_id, funded.funded_at) == (EscrowStatus.OPENED, buyer.pk, now)
    funding = LedgerTransaction.objects.get(kind="FUNDING")
    assert (funding.escrow_id, funding.memo, funding.currency) == (escrow.pk, payment.public_id, "USD")
    assert postings(funding) == sorted(
        [
            (AccountKind.CUSTOMER_MAIN, buyer.pk, None, -101_500),
            (AccountKind.ESCROW_HOLD, None, escrow.pk, 100_000),
            (AccountKind.PLATFORM_FEES, None, None, 1_500),
        ]
    )
    assert [record(e) for e in Event.objects.filter(escrow=escrow, kind="escrow.funded")] == [
        {
            "kind": "escrow.funded",
            "escrow": escrow.pk,
            "customer": None,
            "actor": buyer.pk,
            "actor_kind": "user",
            "from_status": "AWAITING_PAYMENT",
            "to_status": "OPENED",
            "details": {
                "payment": payment.public_id,
                "source": "WALLET",
                "charged": 101_500,
                "terms_version": escrow.terms_version,
            },
        }
    ]
    assert_ledger_invariants()


def test_without_a_reference_the_payment_is_its_own(seller, buyer):
    escrow = make_escrow(seller)
    payment = fund(escrow, buyer)
    assert payment.reference == payment.public_id


def test_a_card_payment_charges_the_card_with_the_payers_reference(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    with mock.patch.object(MockCardGateway, "charge", autospec=True, return_value="ch_1") as charge:
        payment = services.escrow_fund(
            escrow=escrow, by=buyer, source="CARD", card_token="tok_visa", reference="order-9"
        )
    charge.assert_called_once_with(
        mock.ANY,
        reference=f"{buyer.customer_id}:order-9",
        amount=101_500,
        currency="USD",
        card_token="tok_visa",
    )
    assert Payment.objects.get(pk=payment.pk).gateway_reference == "ch_1"
    assert postings(LedgerTransaction.objects.get(kind="FUNDING")) == sorted(
        [
            (AccountKind.EXTERNAL_FUNDING, None, None, -101_500),
            (AccountKind.ESCROW_HOLD, None, escrow.pk, 100_000),
            (AccountKind.PLATFORM_FEES, None, None, 1_500),
        ]
    )
    assert Event.objects.get(kind="escrow.funded").details["source"] == "CARD"
    assert wallet_balance(buyer, "USD") == 0


def test_card_payments_are_refused_outside_test_mode(settings, seller, buyer):
    settings.ESCROW_TEST_MODE = False
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    assert refusal(
        errors.TestModeOnly, lambda: services.escrow_fund(escrow=escrow, by=buyer, source="CARD")
    ) == (
        "Card payments are not configured",
        "test_mode_only",
        None,
    )
    assert ledger_fingerprint() == before
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("reference", ["", "   ", "r" * 201])
def test_a_reference_of_no_or_too_many_characters_is_refused(seller, buyer, reference):
    escrow = make_escrow(seller)
    call = lambda: services.escrow_fund(escrow=escrow, by=buyer, reference=reference)  # noqa: E731
    assert refusal(InvalidRequest, call) == (
        "reference must be 1 to 200 characters",
        "invalid_request",
        "reference",
    )


def test_a_reference_of_200_characters_is_kept(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    payment = services.escrow_fund(escrow=escrow, by=buyer, reference="r" * 200)
    assert Payment.objects.get(pk=payment.pk).reference == "r" * 200


def test_the_refusals_of_a_payment_are_told_exactly(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer_email="buyer@example.test")
    pay = lambda by, **kw: lambda: services.escrow_fund(escrow=escrow, by=by, **kw)  # noqa: E731
    assert refusal(Forbidden, pay(seller)) == ("The seller cannot pay their own escrow", "forbidden", None)
    assert refusal(Forbidden, pay(stranger)) == (
        "This escrow is reserved for another buyer",
        "forbidden",
        None,
    )
    assert refusal(InvalidRequest, pay(buyer, source="CASH")) == (
        "gateway must be one of: WALLET, CARD",
        "invalid_request",
        "gateway",
    )
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now())
    assert refusal(InvalidState, pay(buyer)) == (
        "This escrow's time to pay ran out and it can no longer be paid",
        "payment_expired",
        None,
    )
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() + timedelta(days=1))
    fund(escrow, buyer)
    assert refusal(InvalidState, pay(buyer)) == ("This escrow is already funded", "already_funded", None)
    Escrow.objects.filter(pk=escrow.pk).update(status=EscrowStatus.CANCELLED)
    assert refusal(InvalidState, pay(buyer)) == (
        "This escrow was cancelled and can no longer be paid",
        "invalid_state",
        None,
    )


def test_terms_changed_since_the_payer_saw_them_are_refused_with_the_new_price(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    shown = refresh(escrow)
    message = (
        "The seller changed the terms of this escrow since you saw them; nothing was charged. "
        "It now costs 1,015.00 USD: review the new terms and pay again."
    )
    for seen in ({"terms_version": shown.terms_version + 1}, {"expected_total": shown.total_charge - 1}):
        call = lambda seen=seen: services.escrow_fund(escrow=escrow, by=buyer, **seen)  # noqa: E731
        assert refusal(TermsChanged, call) == (message, "terms_changed", None)
    assert Payment.objects.count() == 0
    services.escrow_fund(
        escrow=escrow, by=buyer, terms_version=shown.terms_version, expected_total=shown.total_charge
    )
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_a_reference_taken_at_the_same_moment_for_another_escrow_conflicts(seller, buyer):
    """The lookup before the insert missed the other payment (not committed yet); the unique
    constraint catches it and the payer is told the reference is taken."""
    first, second = make_escrow(seller), make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    services.escrow_fund(escrow=first, by=buyer, reference="same")
    real = hot.PAYMENT_BY_REFERENCE.first
    calls = []

    def racing(*args):
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    with mock.patch.object(hot.PAYMENT_BY_REFERENCE, "first", side_effect=racing):
        assert refusal(Conflict, lambda: services.escrow_fund(escrow=second, by=buyer, reference="same")) == (
            "This payment reference was already used for another payment",
            "duplicate_reference",
            None,
        )
    assert calls == [(buyer.pk, "same"), (buyer.pk, "same")]
    assert refresh(second).status == EscrowStatus.AWAITING_PAYMENT


def test_a_unique_failure_that_is_no_reference_is_not_hidden(seller, buyer):
    escrow = make_escrow(seller)
    services.wallet_topup(customer=buyer, amount=500_000, currency="USD")
    with (
        mock.patch.object(hot.INSERT_PAYMENT, "create", side_effect=IntegrityError("boom")),
        pytest.raises(IntegrityError),
    ):
        services.escrow_fund(escrow=escrow, by=buyer, reference="order-1")
    with (
        mock.patch.object(hot.INSERT_PAYMENT, "create", side_effect=IntegrityError("boom")),
        pytest.raises(IntegrityError),
    ):
        services.escrow_fund(escrow=escrow, by=buyer)


def test_a_top_up_is_recorded_and_returns_the_balance(buyer):
    assert services.wallet_topup(customer=buyer, amount=700, currency="usd") == 700
    assert services.wallet_topup(customer=buyer, amount=300, currency="USD") == 1_000
    topups = LedgerTransaction.objects.filter(kind="TOPUP").order_by("id")
    assert [(t.memo, t.currency) for t in topups] == [("test-mode deposit", "USD")] * 2
    assert postings(topups[0]) == sorted(
        [(AccountKind.EXTERNAL_FUNDING, None, None, -700), (AccountKind.CUSTOMER_MAIN, buyer.pk, None, 700)]
    )
    assert [record(e) for e in Event.objects.filter(kind="wallet.topped_up")][0] == {
        "kind": "wallet.topped_up",
        "escrow": None,
        "customer": buyer.pk,
        "actor": buyer.pk,
        "actor_kind": "user",
        "from_status": "",
        "to_status": "",
        "details": {"amount": 700, "currency": "USD"},
    }
    assert_ledger_invariants()


def test_a_top_up_outside_test_mode_is_refused_and_told(settings, buyer):
    settings.ESCROW_TEST_MODE = False
    assert refusal(
        errors.TestModeOnly, lambda: services.wallet_topup(customer=buyer, amount=100, currency="USD")
    ) == (
        "Top-ups from a mock deposit are only available in test mode",
        "test_mode_only",
        None,
    )
    assert not LedgerTransaction.objects.exists()


def test_a_card_payment_without_a_card_is_refused_and_charges_nothing(seller, buyer):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    assert refusal(PaymentFailed, lambda: services.escrow_fund(escrow=escrow, by=buyer, source="CARD")) == (
        "A card token is required for card payments",
        "card_required",
        None,
    )
    assert ledger_fingerprint() == before
    assert Payment.objects.count() == 0
