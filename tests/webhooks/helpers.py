"""Endpoints in a format and what they are sent, for the format tests."""

import json

from webhooks import services
from webhooks.models import WebhookDelivery


def endpoint_for(customer, format, url="http://127.0.0.1:9/hooks"):
    return services.webhook_endpoint_create(customer=customer, url=url, format=format)


def sent(endpoint):
    """Dispatch the outbox; what the endpoint is sent, in the order the events happened, as
    (event name, parsed body, exact body)."""
    services.events_dispatch()
    return [
        (d.event_type, json.loads(d.payload), d.payload)
        for d in WebhookDelivery.objects.filter(endpoint=endpoint).order_by("event_id")
    ]


def names(endpoint):
    return [name for name, _, _ in sent(endpoint)]
