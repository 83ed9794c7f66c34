"""Presentation helpers for templates: money in its currency, status badges, event wording."""

from datetime import timedelta
from typing import Any

from django import template
from django.conf import settings
from django.template.defaultfilters import pluralize

from escrows import timeline
from escrows.money import format_money
from escrows.permissions import sell_refusal_words
from escrows.selectors import status_shown

register = template.Library()


@register.filter
def money(minor: int | None, currency: str) -> str:
    return format_money(minor or 0, currency)


@register.filter
def may_not_sell(user: Any) -> str | None:
    """Why this person gets no create-escrow button (permissions.sell_refusal_words)."""
    return sell_refusal_words(user)


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


@register.inclusion_tag("partials/badge.html")
def escrow_status(escrow: Any) -> dict[str, Any]:
    """The escrow's status badge as a person sees it (selectors.status_shown: Disputed while a
    stage is under dispute)."""
    return badge(*status_shown(escrow))


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


@register.filter
def period(value: timedelta | None) -> str:
    """A period in words: "14 days", "1 day", "12 hours"."""
    if value is None:
        return ""
    if value.days and not value.seconds:
        return f"{value.days} day{pluralize(value.days)}"
    hours = int(value.total_seconds() // 3600)
    if hours and not value.total_seconds() % 3600:
        return f"{hours} hour{pluralize(hours)}"
    minutes = max(1, int(value.total_seconds() // 60))
    return f"{minutes} minute{pluralize(minutes)}"


@register.simple_tag
def review_extension() -> timedelta:
    """How much longer a buyer may ask to review a delivered stage (once)."""
    return settings.ESCROW_REVIEW_EXTENSION
