"""Celery tasks: each fetches ids and calls a service. Enqueued only after commit.

Every task here is safe to run twice or to be cut off halfway (acks_late + reject_on_worker_lost
hand a task whose worker died to another worker): the services it calls claim their row under a
lock first, and the process_due sweep re-drives whatever a dead worker left behind."""

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import fastcache

from . import broker, services
from .models import (
    CardPayment,
    CardPaymentStatus,
    ChangeProposal,
    Dispute,
    Escrow,
    EscrowStatus,
    Milestone,
    MilestoneStatus,
    Settlement,
    SettlementStatus,
    StripeRefund,
)

log = logging.getLogger(__name__)

BATCH = 500


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def settlement_process_task(self: Task, settlement_pk: int) -> str:
    try:
        outcome = services.settlement_process(settlement_id=settlement_pk)
    except Settlement.DoesNotExist:
        return "GONE"
    if outcome.retry_in is not None and not self.request.is_eager:
        # Exponential backoff (services.settlement_backoff); in eager mode process_due retries.
        raise self.retry(countdown=outcome.retry_in.total_seconds())
    return outcome.status


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def card_refund_process_task(self: Task, refund_pk: int) -> str:
    """Send a card refund to Stripe (services.card_refund_process), with the payouts' backoff."""
    try:
        outcome = services.card_refund_process(refund_id=refund_pk)
    except StripeRefund.DoesNotExist:
        return "GONE"
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in.total_seconds())
    return outcome.status


DISPATCH_PENDING_KEY = "events:dispatch-pending"


def enqueue_event_dispatch() -> None:
    """On-commit hook of services._internal._event: hand freshly committed events (the outbox) to the
    webhook dispatcher. If this process dies before it runs, the process_due sweep does it.

    Coalesced (EVENT_DISPATCH_COALESCE_SECONDS): a flag in the shared cache says a dispatch is
    queued and has not started; while it stands, this commit's events ride with that task,
    which clears the flag *before* it reads the outbox (webhooks.tasks.dispatch_events), so
    anything committed before the clear is read by it and anything after publishes anew.
    Publishing costs a good part of a confirm's time; one SET NX round trip does not."""
    from webhooks.tasks import dispatch_events

    if not _claim_dispatch():
        return
    if not broker.publish(dispatch_events):
        clear_dispatch_claim()


def _claim_dispatch() -> bool:
    """True when this commit must publish: coalescing is off, no dispatch is pending, or the
    cache cannot say (an outage of the cache must not hold events back)."""
    seconds = settings.EVENT_DISPATCH_COALESCE_SECONDS
    if seconds <= 0:
        return True
    try:
        return fastcache.add_flag(DISPATCH_PENDING_KEY, seconds)
    except Exception:
        log.warning("cache unavailable: event dispatch published without coalescing", exc_info=True)
        return True


def clear_dispatch_claim() -> None:
    if settings.EVENT_DISPATCH_COALESCE_SECONDS <= 0:
        return
    try:
        fastcache.delete(DISPATCH_PENDING_KEY)
    except Exception:  # the flag then expires on its own
        log.warning("cache unavailable: dispatch flag left to expire", exc_info=True)


