"""Review clock: a delivered milestone carries its review deadline; the buyer may extend it
once; a reminder goes out once before it lapses (its email from the notifications); on lapse the
timer releases it."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.errors import Forbidden, InvalidState, NotFound
from escrows import services, tasks
from escrows.models import Event, Milestone, MilestoneStatus
from tests.helpers import (
    assert_ledger_invariants,
    at,
    fund,
    ledger_fingerprint,
    make_escrow,
    milestones,
    refresh,
)
from tests.notifications.helpers import emails_of

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def test_delivery_sets_the_deadline_to_the_inspection_period(delivered):
    escrow = delivered.escrow
    assert delivered.review_deadline == delivered.completed_at + escrow.inspection_period
    assert delivered.review_extended_at is None and delivered.reminder_sent_at is None
    event = Event.objects.get(kind="milestone.completed", milestone=delivered)
    assert event.details["reviewDeadline"] == delivered.review_deadline.isoformat()


def test_buyer_extends_once(delivered, buyer, settings):
    settings.ESCROW_REVIEW_EXTENSION = timedelta(days=7)
    before = delivered.review_deadline
    services.milestone_review_extend(milestone=delivered, by=buyer)
    m = refresh(delivered)
    assert m.review_deadline == before + timedelta(days=7)
    assert m.review_extended_at is not None and m.review_extended
    event = Event.objects.get(kind="milestone.review_extended", milestone=m)
    assert event.actor == buyer and event.details["reviewDeadline"] == m.review_deadline.isoformat()
    snapshot = (ledger_fingerprint(), Event.objects.count(), refresh(m).review_deadline)
    with pytest.raises(InvalidState) as exc:
        services.milestone_review_extend(milestone=m, by=buyer)
    assert exc.value.code == "already_extended"
    assert (ledger_fingerprint(), Event.objects.count(), refresh(m).review_deadline) == snapshot


def test_a_withdrawn_dispute_starts_a_fresh_review_period_that_may_be_extended_once_more(
    delivered, buyer, settings
):
    """What the state-machine test met: extended, disputed, the dispute withdrawn (the clock
    restarts from then, see dispute_withdraw), extended again: one event per extension."""
    settings.ESCROW_REVIEW_EXTENSION = timedelta(days=7)
    services.milestone_review_extend(milestone=delivered, by=buyer)
    dispute = services.dispute_open(
        escrow=delivered.escrow, by=buyer, reason="Not as agreed", milestone=delivered
    )
    services.dispute_withdraw(dispute=dispute, by=buyer)
    fresh = refresh(delivered)
    assert fresh.status == MilestoneStatus.COMPLETED and fresh.review_extended_at is None
    services.milestone_review_extend(milestone=fresh, by=buyer)
    assert Event.objects.filter(kind="milestone.review_extended", milestone=delivered).count() == 2
    with pytest.raises(InvalidState) as exc:
        services.milestone_review_extend(milestone=refresh(delivered), by=buyer)
    assert exc.value.code == "already_extended"


def test_only_the_buyer_extends(delivered, seller, stranger):
    with pytest.raises(Forbidden):
        services.milestone_review_extend(milestone=delivered, by=seller)
    with pytest.raises(NotFound):
        services.milestone_review_extend(milestone=delivered, by=stranger)
    assert refresh(delivered).review_extended_at is None


def test_no_extension_after_the_deadline(delivered, buyer):
    with at(delivered.review_deadline + timedelta(seconds=1)), pytest.raises(InvalidState) as exc:
        services.milestone_review_extend(milestone=delivered, by=buyer)
    assert exc.value.code == "review_ended"
    assert refresh(delivered).review_deadline == delivered.review_deadline


def test_no_extension_of_undelivered_or_disputed_milestones(delivered, buyer):
    second = milestones(delivered.escrow)[1]
    with pytest.raises(InvalidState) as exc:
        services.milestone_review_extend(milestone=second, by=buyer)
    assert exc.value.code == "not_in_review"
    Milestone.objects.filter(pk=delivered.pk).update(status=MilestoneStatus.DISPUTED)
    with pytest.raises(InvalidState) as exc:
        services.milestone_review_extend(milestone=refresh(delivered), by=buyer)
    assert exc.value.code == "milestone_disputed"


def test_auto_release_waits_for_the_extended_deadline(delivered, buyer):
    services.milestone_review_extend(milestone=delivered, by=buyer)
    extended = refresh(delivered).review_deadline
    with at(delivered.review_deadline + timedelta(hours=1)):
        call_command("process_due")
    assert refresh(delivered).status == MilestoneStatus.COMPLETED
    with at(extended + timedelta(seconds=1)):
        call_command("process_due")
    m = refresh(delivered)
    assert m.status == MilestoneStatus.RELEASED
    assert Event.objects.get(kind="milestone.released", milestone=m).details["reason"] == (
        "inspection period lapsed"
    )
    assert_ledger_invariants()


def test_the_deadline_not_the_delivery_time_decides(delivered):
    # Delivered long ago, but the stored deadline (e.g. after an extension) is still ahead.
    Milestone.objects.filter(pk=delivered.pk).update(completed_at=timezone.now() - timedelta(days=60))
    call_command("process_due")
    assert refresh(delivered).status == MilestoneStatus.COMPLETED
    # A row without a stored deadline falls back to delivered at + inspection period.
    Milestone.objects.filter(pk=delivered.pk).update(review_deadline=None)
    call_command("process_due")
    assert refresh(delivered).status == MilestoneStatus.RELEASED
    assert_ledger_invariants()


def test_reminder_is_sent_once_inside_the_window(delivered, buyer, settings):
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=2)
    deadline = delivered.review_deadline
    with at(deadline - timedelta(days=3)):
        call_command("process_due")
    assert emails_of("milestone.review_reminder_sent") == []
    with at(deadline - timedelta(days=1)):
        counts = tasks.run_timers()
        again = tasks.run_timers()
    assert counts["review_reminders"] == 1 and again["review_reminders"] == 0
    [message] = emails_of("milestone.review_reminder_sent")
    assert message.to == [buyer.email]
    assert delivered.escrow.public_id in message.body and "automatically" in message.body
    m = refresh(delivered)
    assert m.reminder_sent_at == deadline - timedelta(days=1)
    assert Event.objects.filter(kind="milestone.review_reminder_sent", milestone=m).count() == 1
    assert refresh(delivered).status == MilestoneStatus.COMPLETED


def test_extension_earns_a_new_reminder(delivered, buyer, settings):
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=2)
    deadline = delivered.review_deadline
    with at(deadline - DAY):
        tasks.run_timers()
        services.milestone_review_extend(milestone=delivered, by=buyer)
    assert refresh(delivered).reminder_sent_at is None
    with at(deadline):  # the old deadline: nothing lapses, nothing is due yet
        tasks.run_timers()
    assert len(emails_of("milestone.review_reminder_sent")) == 1
    with at(deadline + 6 * DAY):
        tasks.run_timers()
    assert len(emails_of("milestone.review_reminder_sent")) == 2
    assert Event.objects.filter(kind="milestone.review_reminder_sent").count() == 2


@pytest.mark.parametrize("status", [MilestoneStatus.DISPUTED, MilestoneStatus.RELEASED])
def test_no_reminder_for_disputed_or_released_milestones(delivered, status):
    Milestone.objects.filter(pk=delivered.pk).update(status=status)
    with at(delivered.review_deadline - DAY):
        tasks.run_timers()
        assert services.milestone_review_remind(milestone=delivered) is None
    assert emails_of("milestone.review_reminder_sent") == []
    assert not Event.objects.filter(kind="milestone.review_reminder_sent").exists()


def test_disputed_milestone_never_auto_releases(delivered):
    Milestone.objects.filter(pk=delivered.pk).update(status=MilestoneStatus.DISPUTED)
    with at(delivered.review_deadline + 30 * DAY):
        counts = tasks.run_timers()
    assert counts["auto_released"] == 0
    assert refresh(delivered).status == MilestoneStatus.DISPUTED
    assert_ledger_invariants()


def test_process_due_runs_both_timers(seller, buyer, settings):
    settings.ESCROW_REVIEW_REMINDER_BEFORE = timedelta(days=2)
    a, b = make_escrow(seller), make_escrow(seller)
    fund(a, buyer)
    fund(b, buyer)
    lapsing, reminded = milestones(a)[0], milestones(b)[0]
    services.milestone_complete(milestone=lapsing, by=seller)
    services.milestone_complete(milestone=reminded, by=seller)
    Milestone.objects.filter(pk=lapsing.pk).update(review_deadline=timezone.now() - DAY)
    Milestone.objects.filter(pk=reminded.pk).update(review_deadline=timezone.now() + DAY)
    counts = tasks.run_timers()
    assert counts["auto_released"] == 1 and counts["review_reminders"] == 1
    assert refresh(lapsing).status == MilestoneStatus.RELEASED
    assert refresh(reminded).reminder_sent_at is not None
    assert len(emails_of("milestone.review_reminder_sent")) == 1
    assert_ledger_invariants()


def test_delivery_before_funding_starts_the_clock_at_funding(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    later = timezone.now() + 20 * DAY
    with at(later):
        fund(escrow, buyer)
    assert refresh(first).review_deadline == later + escrow.inspection_period


def test_extension_and_reminder_are_webhooks_to_both_parties(delivered, seller, buyer, settings):
    from webhooks import services as webhooks
    from webhooks.models import WebhookDelivery

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    for who in (seller, buyer):
        webhooks.webhook_endpoint_create(customer=who, url=f"http://127.0.0.1:8149/{who.pk}")
    services.milestone_review_extend(milestone=delivered, by=buyer)
    with at(refresh(delivered).review_deadline - DAY):
        services.milestone_review_remind(milestone=delivered)
    webhooks.events_dispatch()
    for kind in ("milestone.review_extended", "milestone.review_reminder_sent"):
        sent_to = set(
            WebhookDelivery.objects.filter(event_type=kind).values_list("endpoint__customer", flat=True)
        )
        assert sent_to == {seller.pk, buyer.pk}, kind
