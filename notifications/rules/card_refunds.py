"""Notices of money going back to a card through Stripe and of chargebacks: the buyer hears that
a refund reached their card or that a payment the escrow could not take is on its way back; staff
hear what only they can see to (a refund Stripe would not make, one made outside the product, a
chargeback); both parties hear that a chargeback froze, and then freed, the escrow's money."""

from django.urls import reverse

from escrows.models import Escrow, StripeChargeback, StripeRefund

from ..models import Category
from .story import Notice, _Story, staff_readers

REASONS = {
    "fraudulent": "the cardholder says they did not make the payment",
    "product_not_received": "the buyer says they did not receive what they paid for",
    "product_unacceptable": "the buyer says what they received was not as described",
    "duplicate": "the buyer says they were charged twice",
    "subscription_canceled": "the buyer says they had cancelled",
    "credit_not_processed": "the buyer says a refund they were promised never came",
    "unrecognized": "the cardholder does not recognise the payment",
}


def _refund(s: _Story) -> StripeRefund | None:
    public_id = s.details.get("refund")
    if not isinstance(public_id, str):
        return None
    return StripeRefund.objects.filter(public_id=public_id).first()


def _refund_admin_url(s: _Story) -> str:
    refund = _refund(s)
    if refund is not None:
        return reverse("admin:escrows_striperefund_change", args=[refund.pk])
    return _escrow_admin_url(s.escrow)


def _escrow_admin_url(escrow: Escrow | None) -> str:
    if escrow is None:
        return reverse("admin:index")
    return reverse("admin:escrows_escrow_change", args=[escrow.pk])


def _to_staff(s: _Story, subject: str, body: str, *, url: str, action: str) -> list[Notice]:
    notices: list[Notice] = []
    for reader in staff_readers():
        notices += s.notice(
            reader, Category.MONEY, subject, body, url=url, action=action, required=True, on_escrow=False
        )
    return notices


def _theirs(s: _Story) -> bool:
    """Whether the payer told is the escrow's buyer (one whose payment was set aside may not be:
    another paid it first), and so may open it."""
    return s.escrow is not None and s.escrow.buyer_id == s.event.customer_id


