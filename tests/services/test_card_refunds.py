"""Money given back to a buyer who paid by card through Stripe becomes a Stripe Refund of that
amount (never the fee), recorded with the ledger posting that gave it back and sent after the
commit with its own idempotency key: against a local Stripe-compatible server with Refunds."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from core.errors import InvalidState
from escrows import services, stripe_refunds, tasks
from escrows.models import (
    AccountKind,
    CardPaymentStatus,
    DisputeOutcome,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    StripeRefund,
    StripeRefundPurpose,
    StripeRefundStatus,
    TransactionKind,
)
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.notifications.helpers import nobody_told, told
from tests.stripe_fake import browser_confirm
from tests.stripe_refunds_fake import started

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    fake = started(settings)
    yield fake
    fake.stop()


def paid_by_stripe(fake, seller, buyer, parts=(30_000, 50_000, 20_000)):
    """An escrow funded by the buyer's card through Stripe (amount + fee, one PaymentIntent)."""
    escrow = make_escrow(seller, parts=parts)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    services.card_payment_refresh(card_payment=card_payment)
    assert refresh(card_payment).status == CardPaymentStatus.SUCCEEDED
    return refresh(escrow), refresh(card_payment)


def refunds_at_stripe(fake):
    return sorted(r["amount"] for r in fake.refunds.values())


def refund_posts(fake):
    return [r for r in fake.requests if r[:2] == ("POST", "/v1/refunds")]


def external_refunds():
    """What the ledger says went out to cards (the outside world's accounts keep no running balance)."""
    entries = LedgerEntry.objects.filter(account__kind=AccountKind.EXTERNAL_REFUNDS, account__currency="USD")
    return entries.aggregate(total=Sum("amount"))["total"] or 0


def test_a_seller_refund_becomes_one_stripe_refund_of_the_amount_without_the_fee(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)

    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)

    [refund] = StripeRefund.objects.all()
    [posting] = LedgerTransaction.objects.filter(kind=TransactionKind.REFUND)
    assert (refund.amount, refund.currency, refund.purpose) == (100_000, "USD", StripeRefundPurpose.ESCROW)
    assert refund.ledger_transaction == posting and refund.card_payment == card_payment
    assert refund.status == StripeRefundStatus.SUCCEEDED and refund.attempts == 1
    [stripe_refund] = fake.refunds.values()
    assert refund.provider_reference == stripe_refund["id"]
    assert stripe_refund["payment_intent"] == card_payment.provider_reference
    assert stripe_refund["amount"] == 100_000  # the fee (1,500) stays: the fee is not refunded
    assert stripe_refund["metadata"] == {
        "escrow": escrow.public_id,
        "payment": card_payment.public_id,
        "refund": refund.public_id,
    }
    [(_, _, _, headers)] = refund_posts(fake)
    assert headers["idempotency-key"] == f"refund-{refund.public_id}"
    assert external_refunds() == 100_000
    [notice] = told("card_refund.succeeded").values()
    assert notice.recipient == buyer
    assert notice.subject == "1,000.00 USD is back on your card"
    assert "the card you paid with" in notice.body_text
    assert_ledger_invariants()


def test_a_stage_refund_refunds_that_part_of_the_charge(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    first, second, _ = milestones(escrow)

    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[second])
    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[first])

    assert refunds_at_stripe(fake) == [30_000, 50_000]
    charge = fake.charge_of(refresh(escrow).card_payments.get().provider_reference)
    assert (charge["amount_refunded"], charge["refunded"]) == (80_000, False)
    assert sorted(StripeRefund.objects.values_list("amount", "status")) == [
        (30_000, StripeRefundStatus.SUCCEEDED),
        (50_000, StripeRefundStatus.SUCCEEDED),
    ]
    # Each refund names the posting that gave its stage back.
    for refund in StripeRefund.objects.select_related("ledger_transaction"):
        assert refund.ledger_transaction.milestone.amount == refund.amount
    assert_ledger_invariants()


