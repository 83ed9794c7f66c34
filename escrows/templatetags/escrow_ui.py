"""Presentation helpers for templates: money in its currency, status badges, event wording."""

from typing import Any

from django import template

from escrows import timeline
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


@register.filter
def event_words(kind: str) -> str:
    return timeline.event_words(kind)


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
