"""What an endpoint receives, decided by its format (WebhookEndpoint.format): the event's name,
the exact body and the headers. One function per format turns an event into the message for it,
or None when that format has nothing to say about the event; `headers` signs the body the
format's way. Dispatch stores the body once (WebhookDelivery.payload) and every attempt sends it
unchanged, so retries, the delivery log and the address checks are the same for every format.

- native: our own events (WEBHOOK_EVENT_TYPES), signed with Escrow-Signature.
- payluk: Payluk's `{event, data, timestamp}` with `escrow.created` and `escrow.<status>` when
  the escrow's Payluk status changes; `data` is the Payluk-compatible API's escrow object.
- finternet: Finternet's `{id, object, type, data: {object}, created}`; `data.object` is the
  Finternet-compatible API's payment intent (the milestone for a milestone's event); a resolved
  dispute's adds `disputeId` and `disputeOutcome` (MERCHANT_WON, BUYER_WON or PARTIAL_REFUND)."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rest_framework.utils.encoders import JSONEncoder

from escrows.api.common import iso
from escrows.api.payment_intents.base import milestone_data as intent_milestone_data
from escrows.api.payment_intents.conditional_payments import dispute_outcome
from escrows.api.payment_intents.intents import intent_data
from escrows.api.provider.base import STATE_MAP, escrow_data
from escrows.models import CLOSED_STATUSES, EscrowStatus, Event
from escrows.money import format_minor

from . import signing
from .models import WebhookFormat

if TYPE_CHECKING:
    from .models import WebhookDelivery

USER_AGENT = "MilestoneEscrow-Webhooks/1.0"


@dataclass(frozen=True)
class Message:
    event_type: str  # the event's name in the endpoint's format
    body: str


def message(format: str, event: Event) -> Message | None:
    """The message an endpoint of `format` receives for `event`, or None (not sent to it)."""
    return _BY_FORMAT[format](event)


def headers(
    format: str, *, secret: str, body: bytes, delivery: "WebhookDelivery", attempt: int
) -> dict[str, str]:
    """The headers of one attempt: JSON, who is calling, the format's signature, and ours
    naming the event and the delivery (the same in every format; receivers may ignore them)."""
    sent = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Escrow-Event-Id": delivery.event.public_id,
        "Escrow-Event-Type": delivery.event_type,
        "Escrow-Delivery-Id": delivery.public_id,
        "Escrow-Delivery-Attempt": str(attempt),
    }
    if format == WebhookFormat.PAYLUK:
        sent[signing.PAYLUK_HEADER] = signing.payluk_signature(secret, body)
    elif format == WebhookFormat.FINTERNET:
        sent[signing.FINTERNET_HEADER] = signing.finternet_signature(secret, body)
    else:
        sent[signing.HEADER] = signing.signature_header(secret, body)
    return sent


def event_types(format: str) -> tuple[str, ...]:
    """The event names an endpoint of `format` may receive."""
    return _EVENT_TYPES[format]


def _escrow_status_change(event: Event) -> tuple[str, str] | None:
    """(before, after) when the event is an escrow's own change of status."""
    statuses = EscrowStatus.values
    if (
        event.kind.startswith("escrow.")
        and event.milestone_id is None
        and event.from_status in statuses
        and event.to_status in statuses
        and event.from_status != event.to_status
    ):
        return event.from_status, event.to_status
    return None


def _compact(body: dict[str, Any]) -> str:
    """No spaces, keys in the order written, text as it is (not \\u-escaped), numbers as the
    APIs render them: a receiver that parses the body and serialises it again (JSON.stringify)
    gets these exact bytes back and so the same signature."""
    return json.dumps(body, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False)


# -- native ------------------------------------------------------------------------------------

