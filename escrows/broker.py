"""Handing a task to the broker from a request, after its commit.

The change is already committed, and everything handed over here is also found later by the
process_due sweep (events left in the outbox, settlements and webhook deliveries that are due),
so a request must not wait for the broker. One attempt: no publish retries, one connection
attempt bounded by the broker's socket timeouts (CELERY_BROKER_TRANSPORT_OPTIONS in settings),
and no result backend, which nothing here reads. A failure is logged and left to the sweep."""

import logging
from typing import Any

from celery import Task

log = logging.getLogger(__name__)


def publish(task: Task, args: tuple[Any, ...] = (), **options: Any) -> bool:
    """Send `task` once; False (logged) when the broker did not take it."""
    try:
        task.apply_async(args, retry=False, ignore_result=True, **options)
    except Exception:
        log.warning(
            "could not enqueue %s%r; the process_due sweep will send it", task.name, args, exc_info=True
        )
        return False
    return True
