"""What Stripe's refund and chargeback events record, delivered to /stripe/webhook by the local
Stripe-compatible server: which card payment an event is about (by its PaymentIntent, else by its
charge), which refunds of ours charge.refunded confirms or has asked about, a refund made outside
the product told once per payment and amount, and what a chargeback records when it opens and
closes (its amount, reason and outcome, and which escrows stay frozen)."""

import copy
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import (
    CardPaymentStatus,
    ChargebackStatus,
    Event,
    StripeChargeback,
    StripeRefund,
    StripeRefundStatus,
)
from escrows.services import stripe_refunds as stripe_refunds_module
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.stripe_fake import browser_confirm, deliver
from tests.stripe_refunds_fake import started

pytestmark = pytest.mark.django_db

LEFT_OUT = object()


@pytest.fixture
def fake(settings):
    fake = started(settings)
    yield fake
    fake.stop()


def paid_by_stripe(fake, seller, buyer, escrow=None):
    escrow = escrow or make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    services.card_payment_refresh(card_payment=card_payment)
    return refresh(escrow), refresh(card_payment)


def set_aside(fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    fund(escrow, buyer)
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    card_payment = services.card_payment_refresh(card_payment=card_payment)
    assert card_payment.status == CardPaymentStatus.NOT_APPLIED
    return refresh(escrow), card_payment


def told_of(kind):
    return list(Event.objects.filter(kind=kind).order_by("id"))


def event_row(kind):
    [event] = told_of(kind)
    return event


def saying(event, **changes):
    """Stripe's event as another delivery says it (its own id): the object's fields changed, or
    left out."""
    other = copy.deepcopy(event)
    other["id"] = "evt_" + secrets.token_hex(12)
    obj = other["data"]["object"]
    for name, value in changes.items():
        if value is LEFT_OUT:
            obj.pop(name, None)
        else:
            obj[name] = value
    return other


def delivered(client, fake, event):
    answer = deliver(client, fake, event)
    assert answer.status_code == 200, answer.content
    return answer


# -- which card payment an event is about ----------------------------------------------------


def test_a_dispute_naming_its_payment_intent_as_an_object_finds_the_payment_and_keeps_its_charge(
    client, fake, seller, buyer
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    dispute = fake.open_dispute(card_payment.provider_reference)
    opened = fake.events_of("charge.dispute.created")[-1]
    intent = {"id": card_payment.provider_reference, "object": "payment_intent"}
    assert card_payment.charge_reference == ""

    delivered(client, fake, saying(opened, payment_intent=intent))

    chargeback = StripeChargeback.objects.get()
    assert (chargeback.card_payment, chargeback.escrow) == (card_payment, escrow)
    # The charge it names is kept, never the dispute's own id.
    assert refresh(card_payment).charge_reference == dispute["charge"]


def test_once_its_charge_is_known_a_payment_is_found_by_the_charge_alone(client, fake, seller, buyer):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    charge = fake.charge_of(card_payment.provider_reference)["id"]
    # A refund made in Stripe's dashboard: its charge.refunded makes the charge known.
    fake.refund(card_payment.provider_reference, 1_000)
    delivered(client, fake, fake.events_of("charge.refunded")[-1])
    assert refresh(card_payment).charge_reference == charge

    # Another dashboard refund and a dispute whose PaymentIntent Stripe does not name.
    fake.refund(card_payment.provider_reference, 2_000)
    delivered(client, fake, saying(fake.events_of("charge.refunded")[-1], payment_intent=None))
    fake.open_dispute(card_payment.provider_reference)
    delivered(client, fake, saying(fake.events_of("charge.dispute.created")[-1], payment_intent=None))

    assert StripeChargeback.objects.get().card_payment == card_payment
    assert [e.details["amount"] for e in told_of("card_refund.unrecognised")] == [1_000, 3_000]
    assert refresh(card_payment).charge_reference == charge


def test_a_dispute_naming_its_charge_as_an_object_finds_the_payment(client, fake, seller, buyer):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    fake.refund(card_payment.provider_reference, 1_000)
    delivered(client, fake, fake.events_of("charge.refunded")[-1])
    dispute = fake.open_dispute(card_payment.provider_reference)
    charge = {"id": dispute["charge"], "object": "charge"}

    delivered(
        client, fake, saying(fake.events_of("charge.dispute.created")[-1], payment_intent=None, charge=charge)
    )

    assert StripeChargeback.objects.get().card_payment == card_payment


def test_a_dispute_that_names_no_charge_or_an_expanded_one_keeps_no_made_up_charge(
    client, fake, seller, buyer
):
    _, first = paid_by_stripe(fake, seller, buyer)
    _, second = paid_by_stripe(fake, seller, buyer)
    first_dispute = fake.open_dispute(first.provider_reference)
    delivered(client, fake, saying(fake.events_of("charge.dispute.created")[-1], charge=LEFT_OUT))
    second_dispute = fake.open_dispute(second.provider_reference)
    expanded = {"id": second_dispute["charge"], "object": "charge"}
    delivered(client, fake, saying(fake.events_of("charge.dispute.created")[-1], charge=expanded))

    assert StripeChargeback.objects.get(provider_reference=first_dispute["id"]).card_payment == first
    assert StripeChargeback.objects.get(provider_reference=second_dispute["id"]).card_payment == second
    assert refresh(first).charge_reference == ""
    assert refresh(second).charge_reference in ("", second_dispute["charge"])


# -- charge.refunded ------------------------------------------------------------------------------


def test_a_refund_made_outside_the_product_is_told_with_what_stripe_says(client, fake, seller, buyer):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    charge = fake.charge_of(card_payment.provider_reference)["id"]
    fake.refund(card_payment.provider_reference, 10_000)

    delivered(client, fake, fake.events_of("charge.refunded")[-1])

    told = event_row("card_refund.unrecognised")
    assert (told.actor, told.customer, told.escrow) == (None, buyer, escrow)
    assert told.details == {
        "payment": card_payment.public_id,
        "charge": charge,
        "amount": 10_000,
        "amountRefunded": 10_000,
    }


def test_each_payments_refunds_made_outside_are_told_on_their_own(client, fake, seller, buyer, stranger):
    _, first = paid_by_stripe(fake, seller, buyer)
    _, second = paid_by_stripe(fake, seller, stranger)
    fake.refund(first.provider_reference, 10_000)
    delivered(client, fake, fake.events_of("charge.refunded")[-1])

    fake.refund(second.provider_reference, 5_000)
    delivered(client, fake, fake.events_of("charge.refunded")[-1])

    assert [(e.details["payment"], e.details["amount"]) for e in told_of("card_refund.unrecognised")] == [
        (first.public_id, 10_000),
        (second.public_id, 5_000),
    ]


def test_a_refund_of_one_cent_made_outside_is_told(client, fake, seller, buyer):
    _, card_payment = paid_by_stripe(fake, seller, buyer)
    fake.refund(card_payment.provider_reference, 1)

    delivered(client, fake, fake.events_of("charge.refunded")[-1])

    assert event_row("card_refund.unrecognised").details["amount"] == 1


def test_a_charge_that_says_nothing_was_refunded_tells_nobody(client, fake, seller, buyer):
    _, card_payment = paid_by_stripe(fake, seller, buyer)
    fake.refund(card_payment.provider_reference, 1_000)
    refunded = fake.events_of("charge.refunded")[-1]
    before = ledger_fingerprint()

    delivered(client, fake, saying(refunded, amount_refunded=0, refunds=LEFT_OUT))
    delivered(client, fake, saying(refunded, amount_refunded=LEFT_OUT, refunds=LEFT_OUT))

    assert told_of("card_refund.unrecognised") == []
    assert ledger_fingerprint() == before


def test_a_refund_of_ours_listed_after_one_made_outside_is_confirmed(
    client, fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[0]])
    ours = StripeRefund.objects.get()
    # Stripe made ours (its answer never came back), then one was made in its dashboard.
    fake.refund(card_payment.provider_reference, 30_000, metadata={"refund": ours.public_id})
    fake.refund(card_payment.provider_reference, 5_000)
    latest = fake.events_of("charge.refunded")[-1]
    assert [r["amount"] for r in latest["data"]["object"]["refunds"]["data"]] == [5_000, 30_000]

    delivered(client, fake, latest)

    ours = refresh(ours)
    assert ours.status == StripeRefundStatus.SUCCEEDED
    assert ours.provider_reference == latest["data"]["object"]["refunds"]["data"][1]["id"]
    assert event_row("card_refund.unrecognised").details["amount"] == 5_000


def test_a_refund_of_ours_is_known_by_stripes_id_alone(
    client, fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    ours = StripeRefund.objects.get()
    # Stripe took it and said it was on its way; its metadata no longer names ours (edited in
    # Stripe's dashboard).
    made = fake.refund(card_payment.provider_reference, 100_000)
    StripeRefund.objects.filter(pk=ours.pk).update(
        provider_reference=made["id"], next_attempt_at=timezone.now() + timedelta(hours=1)
    )

    delivered(client, fake, fake.events_of("charge.refunded")[-1])

    ours = refresh(ours)
    assert (ours.status, ours.provider_reference) == (StripeRefundStatus.SUCCEEDED, made["id"])
    assert told_of("card_refund.unrecognised") == []


def three_refunds(fake, escrow, card_payment, seller, capture):
    """Refunds of the escrow's three stages: the first back on the card; the second taken by
    Stripe and on its way (its next question an hour off); the third never taken (Stripe could
    not be reached: it waits its backoff)."""
    first, second, third = milestones(escrow)
    with capture(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[first])
    with capture(execute=False):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[second])
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[third])
    done, on_its_way, not_taken = StripeRefund.objects.order_by("pk")
    assert done.status == StripeRefundStatus.SUCCEEDED and done.next_attempt_at is None
    fake.list_refunds_on_charge = False
    made = fake.refund(card_payment.provider_reference, 50_000, metadata={"refund": on_its_way.public_id})
    later = timezone.now() + timedelta(hours=1)
    StripeRefund.objects.filter(pk=on_its_way.pk).update(provider_reference=made["id"], next_attempt_at=later)
    StripeRefund.objects.filter(pk=not_taken.pk).update(next_attempt_at=later)
    return refresh(done), refresh(on_its_way), refresh(not_taken)


