"""Celery tasks for notification emails; each calls a service. See escrows/tasks.py for the
guarantees (acks_late, reject_on_worker_lost, the process_due sweep)."""

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from escrows.tasks import SWEEP_TASK_EXPIRES

from . import services
from .models import EmailStatus, Notification

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="notifications.tasks.send_email")
def send_notification_email(self: Task, notification_pk: int) -> str:
    outcome = services.notification_email_send(notification_id=notification_pk)
    if outcome.retry_in is not None and not self.request.is_eager:
        # The next attempt is its own task; in eager mode process_due sends it when due.
        send_notification_email.apply_async((notification_pk,), countdown=outcome.retry_in.total_seconds())
    return outcome.status


def run_notification_timers() -> dict[str, int]:
    """The notifications part of process_due: send emails whose attempt is due (never handed to
    the worker, or a retry whose countdown was lost) and those whose sender died mid-send (lease
    run out)."""
    now = timezone.now()
    eager = send_notification_email.app.conf.task_always_eager
    # With a worker, a retry's own countdown task sends it; the sweep takes what is a minute late.
    pending_due = now if eager else now - timedelta(seconds=60)
    due = Notification.objects.filter(
        email_status=EmailStatus.PENDING, next_attempt_at__lte=pending_due
    ) | Notification.objects.filter(email_status=EmailStatus.SENDING, next_attempt_at__lte=now)
    counts = {"notification_emails_retried": 0}
    last = 0
    while True:
        batch = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:500])
        if not batch:
            return counts
        for pk in batch:
            try:
                send_notification_email.apply_async((pk,), expires=SWEEP_TASK_EXPIRES)
                counts["notification_emails_retried"] += 1
            except Exception:
                log.exception("process_due: could not enqueue notification email %s", pk)
        last = batch[-1]