def test_a_dispute_split_refunds_only_the_buyers_part(
    fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    second = milestones(escrow)[1]
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="half of it is missing")

    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_resolve(
            dispute=dispute,
            by=admin_user,
            outcome=DisputeOutcome.SPLIT,
            seller_amount=20_000,
            buyer_amount=30_000,
        )

    assert refunds_at_stripe(fake) == [30_000]
    [refund] = StripeRefund.objects.all()
    assert refund.ledger_transaction.kind == TransactionKind.SPLIT
    assert refund.status == StripeRefundStatus.SUCCEEDED
    assert_ledger_invariants()


def test_a_cancellation_refunds_the_buyers_share(fake, seller, buyer, django_capture_on_commit_callbacks):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.cancellation_accept(proposal=proposal, by=seller)

    assert refunds_at_stripe(fake) == [60_000]
    assert StripeRefund.objects.get().ledger_transaction.kind == TransactionKind.CANCELLATION
    assert_ledger_invariants()


def test_an_escrow_paid_from_a_wallet_makes_no_stripe_refund(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller)
    fund(escrow, buyer)

    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)

    assert not StripeRefund.objects.exists() and not refund_posts(fake)
    assert LedgerAccount.objects.get(kind=AccountKind.CUSTOMER_MAIN, owner=buyer).balance == 100_000
    assert_ledger_invariants()