def test_a_charge_that_lists_no_refunds_has_only_ours_stripe_took_asked_about_at_once(
    client, fake, seller, buyer, monkeypatch, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    done, on_its_way, not_taken = three_refunds(
        fake, escrow, card_payment, seller, django_capture_on_commit_callbacks
    )
    asked = []
    monkeypatch.setattr(stripe_refunds_module, "_enqueue_card_refund", asked.append)

    with django_capture_on_commit_callbacks(execute=True):
        delivered(client, fake, fake.events_of("charge.refunded")[-1])

    assert asked == [on_its_way.pk]
    # Due at once, for the sweep too should the broker not take it.
    assert refresh(on_its_way).next_attempt_at <= timezone.now()
    assert list(services.card_refunds_due(timezone.now())) == [on_its_way]
    assert refresh(not_taken).next_attempt_at == not_taken.next_attempt_at
    assert refresh(done).next_attempt_at is None


def test_a_broker_failure_after_charge_refunded_commits_does_not_fail_it(
    client, fake, seller, buyer, monkeypatch, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    _, on_its_way, _ = three_refunds(fake, escrow, card_payment, seller, django_capture_on_commit_callbacks)

    def broker_down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(stripe_refunds_module, "_enqueue_card_refund", broker_down)
    with django_capture_on_commit_callbacks(execute=True) as handed_over:
        delivered(client, fake, fake.events_of("charge.refunded")[-1])

    assert handed_over
    assert list(services.card_refunds_due(timezone.now())) == [refresh(on_its_way)]


# -- chargebacks ------------------------------------------------------------------------------


def test_a_chargeback_records_what_it_is_about_when_it_opens_and_closes(client, fake, seller, buyer):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    dispute = fake.open_dispute(card_payment.provider_reference, reason="product_not_received")

    delivered(client, fake, fake.events_of("charge.dispute.created")[-1])

    about = {
        "chargeback": dispute["id"],
        "payment": card_payment.public_id,
        "amount": 101_500,
        "reason": "product_not_received",
    }
    opened = event_row("chargeback.opened")
    assert (opened.actor, opened.customer, opened.escrow) == (None, buyer, escrow)
    assert (opened.from_status, opened.to_status) == ("", ChargebackStatus.OPEN)
    assert opened.details == {**about, "outcome": ChargebackStatus.OPEN, "frozen": True}

    fake.close_dispute(dispute["id"], won=False)
    delivered(client, fake, fake.events_of("charge.dispute.closed")[-1])

    closed = event_row("chargeback.closed")
    assert (closed.actor, closed.customer, closed.escrow) == (None, buyer, escrow)
    assert (closed.from_status, closed.to_status) == (ChargebackStatus.OPEN, ChargebackStatus.LOST)
    assert closed.details == {**about, "outcome": ChargebackStatus.LOST, "frozen": False}
    chargeback = StripeChargeback.objects.get()
    assert chargeback.closed_at is not None and chargeback.closed_at <= timezone.now()


def test_a_chargeback_whose_close_comes_first_is_recorded_whole(client, fake, seller, buyer):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    dispute = fake.open_dispute(card_payment.provider_reference, reason="fraudulent")
    fake.close_dispute(dispute["id"], won=True)

    delivered(client, fake, fake.events_of("charge.dispute.closed")[-1])

    chargeback = StripeChargeback.objects.get()
    assert (
        chargeback.provider_reference,
        chargeback.card_payment,
        chargeback.escrow,
        chargeback.amount,
        chargeback.currency,
        chargeback.reason,
        chargeback.status,
    ) == (dispute["id"], card_payment, escrow, 101_500, "USD", "fraudulent", ChargebackStatus.WON)
    assert chargeback.closed_at is not None
    assert event_row("chargeback.closed").details["frozen"] is False


@pytest.mark.parametrize("close_first", [False, True], ids=["opened-first", "closed-first"])
def test_a_dispute_without_an_amount_or_reason_records_none_and_a_long_reason_is_cut(
    client, fake, seller, buyer, close_first
):
    _, first = paid_by_stripe(fake, seller, buyer)
    _, second = paid_by_stripe(fake, seller, buyer)
    kind = "charge.dispute.closed" if close_first else "charge.dispute.created"
    bare = fake.open_dispute(first.provider_reference)
    long = fake.open_dispute(second.provider_reference)
    if close_first:
        fake.close_dispute(bare["id"], won=True)
        fake.close_dispute(long["id"], won=True)
    bare_event, long_event = fake.events_of(kind)[-2:]

    delivered(client, fake, saying(bare_event, amount=LEFT_OUT, reason=None))
    delivered(client, fake, saying(long_event, reason="r" * 150))

    bare_chargeback = StripeChargeback.objects.get(provider_reference=bare["id"])
    assert (bare_chargeback.amount, bare_chargeback.reason) == (0, "")
    assert StripeChargeback.objects.get(provider_reference=long["id"]).reason == "r" * 100


def test_a_chargeback_of_a_payment_set_aside_freezes_nothing(client, fake, seller, buyer):
    escrow, card_payment = set_aside(fake, seller, buyer)
    fake.open_dispute(card_payment.provider_reference)

    delivered(client, fake, fake.events_of("charge.dispute.created")[-1])

    assert not refresh(escrow).frozen_by_chargeback
    assert StripeChargeback.objects.get().status == ChargebackStatus.OPEN
    assert event_row("chargeback.opened").details["frozen"] is False


def test_an_escrow_stays_frozen_while_any_chargeback_of_its_payments_is_open(
    client, fake, seller, buyer, stranger
):
    escrow = make_escrow(seller)
    paying = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    late = services.card_payment_start(escrow=escrow, by=stranger).card_payment
    for card_payment in (paying, late):
        browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
        services.card_payment_refresh(card_payment=card_payment)
    assert (refresh(paying).status, refresh(late).status) == (
        CardPaymentStatus.SUCCEEDED,
        CardPaymentStatus.NOT_APPLIED,
    )
    paying_dispute = fake.open_dispute(paying.provider_reference)
    delivered(client, fake, fake.events_of("charge.dispute.created")[-1])
    late_dispute = fake.open_dispute(late.provider_reference)
    delivered(client, fake, fake.events_of("charge.dispute.created")[-1])
    assert refresh(escrow).frozen_by_chargeback

    fake.close_dispute(paying_dispute["id"], won=True)
    delivered(client, fake, fake.events_of("charge.dispute.closed")[-1])

    assert refresh(escrow).frozen_by_chargeback
    assert told_of("chargeback.closed")[-1].details["frozen"] is True

    fake.close_dispute(late_dispute["id"], won=True)
    delivered(client, fake, fake.events_of("charge.dispute.closed")[-1])

    assert not refresh(escrow).frozen_by_chargeback
    assert told_of("chargeback.closed")[-1].details["frozen"] is False


def test_closing_one_escrows_chargeback_unfreezes_it_alone(client, fake, seller, buyer, stranger):
    first, first_payment = paid_by_stripe(fake, seller, buyer)
    second, second_payment = paid_by_stripe(fake, seller, stranger)
    first_dispute = fake.open_dispute(first_payment.provider_reference)
    delivered(client, fake, fake.events_of("charge.dispute.created")[-1])
    fake.open_dispute(second_payment.provider_reference)
    delivered(client, fake, fake.events_of("charge.dispute.created")[-1])

    fake.close_dispute(first_dispute["id"], won=True)
    delivered(client, fake, fake.events_of("charge.dispute.closed")[-1])

    assert not refresh(first).frozen_by_chargeback
    assert refresh(second).frozen_by_chargeback
    assert_ledger_invariants()
