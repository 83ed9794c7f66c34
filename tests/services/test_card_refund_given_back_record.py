"""What money the ledger gives back to a buyer records: the posting's memo when the step gives
none, and for an escrow paid by card through Stripe the pending refund (why, when it is due) and
its scheduled event (which escrow, which refund, how much, why); a broker down after the commit
fails neither the refund nor the escrow's change."""

from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from escrows import ledger, services
from escrows.models import EscrowStatus, Event, StripeRefund, StripeRefundStatus, TransactionKind
from escrows.services import _internal
from tests.helpers import fund, make_escrow, refresh
from tests.services.test_stripe_refunds_records import paid_by_stripe
from tests.stripe_refunds_fake import started

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    fake = started(settings)
    yield fake
    fake.stop()


def test_a_give_back_without_a_memo_posts_an_empty_one(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)

    with transaction.atomic():
        txn = _internal._give_back(
            TransactionKind.REFUND, escrow, [(ledger.hold_account(escrow), -10_000)], to_buyer=10_000
        )

    assert txn.memo == ""


def test_a_refund_to_a_stripe_card_is_due_at_once_and_its_event_names_escrow_refund_amount_and_why(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, card_payment = paid_by_stripe(fake, seller, buyer)

    # The broker never gets it: the refund must still be due for the sweep.
    with django_capture_on_commit_callbacks(execute=False):
        services.escrow_refund(escrow=escrow, by=seller)

    refund = StripeRefund.objects.get()
    assert (refund.card_payment, refund.status) == (card_payment, StripeRefundStatus.PENDING)
    assert refund.reason == TransactionKind.REFUND.label
    assert refund.next_attempt_at is not None and refund.next_attempt_at <= timezone.now()
    assert list(services.card_refunds_due(timezone.now())) == [refund]
    scheduled = Event.objects.get(kind="card_refund.scheduled")
    assert (scheduled.escrow, scheduled.customer, scheduled.actor) == (escrow, buyer, None)
    assert scheduled.details == {
        "refund": refund.public_id,
        "amount": refund.amount,
        "reason": TransactionKind.REFUND.label,
    }
    assert refund.amount > 0


def test_a_card_refund_whose_sending_fails_after_the_commit_leaves_the_refund_done_and_due(
    fake, seller, buyer, django_capture_on_commit_callbacks
):
    escrow, _ = paid_by_stripe(fake, seller, buyer)

    with (
        mock.patch("escrows.services._internal._enqueue_card_refund", side_effect=RuntimeError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.escrow_refund(escrow=escrow, by=seller)

    assert refresh(escrow).status == EscrowStatus.REFUNDED
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefundStatus.PENDING
    assert list(services.card_refunds_due(timezone.now())) == [refund]
