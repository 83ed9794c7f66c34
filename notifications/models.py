"""What each person is told: one notification per (event, recipient), shown in the app and
sent by email, and each person's choice of which emails they want."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Category(models.TextChoices):
    MONEY = "money", "Money movements"
    DISPUTES = "disputes", "Disputes"
    REQUESTS = "requests", "Requests and replies"
    REMINDERS = "reminders", "Reminders before a deadline"
    ACCOUNT = "account", "Escrow updates"
    WEBHOOKS = "webhooks", "Webhook endpoints"


# Emails about money and disputes cannot be switched off: each one changes what someone holds.
ALWAYS_ON = frozenset({Category.MONEY, Category.DISPUTES})


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


def user_key(user_id: int) -> str:
    return f"user:{user_id}"


def email_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: object) -> "NotificationQuerySet":
        """The user's notifications, "needs your action" first, then newest first."""
        return self.filter(recipient=user).order_by("-action_required", "-created_at", "-id")

    def unread(self) -> "NotificationQuerySet":
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One event told to one person. `recipient` is empty for someone without an account (a
    buyer invited by email); `recipient_key` names the person either way ("user:<id>" or
    "email:<address>") and makes a repeated dispatch of the same event harmless."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
    )
    recipient_key = models.CharField(max_length=300)
    email = models.EmailField(blank=True, help_text="The address at the time of the event")
    event = models.ForeignKey("escrows.Event", on_delete=models.PROTECT, related_name="notifications")
    escrow = models.ForeignKey(
        "escrows.Escrow", on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    subject = models.CharField(max_length=200)
    body_text = models.TextField()
    url = models.CharField(max_length=500, help_text="The page where the reader acts (absolute path)")
    action_label = models.CharField(max_length=80, blank=True)
    action_required = models.BooleanField(default=False, help_text="Needs the reader's action")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Pending: when the next attempt is due. Sending: when the attempt's lease runs out.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Exactly one per (event, person), however often the outbox is dispatched.
            models.UniqueConstraint(fields=["event", "recipient_key"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_recent"),
            models.Index(fields=["email_status", "next_attempt_at"], name="notification_email_due"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_key}: {self.subject}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Email on or off for one category, for an account or (before one exists) an address.
    No row means on."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_preferences",
    )
    email = models.EmailField(blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    email_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "category"], condition=Q(user__isnull=False), name="preference_per_user"
            ),
            models.UniqueConstraint(
                fields=["email", "category"], condition=Q(user__isnull=True), name="preference_per_address"
            ),
        ]

    def __str__(self) -> str:
        who = self.user_id or self.email
        return f"{who} {self.category}: {'on' if self.email_enabled else 'off'}"
