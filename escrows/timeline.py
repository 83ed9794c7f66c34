"""The escrow's history in words, for the person reading it: what happened, who did it (you, the
other party by name, Milestone Escrow staff, or nobody: it happened by itself), and why, with
money as money and no internal ids. The escrow page's timeline and the evidence record's
events both read it."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from .agreements import changes_words
from .models import ActorKind, Escrow, Event
from .money import format_money

STAFF_NAME = "Milestone Escrow staff"

EVENT_WORDS = {
    "escrow.created": "Escrow created",
    "escrow.edited": "Terms edited",
    "escrow.invitation_resent": "Invitation emailed again",
    "escrow.funded": "Funded",
    "escrow.completed": "Escrow completed",
    "escrow.cancelled": "Escrow cancelled",
    "escrow.refunded": "Escrow refunded",
    "escrow.disputed": "Dispute opened",
    "escrow.resumed": "Dispute closed, escrow resumed",
    "escrow.expiry_reminder_sent": "Reminder emailed: the payment link expires soon",
    "dispute.opened": "Dispute opened",
    "dispute.evidence_added": "Evidence added",
    "dispute.answered": "Dispute answered",
    "dispute.withdrawn": "Dispute withdrawn",
    "dispute.resolved": "Dispute resolved",
    "dispute.deadline_reminder_sent": "Reminder emailed: the dispute's deadline is near",
    "milestone.disputed": "Milestone disputed",
    "milestone.undisputed": "Milestone back in progress",
    "milestone.split": "Split between seller and buyer",
    "milestone.created": "Milestone added",
    "milestone.completed": "Marked delivered",
    "milestone.released": "Released",
    "milestone.partially_released": "Part released",
    "milestone.refunded": "Refunded",
    "settlement.scheduled": "Payout scheduled",
    "settlement.paid": "Payout paid",
    "settlement.failed": "Payout failed",
    "settlement.retried": "Payout retried",
    "refund.requested": "Refund requested",
    "refund.accepted": "Refund request accepted",
    "refund.declined": "Refund request declined",
    "refund.withdrawn": "Refund request withdrawn",
    "refund.superseded": "Refund request overtaken",
    "cancellation.proposed": "Mutual cancellation proposed",
    "cancellation.accepted": "Mutual cancellation accepted",
    "cancellation.declined": "Mutual cancellation declined",
    "cancellation.withdrawn": "Mutual cancellation withdrawn",
    "cancellation.superseded": "Cancellation proposal overtaken",
    "change_order.proposed": "Change proposed",
    "change_order.accepted": "Change agreed",
    "change_order.declined": "Change declined",
    "change_order.withdrawn": "Change withdrawn",
    "change_order.lapsed": "Change lapsed",
    "milestone.review_extended": "Review extended",
    "milestone.review_reminder_sent": "Review reminder emailed",
    "milestone.changes_requested": "Sent back for changes",
    "milestone.due_reminder_sent": "Reminder emailed: the stage is due soon",
    "milestone.overdue": "Stage overdue: both parties told",
    "delivery_proof.submitted": "Proof of delivery submitted",
    "time_lock.released": "Time lock passed",
}

# Reasons the services record in their own words, said for a person.
SYSTEM_REASONS = {
    "expired": "Nobody paid before the payment link expired.",
    "mutual cancellation": "As agreed in the mutual cancellation.",
    "seller refund": "The seller gave the money back.",
    "inspection period lapsed": "The buyer's review period ended without a confirmation or a dispute.",
    "auto-release on proof": "Released automatically once delivered, as the terms say.",
    "time lock passed": "Released once delivered and its time lock had passed, as the terms say.",
    "no answer in time": "Nobody answered it in time; nothing changed.",
    "escrow closed": "The escrow closed before it was answered; nothing changed.",
}
# Events whose "reason" is what a person typed (shown as their words, in quotes).
TYPED_REASONS = {
    "dispute.opened",
    "escrow.disputed",
    "milestone.disputed",
    "dispute.answered",
    "refund.requested",
    "refund.declined",
    "cancellation.proposed",
    "cancellation.declined",
    "change_order.declined",
}


def event_words(kind: str) -> str:
    return EVENT_WORDS.get(kind, kind.replace(".", " ").replace("_", " ").capitalize())


@dataclass(frozen=True)
class TimelineEntry:
    event: Event
    headline: str
    who: str  # "by you", "by Sam Seller", "by Milestone Escrow staff", "automatically", ""
    note: str
    quote: str  # what a person typed, shown as theirs


def _name(user: Any, viewer: Any) -> str:
    if user is None:
        return ""
    if viewer is not None and user.pk == getattr(viewer, "pk", None):
        return "you"
    return user.display_name


def actor_words(event: Event, escrow: Escrow, viewer: Any) -> str:
    """Who did it, from the reader's side. Staff who are not a party are "Milestone Escrow
    staff", never their own name or email."""
    actor = event.actor
    if actor is None:
        return "automatically" if event.actor_kind == ActorKind.SYSTEM else ""
    is_party = actor.pk in (escrow.seller_id, escrow.buyer_id)
    if not is_party and (event.actor_kind == ActorKind.ADMIN or getattr(actor, "is_staff", False)):
        return f"by {STAFF_NAME}"
    return f"by {_name(actor, viewer)}"


