"""Reads scoped to the viewer: another customer's endpoint or delivery is NotFound."""

from typing import Any

from django.db.models import QuerySet

from core.errors import NotFound

from .models import WebhookDelivery, WebhookEndpoint


def endpoints_for_user(user: Any) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(customer=user).order_by("-created_at", "-id")


def endpoint_get_for_user(user: Any, public_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(public_id=public_id, customer=user).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found")
    return endpoint


def deliveries_for_user(user: Any, *, endpoint: WebhookEndpoint | None = None) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(endpoint__customer=user).select_related("endpoint", "event")
    if endpoint is not None:
        qs = qs.filter(endpoint=endpoint)
    return qs.order_by("-id")


def delivery_get_for_user(user: Any, public_id: str) -> WebhookDelivery:
    delivery = deliveries_for_user(user).filter(public_id=public_id).first()
    if delivery is None:
        raise NotFound("Webhook delivery not found")
    return delivery