def _ids(queryset: QuerySet) -> Iterator[int]:
    """Primary keys in batches, so a run over millions of rows holds neither a cursor nor a list."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not batch:
            return
        yield from batch
        last = batch[-1]


def _each(name: str, ids: Iterator[int], handle: Callable[[int], bool], counts: dict[str, int]) -> None:
    """Run `handle` for each id, each in its own service transaction; one failure is logged and
    the others still run."""
    for pk in ids:
        try:
            if handle(pk):
                counts[name] += 1
        except Exception:
            counts["errors"] += 1
            log.exception("process_due: %s failed for id %s", name, pk)


def _auto_release(pk: int) -> bool:
    milestone = Milestone.objects.select_related("escrow").get(pk=pk)
    return services.milestone_auto_release(milestone=milestone) is not None


def _review_deadline() -> Coalesce:
    """The stored review deadline; rows without one fall back to delivered at + inspection."""
    return Coalesce(
        F("review_deadline"),
        ExpressionWrapper(F("completed_at") + F("escrow__inspection_period"), output_field=DateTimeField()),
        output_field=DateTimeField(),
    )


def _remind(pk: int) -> bool:
    milestone = Milestone.objects.select_related("escrow").get(pk=pk)
    return services.milestone_review_remind(milestone=milestone) is not None


def _due_remind(pk: int) -> bool:
    milestone = Milestone.objects.select_related("escrow").get(pk=pk)
    return services.milestone_due_remind(milestone=milestone) is not None


def _overdue_notify(pk: int) -> bool:
    milestone = Milestone.objects.select_related("escrow").get(pk=pk)
    return services.milestone_overdue_notify(milestone=milestone) is not None


def _time_lock_release(pk: int) -> bool:
    return services.escrow_time_lock_release(escrow=Escrow.objects.get(pk=pk)) is not None


def _expire(pk: int) -> bool:
    return services.escrow_expire(escrow=Escrow.objects.get(pk=pk)) is not None


def _expiry_remind(pk: int) -> bool:
    return services.escrow_expiry_remind(escrow=Escrow.objects.get(pk=pk)) is not None


def _change_order_lapse(pk: int) -> bool:
    return services.change_order_lapse(proposal=ChangeProposal.objects.get(pk=pk)) is not None


def _dispute_remind(pk: int) -> bool:
    return services.dispute_deadline_remind(dispute=Dispute.objects.get(pk=pk)) is not None


def _dispute_default(pk: int) -> bool:
    return services.dispute_apply_default(dispute=Dispute.objects.get(pk=pk)) is not None


def _give_up_settlement(pk: int) -> bool:
    return services.settlement_give_up_stuck(settlement=Settlement.objects.get(pk=pk)) is not None


# A sweep's enqueue expires before the next sweeps would repeat it, so a backlog (workers down
# for an hour) does not pile up one copy per minute.
SWEEP_TASK_EXPIRES = 300


def _redrive_settlement(pk: int) -> bool:
    settlement_process_task.apply_async((pk,), expires=SWEEP_TASK_EXPIRES)
    return True


def _give_back_card_payment(pk: int) -> bool:
    services.card_payment_give_back(card_payment=CardPayment.objects.get(pk=pk), by=None)
    return True


def _redrive_card_refund(pk: int) -> bool:
    card_refund_process_task.apply_async((pk,), expires=SWEEP_TASK_EXPIRES)
    return True


def run_timers() -> dict[str, int]:
    """Run the timers once: auto-release, time-locked escrows whose time came, review reminders,
    due date reminders and overdue notices, expiry and its reminder, change orders nobody
    answered, dispute deadlines and their reminder, settlement retries, card payments set aside
    given back, card refunds due, then the webhook outbox and delivery retries and the
    notification emails due."""
    now = timezone.now()
    counts = {
        "auto_released": 0,
        "time_locks_released": 0,
        "review_reminders": 0,
        "due_reminders": 0,
        "overdue_notices": 0,
        "expired": 0,
        "expiry_reminders": 0,
        "change_orders_lapsed": 0,
        "disputes_defaulted": 0,
        "dispute_reminders": 0,
        "settlements_retried": 0,
        "settlements_failed": 0,
        "card_payments_given_back": 0,
        "card_refunds_sent": 0,
        "errors": 0,
    }
    in_review = Milestone.objects.filter(
        status=MilestoneStatus.COMPLETED, escrow__status=EscrowStatus.OPENED
    ).annotate(deadline=_review_deadline())
    _each("auto_released", _ids(in_review.filter(deadline__lte=now)), _auto_release, counts)
    _each("time_locks_released", _ids(services.escrows_time_lock_due(now)), _time_lock_release, counts)
    # Reminders after releases: a milestone that just lapsed is released, not reminded.
    reminders = in_review.filter(
        reminder_sent_at__isnull=True,
        deadline__gt=now,
        deadline__lte=now + settings.ESCROW_REVIEW_REMINDER_BEFORE,
    )
    _each("review_reminders", _ids(reminders), _remind, counts)
    # The reminder's window ends at the due date: a stage whose date passed is told it is late.
    _each("overdue_notices", _ids(services.milestones_overdue_due(now)), _overdue_notify, counts)
    _each("due_reminders", _ids(services.milestones_due_reminder_due(now)), _due_remind, counts)
    unpaid = Escrow.objects.filter(status=EscrowStatus.AWAITING_PAYMENT, expires_at__lte=now)
    _each("expired", _ids(unpaid), _expire, counts)
    # Reminders after the deadlines themselves: what just lapsed is acted on, not reminded.
    _each("expiry_reminders", _ids(services.escrows_expiry_reminder_due(now)), _expiry_remind, counts)
    _each("change_orders_lapsed", _ids(services.change_orders_due(now)), _change_order_lapse, counts)
    _each("disputes_defaulted", _ids(services.disputes_due(now)), _dispute_default, counts)
    _each("dispute_reminders", _ids(services.disputes_reminder_due(now)), _dispute_remind, counts)
    # A SCHEDULED retry is normally re-driven by its own Celery countdown; with a worker the
    # sweep only takes those a minute overdue (a lost countdown). PROCESSING ones are taken
    # once their lease has run out: the worker that held them died.
    eager = settlement_process_task.app.conf.task_always_eager
    overdue = now if eager else now - timedelta(seconds=60)
    max_attempts = services.settlement_max_attempts()
    exhausted = Settlement.objects.filter(status=SettlementStatus.SCHEDULED, attempts__gte=max_attempts)
    _each("settlements_failed", _ids(exhausted), _give_up_settlement, counts)
    stuck = Settlement.objects.filter(
        Q(status=SettlementStatus.SCHEDULED, next_attempt_at__lte=overdue, attempts__lt=max_attempts)
        | Q(status=SettlementStatus.PROCESSING, next_attempt_at__lte=now)
    )
    _each("settlements_retried", _ids(stuck), _redrive_settlement, counts)
    # A card payment set aside as not applied is owed back to the buyer: the next sweep gives it
    # back whole, as a Stripe refund sent at once.
    set_aside = CardPayment.objects.filter(status=CardPaymentStatus.NOT_APPLIED)
    _each("card_payments_given_back", _ids(set_aside), _give_back_card_payment, counts)
    # A card refund is due when never sent (a broker outage), its backoff ran out (with a worker,
    # a minute late: its own countdown comes first) or the run holding its lease died.
    _each("card_refunds_sent", _ids(services.card_refunds_due(overdue)), _redrive_card_refund, counts)

    from notifications.tasks import run_notification_timers
    from webhooks.tasks import run_webhook_timers

    for name, count in (run_webhook_timers() | run_notification_timers()).items():
        counts[name] = counts.get(name, 0) + count
    return counts


@shared_task(name="escrows.tasks.process_due")
def process_due() -> dict[str, int]:
    return run_timers()