def _money(details: dict[str, Any], key: str, currency: str) -> str:
    value = details.get(key)
    return format_money(value, currency) if isinstance(value, int) and not isinstance(value, bool) else ""


def _split_words(details: dict[str, Any], currency: str) -> str:
    parts = []
    if seller := _money(details, "sellerAmount", currency):
        parts.append(f"{seller} to the seller")
    if buyer := _money(details, "buyerAmount", currency):
        parts.append(f"{buyer} back to the buyer")
    return ", ".join(parts)


def _due_note(kind: str, details: dict[str, Any], currency: str) -> str:
    """A due date reminder or overdue notice in words: the stage's amount and its due date."""
    due = details.get("dueDate")
    try:
        day = f"{timezone.localtime(datetime.fromisoformat(due)):%-d %b %Y}" if isinstance(due, str) else ""
    except ValueError:
        return ""
    if not day:
        return ""
    amount = _money(details, "amount", currency)
    was = "Was due" if kind == "milestone.overdue" else "Due"
    return f"{was} on {day}{f' ({amount})' if amount else ''}, not delivered yet."


def _reason_note(event: Event, reason: str) -> str:
    if reason in SYSTEM_REASONS:
        return SYSTEM_REASONS[reason]
    if reason.startswith("refund request "):
        return "At the buyer's refund request, accepted by the seller."
    if reason.startswith("dispute resolved"):
        return "By the dispute's ruling."
    if event.kind == "refund.superseded":
        return f"It can no longer be carried out as asked: {reason}."
    return ""


