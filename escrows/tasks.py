"""Celery tasks: each fetches ids and calls a service. Enqueued only after commit."""

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import services
from .models import Escrow, EscrowStatus, Milestone, MilestoneStatus, Settlement, SettlementStatus

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def settlement_process_task(self, settlement_pk: int) -> str:  # type: ignore[no-untyped-def]
    outcome = services.settlement_process(settlement_id=settlement_pk)
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in.total_seconds())
    return outcome.status


def enqueue_event_dispatch() -> None:
    """Hook for webhook delivery of freshly committed events (outbox)."""
    return None


def run_timers() -> dict[str, int]:
    """Run the timers once: auto-release, expiry, settlement retries."""
    now = timezone.now()
    counts = {"auto_released": 0, "expired": 0, "settlements_retried": 0, "settlements_failed": 0}
    due_milestones = (
        Milestone.objects.filter(status=MilestoneStatus.COMPLETED, escrow__status=EscrowStatus.OPENED)
        .select_related("escrow")
        .order_by("escrow_id", "index")
    )
    for milestone in due_milestones.iterator():
        lapsed = milestone.completed_at and milestone.completed_at + milestone.escrow.inspection_period <= now
        if lapsed and services.milestone_auto_release(milestone=milestone) is not None:
            counts["auto_released"] += 1
    for escrow in Escrow.objects.filter(status=EscrowStatus.AWAITING_PAYMENT, expires_at__lte=now).iterator():
        if services.escrow_expire(escrow=escrow) is not None:
            counts["expired"] += 1
    stuck = Settlement.objects.filter(
        status__in=[SettlementStatus.SCHEDULED, SettlementStatus.PROCESSING], next_attempt_at__lte=now
    )
    for settlement in stuck.iterator():
        if (
            settlement.attempts >= services.SETTLEMENT_MAX_ATTEMPTS
            and settlement.status == SettlementStatus.SCHEDULED
        ):
            if services.settlement_give_up_stuck(settlement=settlement) is not None:
                counts["settlements_failed"] += 1
            continue
        transaction.on_commit(lambda pk=settlement.pk: settlement_process_task.delay(pk))
        counts["settlements_retried"] += 1
    return counts


@shared_task(name="escrows.tasks.process_due")
def process_due() -> dict[str, int]:
    return run_timers()