# Core Event.kind rows that are sent to customers (the rest is audit only).
WEBHOOK_EVENT_TYPES = (
    "escrow.created",
    "escrow.funded",
    "escrow.completed",
    "escrow.cancelled",
    "escrow.refunded",
    "escrow.disputed",
    "milestone.completed",
    "milestone.released",
    "milestone.partially_released",
    "milestone.disputed",
    "milestone.refunded",
    "milestone.split",
    "dispute.opened",
    "dispute.evidence_added",
    "dispute.answered",
    "dispute.withdrawn",
    "dispute.resolved",
    "milestone.review_extended",
    "milestone.review_reminder_sent",
    "milestone.changes_requested",
    "milestone.due_reminder_sent",
    "milestone.overdue",
    "settlement.paid",
    "settlement.failed",
    # refunds and mutual cancellation
    "refund.requested",
    "refund.accepted",
    "refund.declined",
    "refund.withdrawn",
    "cancellation.proposed",
    "cancellation.accepted",
    "cancellation.declined",
    "cancellation.withdrawn",
    # change orders on a funded escrow
    "change_order.proposed",
    "change_order.accepted",
    "change_order.declined",
    "change_order.withdrawn",
    "change_order.lapsed",
    # standard escrows' proofs of delivery and time-locked releases (a seller's claim after the
    # delivery window is an escrow.completed with details.claimed)
    "delivery_proof.submitted",
    "time_lock.released",
)


def event_payload(event: Event) -> dict[str, Any]:
    """The JSON body: what happened and the objects it happened to, as of the event."""
    data: dict[str, Any] = {
        "previousStatus": event.from_status or None,
        "status": event.to_status or None,
        "details": event.details,
    }
    if event.escrow is not None:
        e = event.escrow
        data["escrow"] = {
            "id": e.public_id,
            "title": e.title,
            "amount": format_minor(e.amount, e.currency),
            "fee": format_minor(e.fee, e.currency),
            "currency": e.currency,
            "seller": e.seller.customer_id,
            "buyer": e.buyer.customer_id if e.buyer else None,
            "metadata": e.metadata,
        }
    if event.milestone is not None:
        m = event.milestone
        data["milestone"] = {
            "id": m.public_id,
            "index": m.index,
            "amount": format_minor(m.amount, event.escrow.currency if event.escrow else "USD"),
        }
    if event.settlement is not None:
        s = event.settlement
        data["settlement"] = {
            "id": s.public_id,
            "amount": format_minor(s.amount, s.currency),
            "currency": s.currency,
            "method": s.method,
            "destination": s.destination,
            "reference": s.provider_reference or None,
        }
    return {
        "id": event.public_id,
        "object": "event",
        "type": event.kind,
        "sequence": event.pk,
        "created": event.created_at.isoformat(),
        "data": data,
    }


def native(event: Event) -> Message | None:
    if event.kind not in WEBHOOK_EVENT_TYPES:
        return None
    return Message(event.kind, json.dumps(event_payload(event), separators=(",", ":"), sort_keys=True))


# -- Payluk ------------------------------------------------------------------------------------


# Our escrow status -> Payluk's (state, status), as the escrow API maps them (STATE_MAP; the API
# refines some from what else it knows: CLAIMED, INVESTIGATING, SPLIT).
PAYLUK_STATES: dict[str, tuple[str, str]] = {ours.value: theirs for ours, theirs in STATE_MAP.items()}
_INVESTIGATING = ("OPENED", "INVESTIGATING")


def _payluk_change(event: Event) -> tuple[str, str, tuple[str, str]] | None:
    """For an event that may change the escrow's Payluk status: the escrow's status just after
    it, its Payluk status just before it, and its Payluk (state, status) just after it as far as
    the event tells (the escrow API may say more while the escrow is still where it left it)."""
    if event.kind == "escrow.created":
        return event.to_status, "", PAYLUK_STATES[event.to_status]
    if event.kind == "dispute.answered" and event.milestone_id is None and event.to_status == "ANSWERED":
        # A standard escrow's dispute contested: an arbiter decides (Payluk's INVESTIGATING).
        return EscrowStatus.DISPUTED, PAYLUK_STATES[EscrowStatus.DISPUTED][1], _INVESTIGATING
    change = _escrow_status_change(event)
    if change is None or change[0] not in PAYLUK_STATES or change[1] not in PAYLUK_STATES:
        return None
    return change[1], PAYLUK_STATES[change[0]][1], PAYLUK_STATES[change[1]]


