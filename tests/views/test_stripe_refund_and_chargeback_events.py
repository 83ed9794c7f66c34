"""Stripe's refund and chargeback events at /stripe/webhook, fed by a local Stripe-compatible
server with Refunds and disputes: charge.refunded confirms our refund once whatever the order and
however often it comes, and a refund made outside the product is told to staff without moving
money; a chargeback freezes the escrow's held money (no release, refund or cancellation) until
Stripe closes it, and a lost one is the platform's."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidState
from escrows import services, tasks
from escrows.models import (
    ChargebackStatus,
    Event,
    Milestone,
    MilestoneStatus,
    StripeChargeback,
    StripeRefund,
    StripeRefundStatus,
)
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, make_escrow, milestones, refresh
from tests.notifications.helpers import nobody_told, told
from tests.stripe_fake import browser_confirm, deliver
from tests.stripe_refunds_fake import started

pytestmark = pytest.mark.django_db

FROZEN = (
    "The buyer's card payment for this escrow is being disputed with their bank (a chargeback), so "
    "the money still held can be neither released nor refunded until the bank decides"
)


@pytest.fixture
def fake(settings):
    fake = started(settings)
    yield fake
    fake.stop()


def paid_by_stripe(fake, seller, buyer):
    escrow = make_escrow(seller)
    card_payment = services.card_payment_start(escrow=escrow, by=buyer).card_payment
    browser_confirm(fake, card_payment.provider_reference, "pm_card_visa")
    services.card_payment_refresh(card_payment=card_payment)
    return refresh(escrow), refresh(card_payment)


def events(kind):
    return Event.objects.filter(kind=kind).count()


def test_charge_refunded_twice_and_out_of_order_confirms_our_refund_once(
    client, fake, settings, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    settings.STRIPE_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 0.3
    fake.lose_refund_answers, fake.hang_seconds = 1, 1.0
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[0]])
    # Stripe made it; its answer was lost, so ours is still pending.
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.PENDING
    fake.refund(card_payment.provider_reference, 5_000)  # then one made in Stripe's dashboard
    ours, dashboard = fake.events_of("charge.refunded")
    before = ledger_fingerprint()

    # Newer news first, then the older event, then each again.
    for event in (dashboard, ours, dashboard, ours):
        assert deliver(client, fake, event).status_code == 200

    refund = refresh(refund)
    assert refund.status == StripeRefundStatus.SUCCEEDED
    assert refund.provider_reference == ours["data"]["object"]["refunds"]["data"][0]["id"]
    assert events("card_refund.succeeded") == 1
    # The dashboard's 50.00 USD is told to staff once, and moves no money here.
    assert ledger_fingerprint() == before
    assert events("card_refund.unrecognised") == 1
    [notice] = told("card_refund.unrecognised").values()
    assert notice.recipient == admin_user
    assert notice.subject == "A card refund of 50.00 USD was made outside the product"
    # A later refund of ours: its charge.refunded still shows the dashboard's 50.00 USD beyond
    # ours, told already.
    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[milestones(escrow)[1]])
    later = fake.events_of("charge.refunded")[-1]
    assert later["data"]["object"]["amount_refunded"] == 85_000
    deliver(client, fake, later)
    assert events("card_refund.unrecognised") == 1
    # Asking Stripe again later finds it done and changes nothing.
    StripeRefund.objects.filter(pk=refund.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.card_refund_process(refund_id=refund.pk).status == StripeRefundStatus.SUCCEEDED
    assert len(fake.refunds) == 3 and events("card_refund.succeeded") == 2
    assert_ledger_invariants()


def test_a_charge_that_does_not_list_its_refunds_has_ours_asked_about_at_once(
    client, fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    fake.list_refunds_on_charge = False
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    # Stripe took it (its reference is stored) but said it was still on its way.
    made = fake.refund(card_payment.provider_reference, 100_000, metadata={"refund": refund.public_id})
    StripeRefund.objects.filter(pk=refund.pk).update(
        provider_reference=made["id"], next_attempt_at=timezone.now() + timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, fake, fake.events_of("charge.refunded")[-1])

    assert refresh(refund).status == StripeRefundStatus.SUCCEEDED
    assert nobody_told("card_refund.unrecognised")
    assert_ledger_invariants()


def test_a_refund_made_in_stripes_dashboard_is_told_to_staff_and_moves_no_money(
    client, fake, seller, buyer, admin_user
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    fake.refund(card_payment.provider_reference, 10_000)
    before = ledger_fingerprint()

    deliver(client, fake, fake.events_of("charge.refunded")[-1])

    assert ledger_fingerprint() == before and not StripeRefund.objects.exists()
    [notice] = told("card_refund.unrecognised").values()
    assert notice.recipient == admin_user and notice.action_required
    assert "100.00 USD" in notice.body_text
    assert refresh(card_payment).charge_reference == fake.charge_of(card_payment.provider_reference)["id"]
    assert buyer.email not in told("card_refund.unrecognised")


def test_a_chargeback_freezes_the_held_money_until_it_is_won(
    client, fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller)
    dispute = fake.open_dispute(card_payment.provider_reference, reason="product_not_received")
    before = ledger_fingerprint()

    deliver(client, fake, fake.events_of("charge.dispute.created")[-1])

    escrow = refresh(escrow)
    assert escrow.frozen_by_chargeback
    chargeback = StripeChargeback.objects.get()
    assert (chargeback.provider_reference, chargeback.amount, chargeback.status) == (
        dispute["id"],
        101_500,
        ChargebackStatus.OPEN,
    )
    refusals = [
        lambda: services.milestone_release(milestone=first, by=buyer),
        lambda: services.escrow_refund(escrow=escrow, by=seller),
        lambda: services.escrow_refund_milestones(escrow=escrow, by=seller, milestones=[second]),
        lambda: services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=100_000, seller_amount=0),
    ]
    for refused in refusals:
        with pytest.raises(InvalidState) as error:
            refused()
        assert (error.value.code, str(error.value)) == ("chargeback_open", FROZEN)
    # The review clock runs out: the timer leaves the frozen stage where it is.
    Milestone.objects.filter(pk=first.pk).update(review_deadline=timezone.now() - timedelta(minutes=1))
    counts = tasks.run_timers()
    assert (counts["auto_released"], counts["errors"]) == (0, 0)
    assert refresh(first).status == MilestoneStatus.COMPLETED
    assert ledger_fingerprint() == before
    notices = told("chargeback.opened")
    assert notices[buyer.email].subject == "Your bank is disputing your card payment for “Website build”"
    assert "neither released nor refunded" in notices[buyer.email].body_text
    assert notices[seller.email].subject == "The buyer's bank is disputing the payment for “Website build”"
    assert "the buyer says they did not receive what they paid for" in notices[seller.email].body_text
    assert notices[admin_user.email].subject == "Chargeback of 1,015.00 USD opened on “Website build”"

    fake.close_dispute(dispute["id"], won=True)
    deliver(client, fake, fake.events_of("charge.dispute.closed")[-1])

    assert not refresh(escrow).frozen_by_chargeback
    assert refresh(chargeback).status == ChargebackStatus.WON
    services.milestone_release(milestone=first, by=buyer)
    assert refresh(first).status == MilestoneStatus.RELEASED
    closed = told("chargeback.closed")
    assert "can be released or refunded again" in closed[seller.email].body_text
    assert closed[admin_user.email].subject == "Chargeback of 1,015.00 USD won on “Website build”"
    assert_ledger_invariants()


def test_a_lost_chargeback_unfreezes_and_staff_hear_the_platform_bore_it(
    client, fake, seller, buyer, admin_user, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    dispute = fake.open_dispute(card_payment.provider_reference)
    deliver(client, fake, fake.events_of("charge.dispute.created")[-1])
    fake.close_dispute(dispute["id"], won=False)
    before = ledger_fingerprint()

    closed = fake.events_of("charge.dispute.closed")[-1]
    deliver(client, fake, closed)
    deliver(client, fake, closed)

    assert refresh(StripeChargeback.objects.get()).status == ChargebackStatus.LOST
    assert not refresh(escrow).frozen_by_chargeback
    assert ledger_fingerprint() == before
    assert events("chargeback.closed") == 1
    notice = told("chargeback.closed")[admin_user.email]
    assert notice.subject == "Chargeback of 1,015.00 USD lost on “Website build”: the platform bore it"
    # The held money may move again; Stripe refuses to refund a charged-back card, so a refund
    # of it fails and staff are told (the card already has the money back).
    with django_capture_on_commit_callbacks(execute=True):
        services.escrow_refund(escrow=escrow, by=seller)
    refund = StripeRefund.objects.get()
    assert (refund.amount, refund.status) == (100_000, StripeRefundStatus.FAILED)
    assert "has been charged back; cannot issue a refund" in refund.last_error
    assert admin_user.email in told("card_refund.failed")
    assert_ledger_invariants()


def test_a_chargeback_closed_before_its_opening_arrived_freezes_nothing(client, fake, seller, buyer):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)
    dispute = fake.open_dispute(card_payment.provider_reference)
    fake.close_dispute(dispute["id"], won=True)

    deliver(client, fake, fake.events_of("charge.dispute.closed")[-1])
    deliver(client, fake, fake.events_of("charge.dispute.created")[-1])

    assert not refresh(escrow).frozen_by_chargeback
    assert StripeChargeback.objects.get().status == ChargebackStatus.WON
    assert events("chargeback.opened") == 0 and events("chargeback.closed") == 1
