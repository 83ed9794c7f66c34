"""Notices of payouts and of a webhook endpoint switched off."""

from django.urls import reverse

from escrows.money import format_money

from ..models import Category
from .story import Notice, _Story

# -- payouts and webhook endpoints ---------------------------------------------------------


def _payout(s: _Story, paid: bool) -> list[Notice]:
    settlement = s.event.settlement
    if settlement is None:
        return []
    amount = format_money(settlement.amount, settlement.currency)
    source = f" from {s.title}" if s.escrow is not None else ""
    if paid:
        ref = s.details.get("reference")
        return s.notice(
            s.customer,
            Category.MONEY,
            f"Payout of {amount} sent",
            f"{amount}{source} was paid out to {settlement.destination}"
            f"{f' (reference {ref})' if ref else ''}.",
            url=reverse("balance"),
            action="Open your balance",
            on_escrow=False,
        )
    return s.notice(
        s.customer,
        Category.MONEY,
        f"Payout of {amount} failed: the money is back in your balance",
        f"We could not pay {amount}{source} out to {settlement.destination}. The money is back in your "
        "balance; check the destination and withdraw it again.",
        url=reverse("balance"),
        action="Open your balance",
        required=True,
        on_escrow=False,
    )


def _endpoint_disabled(s: _Story) -> list[Notice]:
    d = s.details
    failures = d.get("failures")
    endpoint = d.get("endpoint")
    url = reverse("webhook_detail", args=[endpoint]) if isinstance(endpoint, str) else reverse("webhooks")
    return s.notice(
        s.customer,
        Category.WEBHOOKS,
        "Webhook endpoint switched off after repeated failures",
        f"We stopped sending events to {d.get('url', 'your endpoint')}: its last {failures} deliveries "
        "failed. Fix the endpoint, then switch it on again on its page.",
        url=url,
        action="Open the endpoint",
        required=True,
        on_escrow=False,
    )
