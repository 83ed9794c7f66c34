"""The only writes to notifications: creating them from the event outbox, sending their emails,
marking them read, and each person's email preferences."""

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.types import User
from core.errors import InvalidRequest, InvalidState, NotFound
from escrows import broker
from escrows.models import Event

from . import emails, rules, selectors
from .models import ALWAYS_ON, Category, EmailStatus, Notification, NotificationPreference

log = logging.getLogger(__name__)


@transaction.atomic
def notification_mark_read(*, notification: Notification, by: User) -> Notification:
    """The reader marks one of their notifications read (again is harmless)."""
    if notification.recipient_id is None or notification.recipient_id != getattr(by, "pk", None):
        raise NotFound("Notification not found")
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    return Notification.objects.get(pk=notification.pk)


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
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


# -- creation from the event outbox ------------------------------------------------------------


def _mark_answered(events: list[Event]) -> None:
    """A request that ended (answered, withdrawn, lapsed) no longer asks anyone to act: the
    notices that asked for its answer stop needing action (rules.ANSWERED)."""
    for event in events:
        asked = rules.ANSWERED.get(event.kind)
        request = event.details.get(asked[1]) if asked is not None else None
        if asked is None or event.escrow_id is None or not request:
            continue
        Notification.objects.filter(
            event__escrow_id=event.escrow_id,
            event__kind=asked[0],
            action_required=True,
            **{f"event__details__{asked[1]}": request},
        ).update(action_required=False)


def notifications_create(*, events: list[Event]) -> list[int]:
    """Write the notices these events give (notifications/rules/), at most one per (event,
    person) however often it runs, and hand the emails to the worker after the commit. Runs
    inside the outbox dispatch's transaction (webhooks.services._dispatch_batch), never inside a
    money action's. Returns the ids whose email is to be sent."""
    now = timezone.now()
    rows = []
    for event in events:
        try:
            notices = rules.notices_for(event)
        except Exception:
            # One event's telling must not hold up the outbox (and its webhooks); it is logged.
            log.exception("notifications: could not write the notices of event %s (%s)", event.pk, event.kind)
            continue
        for notice in notices:
            address = notice.reader.user.email if notice.reader.user is not None else notice.reader.email
            rows.append(
                Notification(
                    recipient=notice.reader.user,
                    recipient_key=notice.reader.key,
                    email=address or "",
                    event=event,
                    escrow=notice.escrow,
                    category=notice.category,
                    subject=" ".join(notice.subject.split())[:200],
                    body_text=notice.body,
                    url=notice.url,
                    action_label=notice.action_label,
                    action_required=notice.action_required,
                    email_status=EmailStatus.PENDING if address else EmailStatus.SKIPPED,
                    last_error="" if address else "No email address",
                    next_attempt_at=now if address else None,
                )
            )
    if rows:
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
    _mark_answered(events)
    if not rows:
        return []
    fresh = list(
        Notification.objects.filter(
            event_id__in={r.event_id for r in rows}, email_status=EmailStatus.PENDING, attempts=0
        ).values_list("pk", flat=True)
    )
    _enqueue_on_commit(fresh)
    return fresh


def _enqueue_on_commit(ids: list[int]) -> None:
    if not ids:
        return

    def enqueue() -> None:
        from .tasks import send_notification_email

        for pk in ids:
            # Each row is pending and due: the process_due sweep sends what is not handed over
            # here, so after one refusal the rest is left to it.
            if not broker.publish(send_notification_email, (pk,)):
                break

    transaction.on_commit(enqueue, robust=True)


# -- one email -----------------------------------------------------------------------------------


def notification_backoff(attempts: int) -> timedelta:
    """Exponential, as webhooks.services.webhook_backoff: base, 2x, 4x ... capped."""
    base = settings.NOTIFICATION_EMAIL_BACKOFF_SECONDS
    cap = settings.NOTIFICATION_EMAIL_BACKOFF_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry_in: timedelta | None = None
    skipped: bool = False  # this call did not attempt a send


# A countdown fires at its time or just after; a clock a little ahead must not turn it away.
_DUE_SLACK = timedelta(seconds=2)


def _due(notification: Notification, now: datetime) -> bool:
    due_at = notification.next_attempt_at
    if notification.email_status == EmailStatus.PENDING:
        return due_at is None or due_at <= now + _DUE_SLACK
    # A send whose worker died: its lease has run out.
    return notification.email_status == EmailStatus.SENDING and due_at is not None and due_at <= now


