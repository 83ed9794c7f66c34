"""Running the worker's part in tests: the event outbox into notifications, and their emails."""

from django.core import mail
from django.core.mail import EmailMessage

from notifications import services as notification_services
from notifications.models import EmailStatus, Notification
from webhooks import services as webhook_services


def dispatch() -> None:
    """What the worker does after each commit: the event outbox into notifications."""
    webhook_services.events_dispatch()


def send_all() -> None:
    """What the worker does with each notification handed to it: send its email."""
    for pk in Notification.objects.filter(email_status=EmailStatus.PENDING).values_list("pk", flat=True):
        notification_services.notification_email_send(notification_id=pk)


def told(kind: str, nth: int = -1) -> dict[str, Notification]:
    """Dispatch, then the notifications of one event of this kind (the last by default), by the
    address they go to."""
    dispatch()
    events = list(
        Notification.objects.filter(event__kind=kind).order_by("event_id").values_list("event_id", flat=True)
    )
    assert events, f"nobody was told of {kind}"
    event_id = sorted(set(events))[nth]
    return {n.email: n for n in Notification.objects.filter(event_id=event_id).select_related("recipient")}


def nobody_told(kind: str) -> bool:
    dispatch()
    return not Notification.objects.filter(event__kind=kind).exists()


def emails_of(kind: str) -> list[EmailMessage]:
    """Dispatch and send, then the emails sent for events of this kind."""
    dispatch()
    send_all()
    ids = {
        f"<notification-{pk}@"
        for pk in Notification.objects.filter(event__kind=kind).values_list("pk", flat=True)
    }
    return [m for m in mail.outbox if m.extra_headers.get("Message-ID", "").split("@")[0] + "@" in ids]
