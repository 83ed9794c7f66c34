"""Reads of notifications, scoped to their reader."""

from typing import Any

from .models import Notification, NotificationQuerySet


def for_user(user: Any) -> NotificationQuerySet:
    """The user's notifications: "needs your action" first, then newest first."""
    return Notification.objects.for_user(user).select_related("escrow")


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user).unread().count()


def notification_get_for_user(user: Any, pk: int) -> Notification:
    """The user's own notification; another person's is "not found"."""
    from core.errors import NotFound

    try:
        return Notification.objects.get(pk=pk, recipient=user)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotFound("Notification not found") from None
