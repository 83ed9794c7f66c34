"""Writes for webhooks: endpoints (customer actions), dispatch of the event outbox into
delivery rows, and one delivery attempt. Same rules as escrows.services: one durable
transaction per action, row locks, side effects enqueued on commit."""

import logging
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.types import User
from core.errors import InvalidRequest, InvalidState, NotFound
from escrows import broker
from escrows.models import ActorKind, Event
from escrows.tasks import enqueue_event_dispatch
from notifications.services import notifications_create

from . import formats, transport
from .formats import Message
from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookFormat
from .urlcheck import AddressRefused, HostNotResolved, check_url, resolve_destination

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_CUSTOMER = 10
RESPONSE_SNIPPET = 500
DISPATCH_BATCH = 100


# -- endpoints -------------------------------------------------------------------------------


def _own_endpoint(endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    try:
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound("Webhook endpoint not found") from None
    if locked.customer_id != by.pk and not getattr(by, "is_staff", False):
        raise NotFound("Webhook endpoint not found")
    return locked


@transaction.atomic(durable=True)
def webhook_endpoint_create(
    *, customer: User, url: str, description: str = "", format: str = WebhookFormat.NATIVE
) -> WebhookEndpoint:
    """Register a URL; a signing secret is generated and shown to the customer. `format`: what
    the endpoint receives (webhooks.formats)."""
    if format not in WebhookFormat.values:
        raise InvalidRequest("format must be one of " + ", ".join(WebhookFormat.values), field="format")
    url = check_url(url)
    description = (description or "").strip()
    if len(description) > 200:
        raise InvalidRequest("description must be at most 200 characters", field="description")
    # Lock the customer row so two concurrent creates cannot both pass the limit.
    get_user_model().objects.select_for_update().get(pk=customer.pk)
    if WebhookEndpoint.objects.filter(customer=customer).count() >= MAX_ENDPOINTS_PER_CUSTOMER:
        raise InvalidRequest(f"At most {MAX_ENDPOINTS_PER_CUSTOMER} webhook endpoints per customer")
    return WebhookEndpoint.objects.create(customer=customer, url=url, description=description, format=format)


@transaction.atomic(durable=True)
def webhook_endpoint_set_enabled(*, endpoint: WebhookEndpoint, by: User, enabled: bool) -> WebhookEndpoint:
    endpoint = _own_endpoint(endpoint, by)
    endpoint.enabled = enabled
    endpoint.save(update_fields=["enabled", "updated_at"])
    return endpoint


@transaction.atomic(durable=True)
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, by: User) -> None:
    """Delete the endpoint and its delivery log; nothing more is sent to it."""
    _own_endpoint(endpoint, by).delete()


@transaction.atomic(durable=True)
def webhook_delivery_resend(*, delivery: WebhookDelivery, by: User) -> WebhookDelivery:
    """Send a finished (delivered or failed) delivery again, same body, fresh attempt count."""
    try:
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
    except WebhookDelivery.DoesNotExist:
        raise NotFound("Webhook delivery not found") from None
    if delivery.endpoint.customer_id != by.pk and not getattr(by, "is_staff", False):
        raise NotFound("Webhook delivery not found")
    if delivery.status == DeliveryStatus.PENDING:
        raise InvalidState("This delivery is still being attempted")
    if not delivery.endpoint.enabled:
        raise InvalidState("Enable the endpoint before resending")
    delivery.status = DeliveryStatus.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save()
    _enqueue_on_commit([(delivery.pk, 1)])
    return delivery


# -- dispatch (outbox -> delivery rows) --------------------------------------------------------


def _recipients(event: Event) -> set[int]:
    """Customers who hear about an event: the escrow's parties, a milestone's payee, and the
    customer a settlement or balance event is about."""
    ids: set[int] = set()
    if event.escrow is not None:
        ids.add(event.escrow.seller_id)
        if event.escrow.buyer_id:
            ids.add(event.escrow.buyer_id)
    if event.milestone is not None and event.milestone.payee_id:
        ids.add(event.milestone.payee_id)
    if event.customer_id:
        ids.add(event.customer_id)
    return ids


