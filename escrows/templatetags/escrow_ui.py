"""Presentation helpers for templates: money in its currency, status badges, event wording."""

from typing import Any

from django import template

from escrows.money import format_money

register = template.Library()


@register.filter
def money(minor: int | None, currency: str) -> str:
    return format_money(minor or 0, currency)


@register.filter
def sub(a: int | None, b: int | None) -> int:
    return (a or 0) - (b or 0)


@register.filter
def percent_of(part: int | None, whole: int | None) -> int:
    if not whole:
        return 0
    return max(0, min(100, round((part or 0) * 100 / whole)))


BADGE_TONE = {
    "AWAITING_PAYMENT": "warn",
    "OPENED": "info",
    "DISPUTED": "danger",
    "COMPLETED": "ok",
    "REFUNDED": "muted",
    "CANCELLED": "muted",
    "PENDING": "muted",
    "RELEASED": "ok",
    "SPLIT": "ok",
    "OPEN": "danger",
    "ANSWERED": "warn",
    "RESOLVED": "ok",
    "WITHDRAWN": "muted",
    "SCHEDULED": "warn",
    "PROCESSING": "info",
    "PAID": "ok",
    "FAILED": "danger",
    "REQUESTED": "warn",
    "PROPOSED": "warn",
    "ACCEPTED": "ok",
    "DECLINED": "danger",
    "SUPERSEDED": "muted",
}


@register.inclusion_tag("partials/badge.html")
def badge(status: str, label: str = "") -> dict[str, Any]:
    return {
        "status": status,
        "label": label or status.replace("_", " ").title(),
        "tone": BADGE_TONE.get(status, "muted"),
    }


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
    "dispute.opened": "Dispute opened",
    "dispute.evidence_added": "Evidence added",
    "dispute.answered": "Dispute answered",
    "dispute.withdrawn": "Dispute withdrawn",
    "dispute.resolved": "Dispute resolved",
    "milestone.disputed": "Milestone disputed",
    "milestone.undisputed": "Milestone back in progress",
    "milestone.split": "Split between seller and buyer",  # a dispute's split or a mutual cancellation
    "milestone.created": "Milestone added",
    "milestone.completed": "Marked delivered",
    "milestone.released": "Released",
    "milestone.refunded": "Refunded",
    "settlement.scheduled": "Payout scheduled",
    "settlement.paid": "Payout paid",
    "settlement.failed": "Payout failed",
    "settlement.retried": "Payout retried",
    # refunds and mutual cancellation
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
    "milestone.review_extended": "Review extended",
    "milestone.review_reminder_sent": "Review reminder emailed",
}


@register.filter
def event_words(kind: str) -> str:
    return EVENT_WORDS.get(kind, kind.replace(".", " ").replace("_", " ").capitalize())


@register.filter
def currency_exponent(currency: str) -> int:
    """Decimal places of a currency, for the split form's live sum check."""
    from escrows.money import currency_exponent as exponent

    return exponent(currency)


@register.filter
def invited_row(tab: str, escrow: Any) -> bool:
    """A Buying row waiting for the viewer's payment by their email (no buyer account on it yet):
    it links to the payment page, the escrow page being for its parties."""
    return tab == "buying" and escrow.buyer_id is None
