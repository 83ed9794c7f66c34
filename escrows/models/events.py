"""The audit trail and webhook outbox: one event per change, written with it."""

from django.conf import settings
from django.db import models

from .escrows import Escrow, Milestone, new_event_id
from .payments import Settlement


class ActorKind(models.TextChoices):
    USER = "user", "User"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Event(models.Model):
    """Audit row for every transition and money movement, written in the same transaction.
    It is also the webhook outbox: dispatched_at stays empty until delivery is enqueued."""

    public_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    kind = models.CharField(max_length=60)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customer_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="acted_events"
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices, default=ActorKind.USER)
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["escrow", "id"], name="event_escrow_seq"),
            models.Index(fields=["dispatched_at", "id"], name="event_outbox"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"
