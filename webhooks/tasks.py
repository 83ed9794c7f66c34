"""Celery tasks for webhooks; each calls a service. See escrows/tasks.py for the guarantees."""

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from escrows.models import Event
from escrows.tasks import SWEEP_TASK_EXPIRES

from . import services
from .models import DeliveryStatus, WebhookDelivery

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, name="webhooks.tasks.dispatch_events")
def dispatch_events() -> int:
    # First clear the "dispatch pending" flag, then read the outbox: an event committed before
    # the clear is read below; one committed after it publishes a task of its own.
    from escrows.tasks import clear_dispatch_claim

    clear_dispatch_claim()
    return services.events_dispatch()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="webhooks.tasks.deliver_webhook")
def deliver_webhook(self: Task, delivery_pk: int, attempt: int) -> str:
    outcome = services.webhook_deliver(delivery_id=delivery_pk, attempt=attempt)
    if outcome.retry_in is not None and not self.request.is_eager:
        # The next attempt is its own task; in eager mode process_due sends it when due.
        deliver_webhook.apply_async((delivery_pk, attempt + 1), countdown=outcome.retry_in.total_seconds())
    return outcome.status


def run_webhook_timers() -> dict[str, int]:
    """The webhook part of process_due: re-dispatch events a dead process left in the outbox,
    and send deliveries whose retry is due (or whose attempt's worker died)."""
    now = timezone.now()
    counts = {"events_redispatched": 0, "webhooks_retried": 0}
    grace = timedelta(seconds=settings.WEBHOOK_OUTBOX_GRACE_SECONDS)
    stale = Event.objects.filter(dispatched_at__isnull=True, created_at__lte=now - grace)
    if stale.exists():
        try:
            counts["events_redispatched"] = services.events_dispatch()
        except Exception:
            log.exception("process_due: event dispatch failed")
    # With a worker, a retry's own countdown task sends it; the sweep takes what is a minute late.
    eager = deliver_webhook.app.conf.task_always_eager
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now if eager else now - timedelta(seconds=60)
    )
    last = 0
    while True:
        batch = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", "attempts")[:500])
        if not batch:
            break
        for pk, attempts in batch:
            try:
                deliver_webhook.apply_async((pk, attempts + 1), expires=SWEEP_TASK_EXPIRES)
                counts["webhooks_retried"] += 1
            except Exception:
                log.exception("process_due: could not enqueue webhook delivery %s", pk)
        last = batch[-1][0]
    return counts
