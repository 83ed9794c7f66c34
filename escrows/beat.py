"""Celery beat's schedule, run in this process: for the embedded default (`dev.py serve`), where
tasks run in-process and no beat is started, so the timers (auto-release, expiry, dispute
deadlines, payout retries, webhook and email retries) still run as they do in production."""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)


def _seconds(schedule: Any) -> float:
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, int | float):
        return float(schedule)
    raise ValueError(f"only fixed intervals run in-process, not {schedule!r}")


class InProcessBeat:
    """Runs each entry of a beat schedule (CELERY_BEAT_SCHEDULE's shape) every its interval:
    the task named, called here and now (`Task.apply`), the first time at start."""

    def __init__(
        self,
        schedule: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schedule = dict(settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule)
        self.clock = clock
        self.intervals = {name: _seconds(entry["schedule"]) for name, entry in self.schedule.items()}
        self.next_run: dict[str, float] = {}
        self._stop = threading.Event()

    def run_due(self) -> list[str]:
        """Run the entries whose time has come; the names run."""
        from escrow_site.celery import app

        now = self.clock()
        ran = []
        for name, entry in self.schedule.items():
            if self.next_run.get(name, now) > now:
                continue
            self.next_run[name] = now + self.intervals[name]
            try:
                app.tasks[entry["task"]].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
            except Exception:
                log.exception("in-process beat: %s failed", name)
            ran.append(name)
        return ran

    def seconds_to_next(self) -> float:
        if not self.next_run:
            return 0.0
        return max(0.0, min(self.next_run.values()) - self.clock())

    def run_forever(self) -> None:
        while not self._stop.is_set():
            close_old_connections()
            try:
                self.run_due()
            finally:
                # Nothing held between runs: SQLite then lets the site write freely.
                connections.close_all()
            self._stop.wait(max(self.seconds_to_next(), 0.5))

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="in-process-beat", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
