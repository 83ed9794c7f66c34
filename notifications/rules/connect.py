"""Notices of payouts through Stripe Connect: the person's connected account (payouts on, or what
Stripe still needs), a transfer Stripe reversed, a bank payout that failed at Stripe, and a
payout held up by the platform's own Stripe balance, which staff must see to."""

from django.urls import reverse

from escrows.money import format_money

from ..models import Category
from .story import Notice, _Story, staff_readers


def _settlement_admin_url(s: _Story) -> str:
    settlement = s.event.settlement
    assert settlement is not None
    return reverse("admin:escrows_settlement_change", args=[settlement.pk])


def _account_updated(s: _Story) -> list[Notice]:
    d = s.details
    if d.get("payoutsEnabled"):
        return s.notice(
            s.customer,
            Category.MONEY,
            "Payouts to your Stripe account are on",
            "Stripe has what it needs: your withdrawals, and the stages released to you, are now paid "
            "to your connected Stripe account.",
            url=reverse("balance"),
            action="Open your balance",
            on_escrow=False,
        )
    stopped = bool(d.get("payoutsEnabledBefore"))
    return s.notice(
        s.customer,
        Category.MONEY,
        "Stripe has stopped payouts to your account: it needs more details"
        if stopped
        else "Stripe needs more details before it can pay you",
        f"{d.get('status') or 'Stripe needs more details'}. Open your balance page and continue "
        "with Stripe to give it what it asks for."
        + (" Until then your money stays in your balance here." if stopped else ""),
        url=reverse("balance"),
        action="Continue with Stripe",
        required=True,
        on_escrow=False,
    )


def _held_up(s: _Story) -> list[Notice]:
    settlement = s.event.settlement
    if settlement is None:
        return []
    amount = format_money(settlement.amount, settlement.currency)
    notices = s.notice(
        s.customer,
        Category.MONEY,
        f"Your payout of {amount} is delayed",
        f"Your payout of {amount} to your Stripe account could not be sent yet. We are sorting it out "
        "and send it again by ourselves; you need do nothing, and the money stays yours meanwhile.",
        url=reverse("balance"),
        action="Open your balance",
        on_escrow=False,
    )
    for reader in staff_readers():
        notices += s.notice(
            reader,
            Category.MONEY,
            f"Stripe transfer of {amount} held up: the platform's Stripe balance is short",
            f"A payout of {amount} to {settlement.destination} could not be sent: "
            f"{s.details.get('error') or 'Stripe refused it'}\n\nIt is retried with backoff; top up "
            "the platform's Stripe balance (or wait for pending funds) before its attempts run out.",
            url=_settlement_admin_url(s),
            action="Open the payout",
            required=True,
            on_escrow=False,
        )
    return notices


def _reversed(s: _Story) -> list[Notice]:
    settlement = s.event.settlement
    if settlement is None:
        return []
    amount = format_money(int(s.details.get("amount") or 0), settlement.currency)
    notices = s.notice(
        s.customer,
        Category.MONEY,
        f"{amount} came back to your balance: Stripe reversed a transfer",
        f"Stripe reversed the transfer of {amount} to your Stripe account, so the money came back to "
        "us. It is back in your balance here; you can withdraw it again.",
        url=reverse("balance"),
        action="Open your balance",
        on_escrow=False,
    )
    for reader in staff_readers():
        notices += s.notice(
            reader,
            Category.MONEY,
            f"Stripe transfer reversed: {amount} back to the payee's balance",
            f"Stripe reversed {amount} of the transfer {s.details.get('transfer')} to "
            f"{settlement.destination}. It was given back to the payee's balance here.",
            url=_settlement_admin_url(s),
            action="Open the payout",
            on_escrow=False,
        )
    return notices


def _payout_failed(s: _Story) -> list[Notice]:
    d = s.details
    currency = str(d.get("currency") or "")
    minor = d.get("amount")
    amount = (
        format_money(int(minor), currency)
        if isinstance(minor, int)
        else f"{d.get('stripeAmount')} {currency}".strip()
    )
    reason = str(d.get("reason") or "Your bank did not accept it.")
    return s.notice(
        s.customer,
        Category.MONEY,
        f"Stripe could not pay {amount} to your bank",
        f"Stripe's payout of {amount} from your Stripe account to your bank failed: {reason}\n\n"
        "The money is still in your Stripe account. Check your bank details with Stripe; it pays "
        "out again once they are right.",
        url=reverse("balance"),
        action="Open your balance",
        required=True,
        on_escrow=False,
    )
