"""`dev.py serve` runs the timers as production's beat does, in its own process: a payout whose
first attempt failed is retried once due, instead of waiting in "Scheduled" forever."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from celery import shared_task
from django.conf import settings
from django.core.management.commands.runserver import Command as RunserverCommand
from django.utils import timezone

from escrow_site.celery import app
from escrows import services
from escrows.beat import InProcessBeat
from escrows.management.commands.runserver_with_timers import Command as ServeCommand
from escrows.models import Settlement, SettlementStatus

PROBE = "tests.in_process_beat_probe"
PROBE_RUNS = threading.Semaphore(0)


@shared_task(name=PROBE)
def probe() -> None:
    PROBE_RUNS.release()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_runs_the_beat_schedule_of_the_settings():
    beat = InProcessBeat()
    assert beat.schedule == settings.CELERY_BEAT_SCHEDULE
    assert beat.intervals == {"process-due": settings.CELERY_BEAT_SCHEDULE["process-due"]["schedule"].seconds}


@pytest.mark.django_db
def test_a_failed_payout_is_retried_when_due(seller, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=seller, amount=10_000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_withdraw(customer=seller, amount=10_000, currency="USD", destination="flaky-1-bank")
    settlement = Settlement.objects.get()
    assert (settlement.status, settlement.attempts) == (SettlementStatus.SCHEDULED, 1)
    clock = Clock()
    beat = InProcessBeat(clock=clock)
    # Not due yet: the first run (at start) leaves it alone.
    assert beat.run_due() == ["process-due"]
    assert Settlement.objects.get().status == SettlementStatus.SCHEDULED
    Settlement.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    # Due now, but the beat's interval has not passed: nothing runs.
    clock.now += 1
    assert beat.run_due() == []
    assert Settlement.objects.get().status == SettlementStatus.SCHEDULED
    clock.now += beat.intervals["process-due"]
    assert beat.run_due() == ["process-due"]
    settlement = Settlement.objects.get()
    assert (settlement.status, settlement.attempts) == (SettlementStatus.PAID, 2)


def test_a_failing_task_does_not_stop_the_next(caplog):
    clock = Clock()
    beat = InProcessBeat({"probe": {"task": PROBE, "schedule": 10}}, clock=clock)
    with mock.patch.object(app.tasks[PROBE], "apply", side_effect=RuntimeError("boom")):
        assert beat.run_due() == ["probe"]
    assert "in-process beat: probe failed" in caplog.text
    clock.now += 10
    assert beat.run_due() == ["probe"]
    assert PROBE_RUNS.acquire(timeout=1)


def test_only_fixed_intervals():
    from celery.schedules import crontab

    with pytest.raises(ValueError, match="only fixed intervals"):
        InProcessBeat({"x": {"task": PROBE, "schedule": crontab()}})


def test_the_thread_runs_the_schedule_again_and_again():
    beat = InProcessBeat({"probe": {"task": PROBE, "schedule": timedelta(seconds=0.5)}})
    thread = beat.start()
    try:
        assert thread.daemon
        assert PROBE_RUNS.acquire(timeout=5) and PROBE_RUNS.acquire(timeout=5)
    finally:
        beat.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_serve_starts_the_timers_in_the_serving_process():
    with (
        mock.patch.object(InProcessBeat, "start") as start,
        mock.patch.object(RunserverCommand, "inner_run") as serve,
    ):
        ServeCommand().inner_run(use_threading=True, no_timers=False)
        assert start.call_count == 1 and serve.call_count == 1
        ServeCommand().inner_run(use_threading=True, no_timers=True)
        assert start.call_count == 1 and serve.call_count == 2