def _card_refund_succeeded(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    theirs = _theirs(s)
    return s.notice(
        s.customer,
        Category.MONEY,
        f"{amount} is back on your card",
        f"Stripe returned {amount} from {s.title} to the card you paid with. Your bank may take "
        "a few days to show it on your statement.",
        url=s.escrow_url() if theirs else reverse("dashboard"),
        action="Open the escrow" if theirs else "Open your dashboard",
        on_escrow=theirs,
    )


def _card_refund_failed(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    error = s.details.get("error") or "Stripe did not say why"
    return _to_staff(
        s,
        f"Card refund of {amount} failed: the buyer is still owed it",
        f"Stripe would not return {amount} from {s.title} to the buyer's card: {error}\n\n"
        "The escrow already counts the money as given back, so the buyer is owed it until the "
        "refund goes through. Check the card payment in Stripe's dashboard, then send the refund "
        "again from its page.",
        url=_refund_admin_url(s),
        action="Open the card refund",
    )


def _card_refund_unrecognised(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    return _to_staff(
        s,
        f"A card refund of {amount} was made outside the product",
        f"Stripe gave {amount} of the card payment for {s.title} back to the buyer's card "
        f"(charge {s.details.get('charge') or 'unknown'}), more than any refund made here. "
        "Nothing was changed in the escrow's money: it still holds, releases and refunds as "
        "before, so the buyer may now be refunded twice. Check who made it in Stripe's dashboard.",
        url=_escrow_admin_url(s.escrow),
        action="Open the escrow",
    )


def _card_payment_given_back(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    reason = s.details.get("reason") or "The escrow could not take this payment"
    theirs = _theirs(s)
    notices = s.notice(
        s.customer,
        Category.MONEY,
        f"Your card payment of {amount} for {s.title} is being given back",
        f"Your card was charged {amount} for {s.title}, but the escrow could not take the "
        f"payment: {reason}.\n\nThe whole {amount} is being returned to the card you paid with; "
        "your bank may take a few days to show it.",
        url=s.escrow_url() if theirs else reverse("dashboard"),
        action="Open the escrow" if theirs else "Open your dashboard",
        on_escrow=theirs,
    )
    return notices + _to_staff(
        s,
        f"Card payment of {amount} given back: not applied to {s.title}",
        f"A card payment of {amount} for {s.title} could not fund the escrow ({reason}) and is "
        "being refunded through Stripe in full, fee included.",
        url=_refund_admin_url(s),
        action="Open the card refund",
    )


def _chargeback(s: _Story) -> StripeChargeback | None:
    reference = s.details.get("chargeback")
    if not isinstance(reference, str):
        return None
    return StripeChargeback.objects.filter(provider_reference=reference).first()


def _chargeback_opened(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    reason = REASONS.get(str(s.details.get("reason")), "")
    because = f": {reason}" if reason else ""
    frozen = bool(s.details.get("frozen"))
    hold = (
        "Until the bank decides, the money still held in this escrow can be neither released nor refunded."
        if frozen
        else ""
    )
    notices = s.notice(
        s.buyer(),
        Category.DISPUTES,
        f"Your bank is disputing your card payment for {s.title}",
        f"Your bank told us it is disputing your card payment of {amount} for {s.title}{because}. {hold}"
        "\n\nWe will tell you when the bank has decided.",
        url=s.escrow_url(),
        action="Open the escrow",
    )
    notices += s.notice(
        s.seller,
        Category.DISPUTES,
        f"The buyer's bank is disputing the payment for {s.title}",
        f"The buyer's bank is disputing their card payment of {amount} for {s.title}{because}. "
        f"{hold} Money already released to you is not affected.\n\nWe will tell you when the bank "
        "has decided.",
        url=s.escrow_url(),
        action="Open the escrow",
    )
    chargeback = _chargeback(s)
    url = (
        reverse("admin:escrows_stripechargeback_change", args=[chargeback.pk])
        if chargeback is not None
        else _escrow_admin_url(s.escrow)
    )
    return notices + _to_staff(
        s,
        f"Chargeback of {amount} opened on {s.title}",
        f"The buyer's bank opened a chargeback of {amount} on the card payment for {s.title} "
        f"(Stripe dispute {s.details.get('chargeback')}, reason {s.details.get('reason') or 'not given'}). "
        f"Stripe has taken the amount and its dispute fee from the platform's balance. {hold}\n\n"
        "Answer it with evidence in Stripe's dashboard before Stripe's deadline.",
        url=url,
        action="Open the chargeback",
    )


def _chargeback_closed(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    lost = s.details.get("outcome") == "LOST"
    freed = (
        "The money still held in this escrow can be released or refunded again as usual."
        if not s.details.get("frozen")
        else ""
    )
    decided = "in the buyer's favour" if lost else "in the seller's favour"
    notices = s.notice(
        s.buyer(),
        Category.DISPUTES,
        f"Your bank has decided on your card payment for {s.title}",
        f"Your bank decided the dispute of your card payment of {amount} for {s.title} {decided}"
        f"{': the amount went back to your card' if lost else ''}. {freed}",
        url=s.escrow_url(),
        action="Open the escrow",
    )
    notices += s.notice(
        s.seller,
        Category.DISPUTES,
        f"The buyer's bank has decided on the payment for {s.title}",
        f"The buyer's bank decided the dispute of their card payment of {amount} for {s.title} "
        f"{decided}. {freed} Money already released to you is not affected.",
        url=s.escrow_url(),
        action="Open the escrow",
    )
    chargeback = _chargeback(s)
    url = (
        reverse("admin:escrows_stripechargeback_change", args=[chargeback.pk])
        if chargeback is not None
        else _escrow_admin_url(s.escrow)
    )
    if lost:
        subject = f"Chargeback of {amount} lost on {s.title}: the platform bore it"
        body = (
            f"The bank decided the chargeback of {amount} on the card payment for {s.title} in the "
            "buyer's favour. Stripe keeps the amount and its dispute fee: the platform bore them. "
            "The escrow's money was not changed (what is still held releases and refunds as "
            "before), so decide whether to recover anything from the parties."
        )
    else:
        subject = f"Chargeback of {amount} won on {s.title}"
        body = (
            f"The bank decided the chargeback of {amount} on the card payment for {s.title} in the "
            "platform's favour; Stripe returns the amount to the platform's balance."
        )
    return notices + _to_staff(s, subject, f"{body} {freed}", url=url, action="Open the chargeback")