def _skip_reason(notification: Notification) -> str | None:
    user = notification.recipient
    if notification.recipient_key.startswith("user:") and user is None:
        return "The account was deleted"
    if user is not None and not user.is_active:
        return "The account is closed"
    address = user.email if user is not None else notification.email
    if not address:
        return "No email address"
    if not selectors.reader_may_see(notification):
        return "The reader can no longer see this escrow"
    if not selectors.email_wanted(recipient=user, email=address, category=notification.category):
        return f"Opted out of {Category(notification.category).label.lower()} emails"
    return None


def _refused_for_good(exc: Exception) -> str | None:
    """The error text when trying again cannot help: the server refused the address or the
    message itself (a 5xx answer), or the message could not be built."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
        if answers and all(code >= 500 for code, _ in answers):
            code, text = answers[0]
            said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
            return f"The mail server refused the address: {code} {said}"
    if isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500:
        said = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"The mail server refused the message: {exc.smtp_code} {said}"
    if isinstance(exc, ValueError | UnicodeError):
        return f"The email could not be built: {exc}"
    return None


def notification_email_send(*, notification_id: int) -> SendOutcome:
    """Send one notification's email, once. The row is claimed first (pending and due, or a
    send whose lease ran out: SKIP LOCKED, then SENDING with a lease), the mail goes out outside
    any transaction, and only the claimant records the outcome. A duplicate task finds the row
    claimed or sent and does nothing; a worker that dies between sending and recording leaves
    the lease to run out, after which it is sent once more, with the same Message-ID."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("recipient", "escrow__buyer", "event")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return SendOutcome(
                "busy" if Notification.objects.filter(pk=notification_id).exists() else "gone", skipped=True
            )
        if not _due(notification, now):
            return SendOutcome(notification.email_status, skipped=True)
        reason = _skip_reason(notification)
        if reason is not None:
            notification.email_status = EmailStatus.SKIPPED
            notification.last_error = reason
            notification.next_attempt_at = None
            notification.save(update_fields=["email_status", "last_error", "next_attempt_at"])
            return SendOutcome(notification.email_status)
        if notification.recipient is not None:
            notification.email = notification.recipient.email
        notification.email_status = EmailStatus.SENDING
        notification.attempts += 1
        notification.next_attempt_at = now + timedelta(seconds=settings.NOTIFICATION_EMAIL_LEASE_SECONDS)
        notification.save(update_fields=["email", "email_status", "attempts", "next_attempt_at"])
        attempt = notification.attempts
    error: Exception | None = None
    try:
        emails.build(notification, to=notification.email).send()
    except Exception as exc:  # every failure is recorded on the row, none escapes to the caller
        error = exc
    with transaction.atomic(durable=True):
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.email_status != EmailStatus.SENDING or notification.attempts != attempt:
            return SendOutcome(notification.email_status, skipped=True)
        done = timezone.now()
        fields = ["email_status", "last_error", "next_attempt_at", "sent_at"]
        if error is None:
            notification.email_status = EmailStatus.SENT
            notification.sent_at = done
            notification.next_attempt_at = None
            notification.last_error = ""
            notification.save(update_fields=fields)
            return SendOutcome(notification.email_status)
        permanent = _refused_for_good(error)
        notification.last_error = (permanent or f"{type(error).__name__}: {error}")[:2000]
        if permanent or attempt >= settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS:
            log.warning("notification %s email failed: %s", notification_id, notification.last_error)
            notification.email_status = EmailStatus.FAILED
            notification.next_attempt_at = None
            notification.save(update_fields=fields)
            return SendOutcome(notification.email_status)
        delay = notification_backoff(attempt)
        notification.email_status = EmailStatus.PENDING
        notification.next_attempt_at = done + delay
        notification.save(update_fields=fields)
        return SendOutcome(notification.email_status, retry_in=delay)


@transaction.atomic(durable=True)
def notification_email_resend(*, notification: Notification, by: User) -> Notification:
    """Staff send a finished email (sent, failed or skipped) again: a fresh count of attempts,
    the same Message-ID. Whether it is still wanted is decided again when it is sent."""
    if not getattr(by, "is_staff", False):
        raise NotFound("Notification not found")
    try:
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
    except Notification.DoesNotExist:
        raise NotFound("Notification not found") from None
    if notification.email_status in (EmailStatus.PENDING, EmailStatus.SENDING):
        raise InvalidState("This email is still being sent")
    notification.email_status = EmailStatus.PENDING
    notification.attempts = 0
    notification.last_error = ""
    notification.next_attempt_at = timezone.now()
    notification.save(update_fields=["email_status", "attempts", "last_error", "next_attempt_at"])
    _enqueue_on_commit([notification.pk])
    return notification