def timeline_entries(events: Iterable[Event], *, escrow: Escrow, viewer: Any) -> list[TimelineEntry]:
    """The events as the reader should read them. A mutual cancellation says who proposed it
    and who accepted it, each from the reader's side, never "cancelled by you" to the party who
    only accepted."""
    events = list(events)
    proposers = {
        e.details.get("proposal"): e.actor for e in events if e.kind == "cancellation.proposed" and e.details
    }
    currency = escrow.currency
    out = []
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        reason = details.get("reason") if isinstance(details.get("reason"), str) else ""
        headline = event_words(event.kind)
        who = actor_words(event, escrow, viewer)
        note = ""
        quote = ""
        if event.kind in TYPED_REASONS:
            quote = reason or ""
        elif reason:
            note = _reason_note(event, reason)
        if reason == "mutual cancellation":
            proposer = proposers.get(details.get("proposal"))
            if event.kind == "escrow.cancelled":
                headline = "Escrow closed by mutual cancellation"
                split = _split_words(details, currency)
                note = f"As agreed: {split}." if split else note
            if proposer is not None and event.actor is not None:
                who = f"proposed by {_name(proposer, viewer)}, accepted by {_name(event.actor, viewer)}"
        elif event.kind in ("cancellation.proposed", "cancellation.accepted"):
            split = _split_words(details, currency)
            note = f"Split: {split}." if split else ""
        elif event.kind in ("change_order.proposed", "change_order.accepted"):
            note = change_order_note(details, currency)
            quote = str(details.get("note") or "") if event.kind == "change_order.proposed" else ""
        elif event.kind == "escrow.funded":
            charged = _money(details, "charged", currency)
            note = f"{charged} paid, including the fee." if charged else ""
        elif event.kind == "milestone.partially_released":
            amount, left = _money(details, "amount", currency), _money(details, "remaining", currency)
            note = f"{amount} released; {left} still held for the stage." if amount and left else ""
        elif event.kind == "milestone.released" and _money(details, "releasedBefore", currency):
            rest = _money(details, "amount", currency)
            before = _money(details, "releasedBefore", currency)
            note = " ".join(x for x in (f"The rest, {rest} ({before} released before).", note) if x)
        elif event.kind in ("refund.requested", "refund.accepted", "milestone.refunded"):
            amount = _money(details, "amount", currency)
            note = " ".join(x for x in (f"{amount}." if amount else "", note) if x)
        elif event.kind in ("milestone.due_reminder_sent", "milestone.overdue"):
            note = _due_note(event.kind, details, currency)
        elif event.kind == "milestone.changes_requested":
            round_ = details.get("round")
            note = f"Round {round_}: back in progress until the seller delivers again." if round_ else ""
            typed = details.get("note")
            quote = typed if isinstance(typed, str) else ""
        elif event.kind in ("settlement.scheduled",):
            amount = _money(details, "amount", currency)
            note = f"{amount} to {details.get('destination')}." if amount else ""
        out.append(TimelineEntry(event=event, headline=headline, who=who, note=note, quote=quote))
    return out


def change_order_note(details: dict[str, Any], currency: str) -> str:
    """A change order's event in words: what it changes, the total, and once accepted what moved."""
    changes = details.get("changes")
    words = (
        changes_words([c for c in changes if isinstance(c, dict)], currency)
        if isinstance(changes, list)
        else ""
    )
    after = _money(details, "amountAfter", currency)
    total = f"Total {_money(details, 'amountBefore', currency)} → {after}." if after else ""
    moved = ""
    # An accepted change records both what was paid and what was refunded; one of them is 0.
    if details.get("paid"):
        paid, fee = _money(details, "paid", currency), _money(details, "fee", currency)
        moved = f"The buyer paid {paid} more, with {fee} fee."
    elif details.get("refunded"):
        refunded = _money(details, "refunded", currency)
        where = "to the card they paid with" if details.get("refundedTo") == "card" else "to their balance"
        moved = f"{refunded} back to the buyer, {where}."
    return " ".join(x for x in (f"{words[:1].upper()}{words[1:]}." if words else "", total, moved) if x)


def closing_words(escrow: Escrow, *, released: int, refunded: int) -> str:
    """Why a closed escrow that moved money both ways reads as it does ("" when it needs no
    explaining): how much went to the seller's side, how much back to the buyer."""
    if not (released and refunded):
        return ""
    both = (
        f"{format_money(released, escrow.currency)} released to the seller, "
        f"{format_money(refunded, escrow.currency)} refunded to the buyer."
    )
    if escrow.status == "COMPLETED":
        return f"{both} It reads “Completed” because it ended with a payment to the seller."
    if escrow.status == "REFUNDED":
        return f"{both} It reads “Refunded” because it ended with money going back to the buyer."
    if escrow.status == "CANCELLED":
        return f"{both} It reads “Cancelled” because both parties agreed to end it and split what was held."
    return ""