def payluk(event: Event) -> Message | None:
    """`escrow.created`, then `escrow.<Payluk status>` each time the escrow's Payluk status
    changes: its own changes of status, and a standard escrow's dispute contested. A stage's
    events leave the escrow's Payluk status as it was: nothing is sent for them."""
    escrow = event.escrow
    change = _payluk_change(event) if escrow is not None else None
    if escrow is None or change is None:
        return None
    escrow_status, before, after = change
    # Nobody asks a webhook: isSeller is null (escrows.api.provider.base.escrow_output).
    data = escrow_data(escrow, viewer=None)
    if escrow.status != escrow_status or escrow_status not in CLOSED_STATUSES:
        # As of the event, whatever happened since. Only a closed escrow is told as the escrow
        # API tells it now (CLAIMED, SPLIT: how it closed), since nothing changes it any more.
        data["state"], data["status"] = after
    if data["status"] == before:
        return None
    name = event.kind if event.kind == "escrow.created" else f"escrow.{data['status'].lower()}"
    return Message(name, _compact({"event": name, "data": data, "timestamp": iso(event.created_at)}))


PAYLUK_EVENT_TYPES = (
    "escrow.created",
    "escrow.ongoing",
    "escrow.disputed",
    "escrow.investigating",
    "escrow.completed",
    "escrow.claimed",
    "escrow.split",
    "escrow.refunded",
    "escrow.cancelled",
)


# -- Finternet ---------------------------------------------------------------------------------

# Our event kind -> Finternet's event type, where the one is the other (an escrow's own change
# of status is payment_intent.status_changed).
FINTERNET_TYPES = {
    "escrow.created": "payment_intent.created",
    "milestone.completed": "milestone.completed",
    "delivery_proof.submitted": "delivery_proof.submitted",
    "time_lock.released": "time_lock.released",
    "dispute.opened": "dispute.raised",
    "dispute.resolved": "dispute.resolved",
    "settlement.scheduled": "payment_intent.settlement_initiated",
    "settlement.paid": "payment_intent.settlement_completed",
}


def finternet(event: Event) -> Message | None:
    escrow = event.escrow
    if escrow is None:
        return None
    change = _escrow_status_change(event)
    if change is not None:
        type_ = "payment_intent.status_changed"
    elif event.kind in FINTERNET_TYPES:
        type_ = FINTERNET_TYPES[event.kind]
    else:
        return None
    # A stage completed is about the stage: Finternet's milestone object (it names its intent).
    milestone = event.milestone if type_ == "milestone.completed" else None
    obj = intent_data(escrow) if milestone is None else intent_milestone_data(milestone, escrow)
    if change is not None:
        # Finternet's status_changed carries the status before it; the object the status after,
        # even when the escrow moved on again before this was sent.
        obj["status"] = change[1]
        obj["previous_status"] = change[0]
    if type_ == "dispute.resolved":
        # The outcome as it was decided, in Finternet's words, with the dispute it settled.
        details = event.details or {}
        obj["disputeId"] = details.get("dispute")
        obj["disputeOutcome"] = dispute_outcome(
            details.get("outcome", ""), details.get("sellerAmount"), details.get("buyerAmount")
        )
    body = {
        "id": event.public_id,
        "object": "event",
        "type": type_,
        "data": {"object": obj},
        "created": int(event.created_at.timestamp()),
    }
    return Message(type_, _compact(body))


FINTERNET_EVENT_TYPES = (
    "payment_intent.created",
    "payment_intent.status_changed",
    "payment_intent.settlement_initiated",
    "payment_intent.settlement_completed",
    "milestone.completed",
    "delivery_proof.submitted",
    "time_lock.released",
    "dispute.raised",
    "dispute.resolved",
)


_BY_FORMAT: dict[str, Callable[[Event], Message | None]] = {
    WebhookFormat.NATIVE: native,
    WebhookFormat.PAYLUK: payluk,
    WebhookFormat.FINTERNET: finternet,
}
_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    WebhookFormat.NATIVE: WEBHOOK_EVENT_TYPES,
    WebhookFormat.PAYLUK: PAYLUK_EVENT_TYPES,
    WebhookFormat.FINTERNET: FINTERNET_EVENT_TYPES,
}
