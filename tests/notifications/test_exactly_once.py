"""One notification per (event, person) however often the outbox is dispatched, and one email per
notification however often its task runs; a worker that dies between sending and recording
leaves a lease, after which the email goes once more, as the same message (Message-ID)."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from escrows import services
from escrows.models import Event
from notifications import services as notification_services
from notifications.models import EmailStatus, Notification
from notifications.tasks import run_notification_timers
from tests.helpers import refresh
from tests.notifications.helpers import dispatch, send_all

pytestmark = pytest.mark.django_db


def test_dispatching_the_same_events_again_adds_no_notification(paid, in_review):
    dispatch()
    before = list(Notification.objects.order_by("pk").values_list("event_id", "recipient_key"))
    assert before
    # As if a dispatcher died after writing its notifications but before marking the events.
    Event.objects.update(dispatched_at=None)
    dispatch()
    dispatch()
    assert list(Notification.objects.order_by("pk").values_list("event_id", "recipient_key")) == before


def test_a_task_run_twice_sends_one_email(in_review, buyer):
    dispatch()
    notice = Notification.objects.get(event__kind="milestone.completed")
    first = notification_services.notification_email_send(notification_id=notice.pk)
    second = notification_services.notification_email_send(notification_id=notice.pk)
    assert (first.status, first.skipped) == (EmailStatus.SENT, False)
    assert (second.status, second.skipped) == (EmailStatus.SENT, True)
    assert [m.to for m in mail.outbox] == [[buyer.email]]
    assert refresh(notice).attempts == 1


class WorkerDied(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs."""


def test_a_worker_dying_between_send_and_record_sends_once_more_after_the_lease(in_review, settings):
    settings.NOTIFICATION_EMAIL_LEASE_SECONDS = 120
    dispatch()
    notice = Notification.objects.get(event__kind="milestone.completed")
    real_send = EmailMultiAlternatives.send

    def send_then_die(message, *args, **kwargs):
        real_send(message, *args, **kwargs)
        raise WorkerDied

    with mock.patch.object(EmailMultiAlternatives, "send", send_then_die), pytest.raises(WorkerDied):
        notification_services.notification_email_send(notification_id=notice.pk)
    message_id = f"<notification-{notice.pk}@escrow.example.test>"

    def copies() -> int:
        return sum(m.extra_headers["Message-ID"] == message_id for m in mail.outbox)

    claimed = refresh(notice)
    assert (claimed.email_status, claimed.attempts) == (EmailStatus.SENDING, 1)
    assert copies() == 1
    # While the lease runs, neither a duplicate task nor the sweep sends it again.
    assert notification_services.notification_email_send(notification_id=notice.pk).skipped
    run_notification_timers()
    assert copies() == 1
    later = timezone.now() + timedelta(seconds=121)
    with mock.patch("django.utils.timezone.now", return_value=later):
        run_notification_timers()
        run_notification_timers()
        assert notification_services.notification_email_send(notification_id=notice.pk).skipped
    done = refresh(notice)
    assert (done.email_status, done.attempts) == (EmailStatus.SENT, 2)
    assert copies() == 2, "once more, as the same message"


def test_the_sweep_sends_what_was_never_handed_to_the_worker(paid, seller):
    dispatch()  # the test's transaction never commits, so nothing was handed over
    pending = Notification.objects.filter(email_status=EmailStatus.PENDING).count()
    assert pending >= 2
    assert run_notification_timers()["notification_emails_retried"] == pending
    assert Notification.objects.filter(email_status=EmailStatus.SENT).count() == pending
    assert len(mail.outbox) == pending
    run_notification_timers()
    assert len(mail.outbox) == pending


def test_a_notice_is_written_by_the_dispatch_not_by_the_money_action(in_review, buyer):
    """The release's own transaction writes events only; its notices come from the outbox."""
    services.milestone_release(milestone=in_review, by=buyer)
    assert not Notification.objects.filter(event__kind="milestone.released").exists()
    dispatch()
    assert Notification.objects.filter(event__kind="milestone.released").exists()
    send_all()
