"""Reads of notifications, scoped to their reader."""

from typing import Any

from django.db.models import Q

from core.errors import NotFound

from .models import ALWAYS_ON, Category, Notification, NotificationPreference, NotificationQuerySet


def for_user(user: Any) -> NotificationQuerySet:
    """The user's notifications: "needs your action" first, then newest first."""
    return Notification.objects.for_user(user).select_related("escrow")


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user).unread().count()


def notification_get_for_user(user: Any, pk: int) -> Notification:
    """The user's own notification; another person's is "not found"."""
    try:
        return Notification.objects.get(pk=pk, recipient=user)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotFound("Notification not found") from None


def email_preferences(user: Any) -> dict[str, bool]:
    """Email on or off per category for the user (no row: on; money and disputes: always on)."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("category", "email_enabled"))
    return {c: (c in ALWAYS_ON) or chosen.get(c, True) for c in Category.values}


def email_wanted(*, recipient: Any, email: str, category: str) -> bool:
    """Whether this person wants emails of this category: always for money and disputes; else
    unless they switched it off (on their account, or on their address before they had one)."""
    if category in ALWAYS_ON:
        return True
    rows = NotificationPreference.objects.filter(category=category, email_enabled=False)
    by_address = Q(user__isnull=True, email=email.strip().lower()) if email else Q(pk__in=[])
    if recipient is not None:
        return not rows.filter(Q(user=recipient) | by_address).exists()
    return not rows.filter(by_address).exists()


def reader_may_see(notification: Notification) -> bool:
    """Whether the reader may still open the escrow the notification is about: a party to it, or
    the address it still names as the buyer (an invitation). Notices about the reader's own
    pages (their balance, their webhook endpoint) carry no escrow."""
    escrow = notification.escrow
    if escrow is None:
        return True
    user = notification.recipient
    if user is not None and escrow.party_role(user) is not None:
        return True
    address = (user.email if user is not None else notification.email).strip().lower()
    if not address:
        return False
    if escrow.buyer_id is None:
        return escrow.buyer_email == address
    return user is None and escrow.buyer is not None and escrow.buyer.email.lower() == address
