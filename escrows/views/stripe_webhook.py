"""Stripe's webhook: events Stripe signed, verified with its SDK and handed to the card payments
service. Stripe retries anything but a 2xx, so an event we do not use is acknowledged and left."""

import logging

import stripe
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import EscrowError

from .. import services, stripe_api

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    if not (settings.STRIPE_WEBHOOK_SECRET or settings.STRIPE_CONNECT_WEBHOOK_SECRET):
        return JsonResponse({"error": "Stripe webhooks are not configured here"}, status=400)
    try:
        event = stripe_api.event_from_request(request.body, request.headers.get("Stripe-Signature"))
    except stripe.SignatureVerificationError:
        return JsonResponse(
            {"error": "The Stripe-Signature header does not match this body for our webhook secret"},
            status=400,
        )
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(kind, str):
        return JsonResponse({"error": "A Stripe event has an id and a type"}, status=400)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    try:
        handled = services.stripe_event_handle(
            event_id=event_id,
            kind=kind,
            obj=obj if isinstance(obj, dict) else {},
            # A connected account's event names it (Stripe Connect).
            account=str(event.get("account") or ""),
        )
    except EscrowError as exc:
        # Not applied now (Stripe sends it again later): say why, as our API would.
        logger.warning("Stripe event %s (%s) not applied: %s", event_id, kind, exc.message)
        return JsonResponse({"error": exc.message, "code": exc.code}, status=409)
    return JsonResponse({"received": True, "duplicate": not handled})
