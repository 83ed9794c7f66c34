"""Customers' webhook endpoints and one delivery row per (event, endpoint): the delivery log."""

import secrets

from django.conf import settings
from django.db import models


def new_endpoint_id() -> str:
    return "we_" + secrets.token_hex(12)


def new_delivery_id() -> str:
    return "whd_" + secrets.token_hex(12)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookFormat(models.TextChoices):
    """The shape of what an endpoint receives: our own events, or Payluk's or Finternet's
    envelope, event names and signature, so a receiver written for that provider works as it is
    (webhooks.formats)."""

    NATIVE = "native", "This server's own"
    PAYLUK = "payluk", "Payluk"
    FINTERNET = "finternet", "Finternet"


class WebhookEndpoint(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=new_endpoint_id, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # Kept readable: the HMAC needs it, and the customer may look it up again.
    secret = models.CharField(max_length=80, default=new_secret)
    enabled = models.BooleanField(default=True)
    format = models.CharField(max_length=20, choices=WebhookFormat.choices, default=WebhookFormat.NATIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "enabled"], name="webhook_endpoint_customer")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUCCEEDED = "SUCCEEDED", "Delivered"
    FAILED = "FAILED", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint. `payload` is the exact body sent on every attempt."""

    public_id = models.CharField(max_length=40, unique=True, default=new_delivery_id, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("escrows.Event", on_delete=models.PROTECT, related_name="webhook_deliveries")
    # As the endpoint's format names it (`escrow.ongoing` for a Payluk endpoint).
    event_type = models.CharField(max_length=60)
    payload = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_response = models.TextField(blank=True, help_text="First bytes of the receiver's answer")
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Exactly one delivery per (event, endpoint), however many dispatchers run at once.
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.event_type} -> {self.endpoint_id}"
