"""Notices of change orders: the other party must answer a proposal (what changes, in money); the
proposer hears the answer; both parties hear an acceptance with the money it moved, and a lapse."""

from typing import Any

from escrows.agreements import changes_words, day_words

from ..models import Category
from .story import Notice, Reader, _Story


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _what(s: _Story) -> str:
    changes = s.details.get("changes")
    if not isinstance(changes, list) or s.escrow is None:
        return ""
    return changes_words([c for c in changes if isinstance(c, dict)], s.escrow.currency)


def _money_words(s: _Story, *, reader_role: str) -> str:
    """What the change does to the money, from the reader's side, before it is accepted."""
    before, after = _int(s.details.get("amountBefore")), _int(s.details.get("amountAfter"))
    difference, fee = after - before, _int(s.details.get("fee"))
    total = f"The total goes from {s.money(before)} to {s.money(after)}"
    if difference > 0:
        parts = f"{s.money(difference)} + {s.money(fee)} fee"
        who = "you pay" if reader_role == "buyer" else "the buyer pays"
        return f"{total}: {who} {s.money(difference + fee)} more ({parts}) when it is accepted."
    if difference < 0:
        who = "you get" if reader_role == "buyer" else "the buyer gets"
        return f"{total}: {who} {s.money(-difference)} back when it is accepted."
    return f"The total stays {s.money(after)}; no money moves."


def _change_order_proposed(s: _Story) -> list[Notice]:
    role = str(s.details.get("role") or "")
    proposer, other_role = s.role_reader(role), s.other_role(role)
    other = s.role_reader(other_role)
    note = str(s.details.get("note") or "").strip()
    said = f"\n\nTheir note: {note}" if note else ""
    lapses = day_words(s.details.get("lapsesAt")) if isinstance(s.details.get("lapsesAt"), str) else ""
    by_when = f" by {lapses}" if lapses else ""
    return s.notice(
        other,
        Category.REQUESTS,
        f"{s.name(proposer)} proposes a change to {s.title}",
        f"{s.name(proposer)} proposes to change {s.title}: {_what(s)}.\n\n"
        f"{_money_words(s, reader_role=other_role)}{said}\n\n"
        f"Accept or decline it{by_when}; unanswered, it lapses and nothing changes.",
        url=s.escrow_url("change-order"),
        action="Answer the proposal",
        required=True,
    )


def _moved_words(s: _Story, *, buyer: bool) -> str:
    paid, fee = _int(s.details.get("paid")), _int(s.details.get("fee"))
    refunded = _int(s.details.get("refunded"))
    if paid:
        parts = f"{s.money(paid)} + {s.money(fee)} fee"
        if not buyer:
            return f"The buyer paid {s.money(paid)} more into escrow."
        if s.details.get("paidFrom") == "CARD":
            return f"{s.money(paid + fee)} ({parts}) was charged to your card."
        return f"{s.money(paid + fee)} ({parts}) was paid from your balance."
    if refunded:
        card = s.details.get("refundedTo") == "card"
        if buyer:
            where = "the card you paid with" if card else "your balance"
            return f"{s.money(refunded)} goes back to {where}."
        return f"{s.money(refunded)} goes back to the buyer."
    return "No money moved."


def _change_order_accepted(s: _Story) -> list[Notice]:
    role = str(s.details.get("role") or "")
    after = s.money(_int(s.details.get("amountAfter")))
    notices: list[Notice] = []
    for reader_role in ("seller", "buyer"):
        reader: Reader | None = s.role_reader(reader_role)
        answerer = s.name(s.role_reader(s.other_role(role)))
        lead = (
            f"{answerer} accepted your proposed change"
            if reader_role == role
            else "You accepted the proposed change"
        )
        notices += s.notice(
            reader,
            Category.MONEY,
            f"Change to {s.title} agreed: the total is now {after}",
            f"{lead} to {s.title}: {_what(s)}.\n\n"
            f"{_moved_words(s, buyer=reader_role == 'buyer')} "
            f"The escrow's total is now {after}; the new terms are version "
            f"{_int(s.details.get('termsVersion'))}.",
            url=s.escrow_url("terms"),
            action="Open the escrow",
        )
    return notices


def _change_order_declined(s: _Story) -> list[Notice]:
    role = str(s.details.get("role") or "")
    proposer, other = s.role_reader(role), s.role_reader(s.other_role(role))
    reason = str(s.details.get("reason") or "").strip()
    return s.notice(
        proposer,
        Category.REQUESTS,
        f"{s.name(other)} declined your change to {s.title}",
        f"{s.name(other)} declined your proposed change to {s.title}. Their reason: {reason}\n\n"
        "The escrow carries on as agreed before; you can propose another change.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _change_order_withdrawn(s: _Story) -> list[Notice]:
    role = str(s.details.get("role") or "")
    proposer, other = s.role_reader(role), s.role_reader(s.other_role(role))
    return s.notice(
        other,
        Category.REQUESTS,
        f"{s.name(proposer)} withdrew their change to {s.title}",
        f"{s.name(proposer)} withdrew their proposed change to {s.title}; there is nothing to answer.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _change_order_lapsed(s: _Story) -> list[Notice]:
    """Both parties: the proposer, and the other party, who was asked to answer it (that notice
    no longer needs action: rules.ANSWERED)."""
    role = str(s.details.get("role") or "")
    proposer, other = s.role_reader(role), s.role_reader(s.other_role(role))
    closed = s.details.get("reason") == "escrow closed"
    why = (
        "the escrow closed before it was answered" if closed else f"{s.name(other)} did not answer it in time"
    )
    to_other = "the escrow closed before it was answered" if closed else "it was not answered in time"
    return s.notice(
        proposer,
        Category.REQUESTS,
        f"Your change to {s.title} lapsed",
        f"Your proposed change to {s.title} lapsed: {why}. Nothing changed.",
        url=s.escrow_url(),
        action="Open the escrow",
    ) + s.notice(
        other,
        Category.REQUESTS,
        f"{s.name(proposer)}'s change to {s.title} lapsed",
        f"{s.name(proposer)}'s proposed change to {s.title} lapsed: {to_other}. "
        "Nothing changed; there is nothing to answer.",
        url=s.escrow_url(),
        action="Open the escrow",
    )
