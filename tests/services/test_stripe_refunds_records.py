"""What money going back to a card through Stripe records: a payment set aside given back (who
gave it back, why, the posting), a refund sent again by staff (afresh, with its attempts back to
none), and each answer from Stripe (the events, the attempts and when the next one is due),
against the local Stripe-compatible server with Refunds."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidState, NotFound
from escrows import services, stripe_refunds
from escrows.models import (
    CardPayment,
    CardPaymentStatus,
    Event,
    StripeRefund,
    StripeRefundStatus,
)
from escrows.services import CardRefundOutcome
from escrows.services.settlements import settlement_backoff
from tests.helpers import at, fund, make_escrow, milestones, refresh, refusal
from tests.stripe_fake import StripeError, browser_confirm, deliver
from tests.stripe_refunds_fake import StripeRefundsFake, started

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    fake = started(settings)
    yield fake
    fake.stop()


def event_row(kind):
    [event] = Event.objects.filter(kind=kind)
    return event


def last_event(kind):
    return Event.objects.filter(kind=kind).order_by("-id").first()


def set_aside(fake, seller, buyer):
    """A card payment the escrow could not take: the escrow was paid from the wallet meanwhile."""
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    fund(escrow, buyer)
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    card_payment = services.card_payment_refresh(card_payment=card_payment)
    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    return escrow, card_payment


def paid_by_stripe(fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    services.card_payment_refresh(card_payment=card_payment)
    return refresh(escrow), refresh(card_payment)


def failed_refund(fake, seller, buyer, capture):
    """A stage refund Stripe refused for good (most of the charge was given back in its dashboard)."""
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    fake.refund(card_payment.provider_reference, 60_000)
    with capture(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[1]])
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.FAILED
    return refund


# -- a payment set aside, given back ------------------------------------------------------------


def test_giving_back_records_who_gave_what_back_why_and_when_it_is_due(
    fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow, card_payment = set_aside(fake, seller, buyer)

    # The broker never gets it: the refund must still be due for the sweep.
    with django_capture_on_commit_callbacks(execute=False):
        refund = services.card_payment_give_back(card_payment=card_payment, by=admin_user)

    assert refund.reason == "The escrow was already paid or closed"
    assert refund.ledger_transaction.memo == card_payment.public_id
    assert refund.next_attempt_at is not None and refund.next_attempt_at <= timezone.now()
    assert list(services.card_refunds_due(timezone.now())) == [refund]
    given_back = event_row("card_payment.given_back")
    assert (given_back.actor, given_back.customer, given_back.escrow) == (admin_user, buyer, escrow)
    assert (given_back.from_status, given_back.to_status) == (
        CardPaymentStatus.NOT_APPLIED,
        CardPaymentStatus.REFUNDED,
    )
    assert given_back.details == {
        "payment": card_payment.public_id,
        "refund": refund.public_id,
        "amount": 101_500,
        "reason": "The escrow was already paid or closed",
    }
    scheduled = event_row("card_refund.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.to_status) == (
        admin_user,
        buyer,
        StripeRefundStatus.PENDING,
    )


def test_only_a_payment_set_aside_can_be_given_back_in_these_words(fake, seller, buyer):
    _, card_payment = paid_by_stripe(fake, seller, buyer)
    code, _, message, _ = refusal(
        InvalidState, lambda: services.card_payment_give_back(card_payment=card_payment, by=None)
    )
    assert (code, message) == (
        "card_payment_not_set_aside",
        "Only a card payment the escrow could not take can be given back",
    )


def test_the_reason_given_back_is_the_one_recorded_when_that_payment_was_set_aside(
    fake, client, seller, buyer, stranger, django_capture_on_commit_callbacks
):
    _, first = set_aside(fake, seller, buyer)
    # Another payment, set aside later for another reason.
    late = make_escrow(seller)
    second = services.card_payment_start(escrow=late, by=stranger).card_payment
    browser_confirm(fake, second.provider_reference, "pm_card_visa")
    with at(refresh(late).expires_at + timedelta(minutes=1)):
        assert services.card_payment_refresh(card_payment=second).status == CardPaymentStatus.NOT_APPLIED
    # And a later event naming the first payment (a refund made in Stripe's dashboard).
    fake.refund(first.provider_reference, 1_000)
    deliver(client, fake, fake.events_of("charge.refunded")[-1])
    assert Event.objects.filter(kind="card_refund.unrecognised", details__payment=first.public_id).exists()

    with django_capture_on_commit_callbacks(execute=False):
        first_back = services.card_payment_give_back(card_payment=first, by=None)
        second_back = services.card_payment_give_back(card_payment=second, by=None)

    assert first_back.reason == "The escrow was already paid or closed"
    assert second_back.reason == "The escrow's time to pay ran out"


def test_a_payment_set_aside_with_no_reason_on_record_is_given_back_with_a_plain_one(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    _, card_payment = paid_by_stripe(fake, seller, buyer)
    # Set aside before its reason was recorded with it.
    CardPayment.objects.filter(pk=card_payment.pk).update(status=CardPaymentStatus.NOT_APPLIED)

    with django_capture_on_commit_callbacks(execute=False):
        refund = services.card_payment_give_back(card_payment=card_payment, by=None)

    assert refund.reason == "The escrow could not take this payment"
    assert event_row("card_payment.given_back").details["reason"] == "The escrow could not take this payment"


def test_a_reason_on_record_longer_than_a_refund_keeps_is_cut_to_300_characters(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    _, card_payment = set_aside(fake, seller, buyer)
    long_reason = "The escrow was already paid or closed. " * 10
    not_applied = event_row("card_payment.not_applied")
    Event.objects.filter(pk=not_applied.pk).update(details={**not_applied.details, "reason": long_reason})

    with django_capture_on_commit_callbacks(execute=False):
        refund = services.card_payment_give_back(card_payment=card_payment, by=None)

    assert refund.reason == long_reason[:300]


# -- a failed refund, and staff sending it again -------------------------------------------------


def test_a_refund_given_up_records_whose_it_was_and_stripes_words(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    refund = failed_refund(fake, seller, buyer, django_capture_on_commit_callbacks)

    failed = event_row("card_refund.failed")
    assert (failed.actor, failed.customer, failed.escrow) == (None, buyer, refund.escrow)
    assert (failed.from_status, failed.to_status) == (StripeRefundStatus.PENDING, StripeRefundStatus.FAILED)
    assert failed.details == {"refund": refund.public_id, "amount": 50_000, "error": refund.last_error}
    assert refund.last_error.endswith("(amount_too_large)")


def test_only_staff_may_send_a_refund_again(fake, seller, buyer, django_capture_on_commit_callbacks):
    refund = failed_refund(fake, seller, buyer, django_capture_on_commit_callbacks)

    _, _, message, _ = refusal(NotFound, lambda: services.card_refund_retry(refund=refund, by=buyer))

    assert message == "Refund not found"
    assert refresh(refund).status == StripeRefundStatus.FAILED


def test_only_a_failed_refund_is_sent_again(
    fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.SUCCEEDED

    code, _, message, _ = refusal(
        InvalidState, lambda: services.card_refund_retry(refund=refund, by=admin_user)
    )

    assert (code, message) == ("card_refund_not_failed", "Only a failed card refund can be sent again")


def test_sending_again_starts_the_attempts_afresh_due_at_once(
    fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    refund = failed_refund(fake, seller, buyer, django_capture_on_commit_callbacks)
    assert refund.attempts == 1 and refund.last_error

    # The broker never gets it: the sweep must find it due.
    with django_capture_on_commit_callbacks(execute=False):
        services.card_refund_retry(refund=refund, by=admin_user)

    refund = refresh(refund)
    assert (refund.status, refund.attempts, refund.last_error) == (StripeRefundStatus.PENDING, 0, "")
    assert refund.next_attempt_at is not None and refund.next_attempt_at <= timezone.now()
    assert list(services.card_refunds_due(timezone.now())) == [refund]
    scheduled = last_event("card_refund.scheduled")
    assert (scheduled.actor, scheduled.customer, scheduled.to_status) == (
        admin_user,
        buyer,
        StripeRefundStatus.PENDING,
    )


# -- each answer from Stripe ----------------------------------------------------------------------


def test_a_refund_stripe_could_not_take_yet_waits_its_backoff(
    fake, settings, seller, buyer, django_capture_on_commit_callbacks
):
    settings.STRIPE_NETWORK_RETRIES = 0
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    fake.api_key = "sk_test_other"  # Stripe refuses our key until it is put right
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.PENDING, retry_in=settlement_backoff(1))
    refund = refresh(refund)
    assert (refund.status, refund.attempts) == (StripeRefundStatus.PENDING, 1)
    assert refund.last_error.startswith("Invalid API Key provided")
    # Due again, for the sweep too, once its backoff ran out; not before.
    assert not services.card_refunds_due(timezone.now()).exists()
    assert list(services.card_refunds_due(refund.next_attempt_at)) == [refund]


class OtherAnswers(StripeRefundsFake):
    """Stripe answers a new refund with this status (and failure reason) instead of succeeded:
    some are still on their way to the card, some fail there; or refuses it in these words."""

    answer_status = "pending"
    failure_reason: str | None = None
    refusal: str | None = None

    def _refund_create(self, params):
        if self.refusal is not None:
            raise StripeError(400, {"type": "invalid_request_error", "message": self.refusal})
        return super()._refund_create(params)

    def refund(self, intent_id, amount=None, *, metadata=None):
        made = super().refund(intent_id, amount, metadata=metadata)
        made["status"] = self.answer_status
        if self.failure_reason is not None:
            made["failure_reason"] = self.failure_reason
        return made


@pytest.fixture
def answers(settings):
    fake = OtherAnswers(api_key="sk_test_local", webhook_secret="whsec_local")
    fake.start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.stop()


def test_a_refund_still_on_its_way_is_asked_about_again_and_is_no_failed_attempt(
    answers, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(answers, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.PENDING, retry_in=settlement_backoff(1))
    refund = refresh(refund)
    [made] = answers.refunds.values()
    assert (refund.status, refund.attempts, refund.last_error) == (StripeRefundStatus.PENDING, 0, "")
    assert refund.provider_reference == made["id"]
    assert refund.next_attempt_at > timezone.now()
    assert not Event.objects.filter(kind__in=["card_refund.succeeded", "card_refund.failed"]).exists()


@pytest.mark.parametrize(
    ("status", "reason", "words"),
    [
        ("failed", "expired_or_canceled_card", "expired_or_canceled_card"),
        ("canceled", None, "canceled"),
    ],
)
def test_a_refund_that_failed_at_the_card_says_why(
    answers, seller, buyer, django_capture_on_commit_callbacks, status, reason, words
):
    answers.answer_status, answers.failure_reason = status, reason
    escrow, _ = paid_by_stripe(answers, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.FAILED)
    refund = refresh(refund)
    assert refund.status == StripeRefundStatus.FAILED and refund.next_attempt_at is None
    assert refund.last_error == f"Stripe could not return the money to the card ({words})"
    assert event_row("card_refund.failed").details["error"] == refund.last_error


def test_a_refund_back_on_the_card_records_stripes_reference(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.SUCCEEDED)
    refund = refresh(refund)
    [made] = fake.refunds.values()
    assert (refund.status, refund.provider_reference, refund.last_error) == (
        StripeRefundStatus.SUCCEEDED,
        made["id"],
        "",
    )
    assert refund.next_attempt_at is None and refund.succeeded_at is not None
    succeeded = event_row("card_refund.succeeded")
    assert (succeeded.actor, succeeded.customer, succeeded.escrow) == (None, buyer, escrow)
    assert (succeeded.from_status, succeeded.to_status) == (
        StripeRefundStatus.PENDING,
        StripeRefundStatus.SUCCEEDED,
    )
    assert succeeded.details == {"refund": refund.public_id, "amount": 100_000, "reference": made["id"]}
    # Asked again: nothing more is sent, nothing more recorded.
    assert services.card_refund_process(refund_id=refund.pk) == CardRefundOutcome(
        StripeRefundStatus.SUCCEEDED
    )
    assert len(fake.refunds) == 1 and Event.objects.filter(kind="card_refund.succeeded").count() == 1


def test_a_refund_due_this_very_moment_is_sent(fake, seller, buyer, django_capture_on_commit_callbacks):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    moment = timezone.now() + timedelta(minutes=5)
    StripeRefund.objects.filter(pk=refund.pk).update(next_attempt_at=moment)

    with at(moment):
        outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.SUCCEEDED)
    assert len(fake.refunds) == 1


def test_a_second_run_while_the_first_waits_on_stripe_leaves_the_refund_alone(
    fake, seller, buyer, monkeypatch, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    send = stripe_refunds.refund_create
    second_runs = []

    def while_waiting_on_stripe(*args, **kwargs):
        second_runs.append(services.card_refund_process(refund_id=refund.pk))
        return send(*args, **kwargs)

    monkeypatch.setattr(stripe_refunds, "refund_create", while_waiting_on_stripe)

    outcome = services.card_refund_process(refund_id=refund.pk)

    # The first run holds the lease: the second sends nothing and asks for no retry.
    assert second_runs == [CardRefundOutcome(StripeRefundStatus.PENDING)]
    assert outcome == CardRefundOutcome(StripeRefundStatus.SUCCEEDED)
    assert len(fake.refunds) == 1 and refresh(refund).attempts == 1


def test_charge_refunded_arriving_before_stripes_answer_settles_the_refund_once(
    client, fake, seller, buyer, monkeypatch, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    send = stripe_refunds.refund_create

    def answer_after_the_event(*args, **kwargs):
        answer = send(*args, **kwargs)
        assert deliver(client, fake, fake.events_of("charge.refunded")[-1]).status_code == 200
        return answer

    monkeypatch.setattr(stripe_refunds, "refund_create", answer_after_the_event)

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.SUCCEEDED)
    assert refresh(refund).status == StripeRefundStatus.SUCCEEDED
    assert Event.objects.filter(kind="card_refund.succeeded").count() == 1


def test_sending_a_refund_never_runs_inside_another_transaction(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.card_refund_process(refund_id=refund.pk)

    # Refused before Stripe was asked.
    assert not fake.refunds and not [r for r in fake.requests if r[:2] == ("POST", "/v1/refunds")]
    assert refresh(refund).attempts == 0


def test_a_refund_on_its_way_after_a_failed_attempt_keeps_that_attempt_and_clears_its_error(
    answers, settings, seller, buyer, django_capture_on_commit_callbacks
):
    settings.STRIPE_NETWORK_RETRIES = 0
    escrow, _ = paid_by_stripe(answers, seller, buyer)
    answers.api_key = "sk_test_other"  # Stripe refuses our key until it is put right
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    services.card_refund_process(refund_id=refund.pk)
    assert refresh(refund).last_error.startswith("Invalid API Key provided")
    answers.api_key = "sk_test_local"
    StripeRefund.objects.filter(pk=refund.pk).update(next_attempt_at=timezone.now())

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.PENDING, retry_in=settlement_backoff(1))
    refund = refresh(refund)
    assert (refund.status, refund.attempts, refund.last_error) == (StripeRefundStatus.PENDING, 1, "")


def test_stripes_words_refusing_a_refund_are_kept_up_to_2000_characters(
    answers, seller, buyer, django_capture_on_commit_callbacks
):
    answers.refusal = "This refund cannot be made. " * 100
    escrow, _ = paid_by_stripe(answers, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()

    outcome = services.card_refund_process(refund_id=refund.pk)

    assert outcome == CardRefundOutcome(StripeRefundStatus.FAILED)
    refund = refresh(refund)
    assert (refund.status, refund.attempts, refund.next_attempt_at) == (StripeRefundStatus.FAILED, 1, None)
    assert refund.last_error == answers.refusal[:2000]