def events_dispatch() -> int:
    """Turn undispatched events into delivery rows, batch by batch. Concurrent dispatchers take
    disjoint batches (SKIP LOCKED); the unique (endpoint, event) constraint makes a repeat
    harmless anyway. Returns how many deliveries were created."""
    created = 0
    while True:
        batch_created, more = _dispatch_batch()
        created += batch_created
        if not more:
            return created


@transaction.atomic(durable=True)
def _dispatch_batch() -> tuple[int, bool]:
    events = list(
        Event.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(dispatched_at__isnull=True)
        .select_related(
            "escrow__seller", "escrow__buyer", "milestone__payee", "settlement", "customer", "actor"
        )
        .order_by("id")[:DISPATCH_BATCH]
    )
    if not events:
        return 0, False
    # The same events become notifications (app and email), in this same transaction.
    notifications_create(events=events)
    recipients = {e.pk: _recipients(e) for e in events}
    customers = set().union(*recipients.values())
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(customer_id__in=customers, enabled=True):
        endpoints.setdefault(endpoint.customer_id, []).append(endpoint)
    now = timezone.now()
    rows = []
    # Each endpoint gets the event in its own format (or not at all); one body per format.
    messages: dict[tuple[str, int], Message | None] = {}
    for event in events:
        for customer_id in recipients[event.pk]:
            for endpoint in endpoints.get(customer_id, []):
                key = (endpoint.format, event.pk)
                if key not in messages:
                    messages[key] = formats.message(endpoint.format, event)
                message = messages[key]
                if message is None:
                    continue
                rows.append(
                    WebhookDelivery(
                        endpoint=endpoint,
                        event=event,
                        event_type=message.event_type,
                        payload=message.body,
                        next_attempt_at=now,
                    )
                )
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    Event.objects.filter(pk__in=[e.pk for e in events]).update(dispatched_at=now)
    # Sent in the order the events happened (the model's default order is newest first).
    fresh = (
        WebhookDelivery.objects.filter(
            event_id__in=[e.pk for e in events], status=DeliveryStatus.PENDING, attempts=0
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _enqueue_on_commit([(pk, 1) for pk in fresh])
    return len(rows), len(events) == DISPATCH_BATCH


def _enqueue_on_commit(jobs: list[tuple[int, int]]) -> None:
    if not jobs:
        return

    def enqueue() -> None:
        from .tasks import deliver_webhook

        for pk, attempt in jobs:
            # The rows are PENDING and due: the sweep in process_due sends what is not sent here,
            # so after one refusal the rest is left to it rather than each waiting on the broker.
            if not broker.publish(deliver_webhook, (pk, attempt)):
                break

    transaction.on_commit(enqueue)


# -- one delivery attempt ----------------------------------------------------------------------


def webhook_backoff(attempts: int) -> timedelta:
    """Exponential: base, 2x base, 4x base ... after attempts 1, 2, 3 ..., capped."""
    base = settings.WEBHOOK_BACKOFF_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS))


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    retry_in: timedelta | None = None
    skipped: bool = False


@dataclass(frozen=True)
class _Response:
    status_code: int | None
    body: str
    error: str
    refused: bool = False  # the address is one we never send to: no point in trying again


def _post(url: str, body: bytes, headers: dict[str, str]) -> _Response:
    try:
        # Again at send time (DNS may have changed since the endpoint was saved), and the
        # request goes to the address checked here, not to a second lookup.
        destination = resolve_destination(url)
    except HostNotResolved as exc:
        return _Response(None, "", exc.message)
    except AddressRefused as exc:
        return _Response(None, "", f"refused: {exc.reason}", refused=True)
    except InvalidRequest as exc:
        return _Response(None, "", f"refused: {exc.message}", refused=True)
    try:
        with transport.post(
            destination, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        ) as response:
            snippet = response.raw.read(RESPONSE_SNIPPET * 4, decode_content=True) or b""
            return _Response(response.status_code, snippet.decode("utf-8", "replace")[:RESPONSE_SNIPPET], "")
    except (requests.RequestException, OSError, ValueError) as exc:
        return _Response(None, "", f"{type(exc).__name__}: {exc}"[:2000])


