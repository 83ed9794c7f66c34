"""Agreed terms and change orders in words: each version of an escrow's terms (who proposed it,
who agreed and when, what it changed) and each change a change order makes, with money as
money. The escrow page, the evidence record and the notices read them."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import dateformat, timezone
from django.utils.dateparse import parse_datetime

from .models import Escrow, Milestone, TermsReason, TermsVersion
from .money import format_money


def day_words(moment: datetime | str | None) -> str:
    """ "5 Dec 2026" in the site's time zone."""
    if isinstance(moment, str):
        moment = parse_datetime(moment)
    if moment is None:
        return ""
    return dateformat.format(timezone.localtime(moment), "j M Y")


def _quoted(text: Any) -> str:
    text = " ".join(str(text or "").split())
    return f"“{text}”" if text else ""


def _money(value: Any, currency: str) -> str:
    return format_money(int(value or 0), currency)


def _stage(index: Any, title: Any = "") -> str:
    name = f"stage {int(index) + 1}" if isinstance(index, int) and not isinstance(index, bool) else "a stage"
    quoted = _quoted(title)
    if quoted and quoted.lower() != f"“{name}”":
        return f"{name} {quoted}"
    return name


def _side(change: dict[str, Any], key: str) -> dict[str, Any]:
    value = change.get(key)
    return value if isinstance(value, dict) else {}


def change_words(change: dict[str, Any], currency: str) -> str:
    """One change of a change order (or a stage added before payment), as a person reads it:
    "stage 4 “Launch” added (300.00 USD)", "stage 2: amount 500.00 USD → 400.00 USD",
    "stage 3 “Copy” removed (200.00 USD)"."""
    kind = change.get("kind")
    if kind == "add":
        due = f", due {day_words(change['dueDate'])}" if change.get("dueDate") else ""
        amount = _money(change.get("amount"), currency)
        return f"{_stage(change.get('index'), change.get('title'))} added ({amount}{due})"
    if kind == "remove":
        return (
            f"{_stage(change.get('index'), change.get('title'))} removed "
            f"({_money(change.get('amount'), currency)})"
        )
    before = _side(change, "before")
    after = _side(change, "after")
    parts = []
    if "amount" in after:
        parts.append(f"amount {_money(before.get('amount'), currency)} → {_money(after['amount'], currency)}")
    if "title" in after:
        parts.append(f"title {_quoted(before.get('title')) or 'none'} → {_quoted(after['title']) or 'none'}")
    if "description" in after:
        parts.append("description changed")
    if "dueDate" in after:
        if after["dueDate"] is None:
            parts.append("due date removed")
        elif before.get("dueDate"):
            parts.append(f"due date {day_words(before['dueDate'])} → {day_words(after['dueDate'])}")
        else:
            parts.append(f"due {day_words(after['dueDate'])}")
    name = _stage(change.get("index"), before.get("title", change.get("title")))
    return f"{name}: {', '.join(parts) or 'unchanged'}"


def changes_words(changes: Iterable[dict[str, Any]], currency: str) -> str:
    return "; ".join(change_words(c, currency) for c in changes)


@dataclass(frozen=True)
class VersionLine:
    """One version of the terms as the escrow page lists it."""

    version: TermsVersion
    number: int
    current: bool
    who: str  # "proposed by the seller on 5 Dec 2026, agreed by the buyer on 6 Dec 2026"
    what: str  # "stage 4 added (300.00 USD)"


def _role_words(role: str, viewer_role: str | None) -> str:
    return "you" if role == viewer_role else f"the {role}"


def _what(version: TermsVersion) -> str:
    currency = version.currency
    if version.changes:
        words = changes_words(version.changes, currency)
        total = f"total {_money(version.amount, currency)}"
        return f"{words} ({total})" if version.reason == TermsReason.CHANGE_ORDER else words
    stages = len(version.stages)
    fee = f" + {_money(version.fee, currency)} fee" if version.fee else ""
    days = version.terms.get("inspectionPeriodDays")
    inspection = f", {days}-day inspection period" if isinstance(days, int) else ""
    count = f"{stages} stage{'s' if stages != 1 else ''}, " if stages else ""
    lead = "created" if version.reason == TermsReason.CREATED else "terms edited"
    return f"{lead}: {count}{_money(version.amount, currency)}{fee}{inspection}"


def version_line(version: TermsVersion, *, current: bool, viewer_role: str | None) -> VersionLine:
    proposer = version.proposer_role
    other = "buyer" if proposer == "seller" else "seller"
    who = [f"proposed by {_role_words(proposer, viewer_role)} on {day_words(version.proposed_at)}"]
    agreed = version.agreed_at(other)
    if agreed is not None:
        paid = " (by paying)" if other == "buyer" and version.reason != TermsReason.CHANGE_ORDER else ""
        who.append(f"agreed by {_role_words(other, viewer_role)} on {day_words(agreed)}{paid}")
    elif current:
        who.append(f"awaiting {'your' if other == viewer_role else f'the {other}’s'} agreement")
    else:
        who.append(f"replaced before {_role_words(other, viewer_role)} agreed")
    return VersionLine(
        version=version, number=version.number, current=current, who=", ".join(who), what=_what(version)
    )


def unchanged_version(escrow: Escrow, milestones: Sequence[Milestone]) -> TermsVersion:
    """The one version of an escrow whose terms never changed (version 1): what it is now, as the
    seller created it and (once paid) the buyer agreed to it. Every change moves the number on, so
    a page can show it without reading the recorded row."""
    return TermsVersion(
        escrow=escrow,
        number=1,
        reason=TermsReason.CREATED,
        terms={
            "title": escrow.title,
            "currency": escrow.currency,
            "amount": escrow.amount,
            "fee": escrow.fee,
            "inspectionPeriodDays": escrow.inspection_days,
            "milestones": [{"index": m.index, "amount": m.amount} for m in milestones],
        },
        proposer_role="seller",
        proposed_at=escrow.created_at,
        seller_agreed_at=escrow.created_at,
        buyer_agreed_at=escrow.funded_at,
    )


def terms_history(escrow: Escrow, versions: Sequence[TermsVersion], viewer: Any) -> list[VersionLine]:
    """The versions of the terms, newest first, each with who agreed and what it changed."""
    viewer_role = escrow.party_role(viewer)
    ordered = sorted(versions, key=lambda v: v.number, reverse=True)
    return [
        version_line(v, current=v.number == escrow.terms_version, viewer_role=viewer_role) for v in ordered
    ]
