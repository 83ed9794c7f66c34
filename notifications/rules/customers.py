"""Notices to a customer about their own account: blocked, unblocked, or what they may do
(buy, sell) changed by the platform that manages them or by staff."""

from django.urls import reverse

from ..models import Category
from .story import Notice, _Story


def _who(s: _Story) -> str:
    actor = s.event.actor
    if actor is not None and actor.is_staff:
        return "An administrator"
    return "The platform that manages your account"


def _blocked(s: _Story) -> list[Notice]:
    return s.notice(
        s.customer,
        Category.ACCOUNT,
        "Your account is blocked",
        f"{_who(s)} blocked your account. Until it is unblocked you cannot sign in or act on any "
        "escrow. The money in your balance and in your escrows stays where it is, and the other "
        "party and the timers still act on your escrows. Ask them to unblock it.",
        url=reverse("account"),
        action="Open your account",
        on_escrow=False,
    )


def _unblocked(s: _Story) -> list[Notice]:
    return s.notice(
        s.customer,
        Category.ACCOUNT,
        "Your account is unblocked",
        f"{_who(s)} unblocked your account: you can sign in and act on your escrows again.",
        url=reverse("dashboard"),
        action="Open your dashboard",
        on_escrow=False,
    )


def _may(allowed: object, verb: str) -> str:
    return f"you may {verb}" if allowed else f"you may not {verb}"


def _permissions_changed(s: _Story) -> list[Notice]:
    d = s.details
    changes = []
    if d.get("canBuy") != d.get("canBuyBefore"):
        changes.append(_may(d.get("canBuy"), "pay for escrows as a buyer"))
    if d.get("canSell") != d.get("canSellBefore"):
        changes.append(_may(d.get("canSell"), "create escrows as a seller"))
    if not changes:
        return []
    now = " and ".join(changes)
    return s.notice(
        s.customer,
        Category.ACCOUNT,
        f"What your account may do changed: {now}",
        f"{_who(s)} changed what your account may do: from now on {now}. Escrows already paid "
        "carry on as before.",
        url=reverse("dashboard"),
        action="Open your dashboard",
        on_escrow=False,
    )
