"""The only writes to notifications: marking them read (more to come: creation from the event
outbox, email delivery, preferences)."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import NotFound

from .models import Notification


@transaction.atomic
def notification_mark_read(*, notification: Notification, by: Any) -> Notification:
    """The reader marks one of their notifications read (again is harmless)."""
    if notification.recipient_id is None or notification.recipient_id != getattr(by, "pk", None):
        raise NotFound("Notification not found")
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    return Notification.objects.get(pk=notification.pk)


@transaction.atomic
def notifications_mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