def test_a_refund_whose_answer_was_lost_is_asked_again_with_the_same_key_and_made_once(
    fake, settings, seller, buyer, django_capture_on_commit_callbacks
):
    settings.STRIPE_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 0.3
    fake.lose_refund_answers, fake.hang_seconds = 1, 1.0
    escrow, _ = paid_by_stripe(fake, seller, buyer)

    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)

    # Stripe made the refund, but its answer never came: ours waits for its next attempt.
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.PENDING and refund.attempts == 1
    assert refund.provider_reference == "" and refund.last_error
    assert refund.next_attempt_at > timezone.now()
    assert len(fake.refunds) == 1
    # Not due yet: a run now leaves it alone.
    assert services.card_refund_process(refund_id=refund.pk).status == StripeRefundStatus.PENDING
    assert len(refund_posts(fake)) == 1

    StripeRefund.objects.filter(pk=refund.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.run_timers()

    refund = refresh(refund)
    assert counts["card_refunds_sent"] == 1
    assert refund.status == StripeRefundStatus.SUCCEEDED and refund.attempts == 2
    [made] = fake.refunds.values()
    assert refund.provider_reference == made["id"]
    keys = {headers["idempotency-key"] for *_, headers in refund_posts(fake)}
    assert len(refund_posts(fake)) == 2 and keys == {f"refund-{refund.public_id}"}
    # The same key asked once more is answered with the same refund, never a second one.
    again = stripe_refunds.refund_create(refund, payment_intent=made["payment_intent"])
    assert again.refund["id"] == made["id"] and len(fake.refunds) == 1
    assert_ledger_invariants()


def test_a_refund_stripe_refuses_fails_at_once_and_staff_are_told(
    fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    # Someone gave most of the charge back in Stripe's dashboard meanwhile.
    fake.refund(card_payment.provider_reference, 60_000)
    second = milestones(escrow)[1]

    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[second])

    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.FAILED and refund.attempts == 1
    assert refund.last_error == (
        "Refund amount ($500.00) is greater than unrefunded amount on charge ($415.00) (amount_too_large)"
    )
    assert refunds_at_stripe(fake) == [60_000]
    # The ledger gave the stage back in the same transaction as the refund was recorded.
    assert refund.ledger_transaction.kind == TransactionKind.REFUND
    [notice] = told("card_refund.failed").values()
    assert notice.recipient == admin_user and notice.action_required
    assert notice.subject == "Card refund of 500.00 USD failed: the buyer is still owed it"
    assert "Refund amount ($500.00) is greater than unrefunded amount" in notice.body_text
    assert notice.url == f"/admin/escrows/striperefund/{refund.pk}/change/"
    assert buyer.email not in told("card_refund.failed")
    assert_ledger_invariants()


def test_a_refund_stripe_will_not_take_from_us_is_retried_then_fails_after_its_attempts(
    fake, settings, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    settings.STRIPE_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 0.3
    settings.ESCROW_SETTLEMENT_MAX_ATTEMPTS = 2
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    fake.api_key = "sk_test_other"  # Stripe refuses our key until it is put right

    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.PENDING and refund.attempts == 1
    assert refund.last_error.startswith("Invalid API Key provided")
    StripeRefund.objects.filter(pk=refund.pk).update(next_attempt_at=timezone.now())
    services.card_refund_process(refund_id=refund.pk)

    refund = refresh(refund)
    assert refund.status == StripeRefundStatus.FAILED and refund.attempts == 2
    assert refund.next_attempt_at is None
    [notice] = told("card_refund.failed").values()
    assert notice.recipient == admin_user

    # Staff send it again once the key is right: the same key, and it goes through.
    fake.api_key = "sk_test_local"
    with django_capture_on_commit_callbacks(execute=True):
        services.card_refund_retry(refund=refund, by=admin_user)
    refund = refresh(refund)
    assert refund.status == StripeRefundStatus.SUCCEEDED
    assert refunds_at_stripe(fake) == [100_000]
    assert_ledger_invariants()


def test_a_payment_set_aside_is_given_back_whole_by_the_next_sweep(
    fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    fund(escrow, buyer)  # paid from the wallet meanwhile
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    card_payment = services.card_payment_refresh(card_payment=card_payment)
    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    held_before = LedgerAccount.objects.get(kind=AccountKind.ESCROW_HOLD, escrow=escrow).balance

    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.run_timers()

    assert counts["card_payments_given_back"] == 1
    assert refresh(card_payment).status == CardPaymentStatus.REFUNDED
    [refund] = StripeRefund.objects.all()
    assert (refund.purpose, refund.amount, refund.status) == (
        StripeRefundPurpose.NOT_APPLIED,
        101_500,
        StripeRefundStatus.SUCCEEDED,
    )
    assert refund.reason == "The escrow was already paid or closed"
    assert refunds_at_stripe(fake) == [101_500]  # the whole charge, fee included
    posting = refund.ledger_transaction
    assert posting.kind == TransactionKind.CARD_GIVEN_BACK and posting.escrow is None
    assert sorted((e.account.kind, e.amount) for e in posting.entries.select_related("account")) == [
        (AccountKind.EXTERNAL_FUNDING, -101_500),
        (AccountKind.EXTERNAL_REFUNDS, 101_500),
    ]
    assert LedgerAccount.objects.get(kind=AccountKind.ESCROW_HOLD, escrow=escrow).balance == held_before
    notices = told("card_payment.given_back")
    assert (
        notices[buyer.email].subject
        == "Your card payment of 1,015.00 USD for “Website build” is being given back"
    )
    assert "The escrow was already paid or closed" in notices[buyer.email].body_text
    assert notices[admin_user.email].url == f"/admin/escrows/striperefund/{refund.pk}/change/"

    before = ledger_fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.run_timers()
    assert again["card_payments_given_back"] == 0 and again["card_refunds_sent"] == 0
    assert ledger_fingerprint() == before and StripeRefund.objects.count() == 1
    assert_ledger_invariants()


def test_only_a_payment_set_aside_can_be_given_back(fake, seller, buyer):
    _, card_payment = paid_by_stripe(fake, seller, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="Only a card payment the escrow could not take") as refused:
        services.card_payment_give_back(card_payment=card_payment, by=None)
    assert refused.value.code == "card_payment_not_set_aside"
    assert ledger_fingerprint() == before and not StripeRefund.objects.exists()
    assert nobody_told("card_payment.given_back")
