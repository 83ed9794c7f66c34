"""Paying an escrow by card through Stripe, against a local Stripe-compatible server: a payment
starts as one PaymentIntent for amount + fee, funds the escrow once when Stripe says it
succeeded, and a declined card leaves the escrow unpaid."""

import pytest
import stripe

from core.errors import Forbidden, InvalidRequest, InvalidState
from escrows import services, stripe_api
from escrows.models import (
    AccountKind,
    CardPayment,
    CardPaymentStatus,
    EscrowStatus,
    FundingSource,
    LedgerAccount,
    LedgerTransaction,
    Payment,
)
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, refresh
from tests.notifications.helpers import told
from tests.stripe_fake import browser_confirm

pytestmark = pytest.mark.django_db


def held(escrow) -> int:
    return LedgerAccount.objects.get(kind=AccountKind.ESCROW_HOLD, escrow=escrow).balance


def test_a_card_payment_starts_as_one_payment_intent_for_amount_plus_fee(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    started = services.card_payment_start(escrow=escrow, by=buyer)

    [intent] = stripe_fake.intents.values()
    card_payment = started.card_payment
    assert card_payment.provider_reference == intent["id"]
    assert started.client_secret == intent["client_secret"]
    assert (intent["amount"], intent["currency"], intent["capture_method"]) == (101_500, "usd", "automatic")
    assert intent["transfer_group"] == escrow.public_id
    assert intent["metadata"] == {"escrow": escrow.public_id, "payment": card_payment.public_id}
    [(_, _, _, headers)] = [r for r in stripe_fake.requests if r[0] == "POST"]
    assert headers["idempotency-key"] == f"card-payment-{card_payment.public_id}"
    assert headers["authorization"] == "Bearer sk_test_local"
    assert "application/x-www-form-urlencoded" in headers["content-type"]
    # Nothing is paid until the buyer's card is confirmed.
    assert card_payment.status == CardPaymentStatus.PENDING
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert ledger_fingerprint() == before


def test_starting_again_continues_the_same_payment(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    first = services.card_payment_start(escrow=escrow, by=buyer)
    again = services.card_payment_start(escrow=escrow, by=buyer)
    assert again.card_payment.pk == first.card_payment.pk
    assert again.client_secret == first.client_secret
    assert len(stripe_fake.intents) == 1
    assert CardPayment.objects.count() == 1


def test_a_retried_create_with_the_same_key_does_not_create_a_second_payment_intent(
    stripe_fake, seller, buyer
):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    # The answer to the first create was lost (a timeout): asking again is answered with it.
    again = stripe_api.payment_intent_create(card_payment, escrow)
    assert again["id"] == card_payment.provider_reference
    assert len(stripe_fake.intents) == 1
    # The same key for another amount is Stripe's idempotency error, never a second charge.
    card_payment.fee += 1
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        stripe_api.payment_intent_create(card_payment, escrow)
    assert len(stripe_fake.intents) == 1


def test_a_succeeded_payment_funds_the_escrow_once_with_the_card_charge(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")

    services.card_payment_refresh(card_payment=card_payment)
    services.card_payment_refresh(card_payment=card_payment)

    escrow = refresh(escrow)
    assert escrow.status == EscrowStatus.OPENED and escrow.buyer == buyer
    payment = Payment.objects.get(escrow=escrow)
    assert (payment.public_id, payment.source) == (card_payment.public_id, FundingSource.CARD)
    assert payment.gateway_reference == card_payment.provider_reference
    assert (payment.amount, payment.fee) == (100_000, 1_500)
    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    [funding] = LedgerTransaction.objects.filter(kind="FUNDING")
    assert funding.memo == card_payment.public_id
    assert sorted((e.account.kind, e.amount) for e in funding.entries.select_related("account")) == [
        (AccountKind.ESCROW_HOLD, 100_000),
        (AccountKind.EXTERNAL_FUNDING, -101_500),
        (AccountKind.PLATFORM_FEES, 1_500),
    ]
    assert held(escrow) == 100_000
    assert_ledger_invariants()


def test_a_declined_card_leaves_the_escrow_unpaid_and_tells_the_buyer_why(stripe_fake, seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    before = ledger_fingerprint()
    with pytest.raises(stripe.CardError, match="insufficient funds"):
        browser_confirm(
            stripe_fake, card_payment.provider_reference, "pm_card_chargeDeclinedInsufficientFunds"
        )

    card_payment = services.card_payment_refresh(card_payment=card_payment)

    assert card_payment.status == CardPaymentStatus.DECLINED
    assert (card_payment.decline_reason, card_payment.decline_code) == (
        "Your card has insufficient funds.",
        "insufficient_funds",
    )
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert not Payment.objects.exists()
    assert ledger_fingerprint() == before
    [notice] = told("card_payment.declined").values()
    assert notice.recipient == buyer
    assert notice.subject == "Your card payment for “Website build” did not go through"
    assert "1,015.00 USD" in notice.body_text and "Your card has insufficient funds." in notice.body_text
    assert notice.url == f"/escrows/{escrow.public_id}/" and notice.action_required


def test_another_card_after_a_decline_pays_the_same_payment(stripe_fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    with pytest.raises(stripe.CardError, match="declined"):
        browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_chargeDeclined")
    services.card_payment_refresh(card_payment=card_payment)
    again = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    assert again.pk == card_payment.pk
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")

    services.card_payment_refresh(card_payment=card_payment)

    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    assert refresh(escrow).status == EscrowStatus.OPENED
    assert LedgerTransaction.objects.filter(kind="FUNDING").count() == 1
    assert_ledger_invariants()


def test_a_card_charged_after_the_escrow_was_paid_otherwise_is_set_aside_not_applied(
    stripe_fake, seller, buyer
):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    fund(escrow, buyer)
    before = ledger_fingerprint()
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")

    card_payment = services.card_payment_refresh(card_payment=card_payment)

    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    assert Payment.objects.get(escrow=escrow).source == FundingSource.WALLET
    assert ledger_fingerprint() == before
    assert_ledger_invariants()


def test_a_card_payment_started_before_the_terms_changed_does_not_fund_the_new_terms(
    stripe_fake, seller, buyer
):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Website build", currency="USD", amount=200_000),
        milestones=[MilestoneInput(amount=100_000, title="A"), MilestoneInput(amount=100_000, title="B")],
    )
    browser_confirm(stripe_fake, card_payment.provider_reference, "pm_card_visa")

    card_payment = services.card_payment_refresh(card_payment=card_payment)

    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_the_seller_cannot_start_paying_their_own_escrow(stripe_fake, seller):
    escrow = make_escrow(seller)
    with pytest.raises(Forbidden, match="seller cannot pay"):
        services.card_payment_start(escrow=escrow, by=seller)
    assert not stripe_fake.intents and not CardPayment.objects.exists()


def test_card_payments_through_stripe_are_off_without_a_secret_key(settings, seller, buyer):
    settings.STRIPE_SECRET_KEY = ""
    escrow = make_escrow(seller)
    with pytest.raises(InvalidState, match="not configured"):
        services.card_payment_start(escrow=escrow, by=buyer)
    assert not CardPayment.objects.exists()


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [(101_500, "USD", (101_500, "usd")), (15_150, "JPY", (15_150, "jpy")), (1, "EUR", (1, "eur"))],
)
def test_our_minor_units_are_stripes_amount(amount, currency, expected):
    assert stripe_api.stripe_amount(amount, currency) == expected


def test_a_currency_stripe_has_no_code_for_is_refused_before_anything_is_recorded(stripe_fake, seller, buyer):
    assert pytest.raises(InvalidRequest, stripe_api.stripe_amount, 100, "USDC").value.code == (
        "currency_not_supported"
    )
    escrow = make_escrow(seller, currency="USDC")
    with pytest.raises(InvalidRequest, match="not available in USDC"):
        services.card_payment_start(escrow=escrow, by=buyer)
    assert not stripe_fake.intents and not CardPayment.objects.exists()
