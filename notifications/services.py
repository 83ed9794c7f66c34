"""The only writes to notifications: creating them from the event outbox, sending their emails,
marking them read, and each person's email preferences."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidRequest, NotFound

from . import selectors
from .models import ALWAYS_ON, Category, Notification, NotificationPreference


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


# -- email preferences -----------------------------------------------------------------------


def _set_preference(*, user: Any, email: str, category: str, enabled: bool) -> None:
    if user is not None:
        NotificationPreference.objects.update_or_create(
            user=user, category=category, defaults={"email_enabled": enabled, "email": ""}
        )
    else:
        NotificationPreference.objects.update_or_create(
            user=None, email=email, category=category, defaults={"email_enabled": enabled}
        )


@transaction.atomic
def notification_preferences_set(*, user: Any, email_enabled: dict[str, bool]) -> dict[str, bool]:
    """Email on or off per category for the user's account. Money and disputes cannot be
    switched off; asking to is refused."""
    for category, enabled in email_enabled.items():
        if category not in Category.values:
            raise InvalidRequest(f"Unknown kind of email: {category}", field="category")
        if category in ALWAYS_ON and not enabled:
            raise InvalidRequest(f"{Category(category).label}: these emails are always sent", field=category)
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    for category, enabled in email_enabled.items():
        if category not in ALWAYS_ON:
            _set_preference(user=user, email="", category=category, enabled=enabled)
    return selectors.email_preferences(user)


@transaction.atomic
def notifications_unsubscribe(*, recipient_key: str, category: str) -> None:
    """One-click unsubscribe from one category (the signed link in each email). An account that
    no longer exists has nothing left to stop."""
    if category in ALWAYS_ON:
        raise InvalidRequest(f"{Category(category).label}: these emails are always sent", field="category")
    kind, _, value = recipient_key.partition(":")
    if kind == "user":
        user = (
            get_user_model()
            .objects.select_for_update()
            .filter(pk=int(value) if value.isdigit() else 0)
            .first()
        )
        if user is not None:
            _set_preference(user=user, email="", category=category, enabled=False)
        return
    if kind == "email" and value:
        _set_preference(user=None, email=value.strip().lower(), category=category, enabled=False)
        return
    raise InvalidRequest("This unsubscribe link is not valid")