def webhook_deliver(*, delivery_id: int, attempt: int) -> DeliveryOutcome:
    """Make attempt number `attempt` of a delivery. Only the caller that moves `attempts` from
    attempt-1 to attempt sends, so a duplicated task never sends the same attempt twice. The
    HTTP call runs outside any transaction; the attempt's lease lets the sweep retry it if this
    process dies mid-call."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return DeliveryOutcome("GONE", skipped=True)
        if delivery.status != DeliveryStatus.PENDING or delivery.attempts != attempt - 1:
            return DeliveryOutcome(delivery.status, skipped=True)
        endpoint = delivery.endpoint
        if not endpoint.enabled:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = "endpoint disabled"
            delivery.next_attempt_at = None
            delivery.save()
            return DeliveryOutcome(delivery.status)
        delivery.attempts = attempt
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        delivery.save()
    body = delivery.payload.encode()
    headers = formats.headers(
        endpoint.format, secret=endpoint.secret, body=body, delivery=delivery, attempt=attempt
    )
    response = _post(endpoint.url, body, headers)
    with transaction.atomic(durable=True):
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.status != DeliveryStatus.PENDING or delivery.attempts != attempt:
            return DeliveryOutcome(delivery.status, skipped=True)
        done = timezone.now()
        delivery.last_status_code = response.status_code
        delivery.last_response = response.body
        delivery.last_error = response.error
        if response.status_code is not None and 200 <= response.status_code < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = done
            delivery.next_attempt_at = None
            delivery.save()
            return DeliveryOutcome(delivery.status)
        if response.refused or attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            delivery.save()
            gave_up = True
        else:
            gave_up = False
            delay = webhook_backoff(attempt)
            delivery.next_attempt_at = done + delay
            delivery.save()
    if gave_up:
        # Its own transaction, after the delivery's: the endpoint row is locked only here.
        webhook_endpoint_disable_failing(endpoint_id=endpoint.pk)
        return DeliveryOutcome(DeliveryStatus.FAILED)
    return DeliveryOutcome(DeliveryStatus.PENDING, retry_in=delay)


@transaction.atomic(durable=True)
def webhook_endpoint_disable_failing(*, endpoint_id: int) -> WebhookEndpoint | None:
    """Switch an endpoint off once its last WEBHOOK_DISABLE_AFTER_FAILURES deliveries have all
    failed (each after every retry), and tell its owner (the `webhook_endpoint.disabled` event).
    Returns the endpoint when it was switched off now."""
    needed = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    if needed <= 0:
        return None
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, enabled=True).first()
    if endpoint is None:
        return None
    recent = list(
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status__in=(DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED)
        )
        .order_by("-last_attempt_at", "-id")
        .values_list("status", "last_error", "last_status_code")[:needed]
    )
    if len(recent) < needed or any(status != DeliveryStatus.FAILED for status, _, _ in recent):
        return None
    endpoint.enabled = False
    endpoint.save(update_fields=["enabled", "updated_at"])
    _, last_error, last_code = recent[0]
    Event.objects.create(
        kind="webhook_endpoint.disabled",
        customer_id=endpoint.customer_id,
        actor_kind=ActorKind.SYSTEM,
        from_status="enabled",
        to_status="disabled",
        details={
            "endpoint": endpoint.public_id,
            "url": endpoint.url,
            "failures": needed,
            "lastError": last_error or (f"HTTP {last_code}" if last_code else ""),
        },
    )
    # The owner hears of it through the event outbox, like every other event.
    transaction.on_commit(enqueue_event_dispatch, robust=True)
    return endpoint
