"""One notification as one email: plain text and HTML from templates, a Message-ID that stays the
same on every attempt (a resend after a lost acknowledgement is the same message), and the
one-click unsubscribe headers (RFC 8058) for the kinds of email that can be switched off."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from escrows.money import format_money

from .models import ALWAYS_ON, Category, Notification
from .tokens import unsubscribe_token


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def message_id(notification: Notification) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "escrow.invalid"
    return f"<notification-{notification.pk}@{domain}>"


def unsubscribe_url(notification: Notification) -> str | None:
    if notification.category in ALWAYS_ON:
        return None
    token = unsubscribe_token(recipient_key=notification.recipient_key, category=notification.category)
    return absolute(reverse("notification_unsubscribe", args=[token]))


def _because(notification: Notification) -> str:
    escrow = notification.escrow
    if escrow is None:
        return "the holder of this account"
    if notification.recipient_id is not None and notification.recipient_id == escrow.seller_id:
        return "the seller in this escrow"
    if escrow.buyer_id is None:
        return "named as the buyer in this escrow"
    return "the buyer in this escrow"


def build(notification: Notification, *, to: str) -> EmailMultiAlternatives:
    escrow = notification.escrow
    unsubscribe = unsubscribe_url(notification)
    context = {
        "subject": notification.subject,
        "preview": notification.body_text.split("\n")[0][:140],
        "paragraphs": [p.strip() for p in notification.body_text.split("\n\n") if p.strip()],
        "escrow": escrow,
        "amount": format_money(escrow.amount, escrow.currency) if escrow is not None else "",
        "link": absolute(notification.url),
        "action_label": notification.action_label or "Open Milestone Escrow",
        "because": _because(notification),
        "category_label": Category(notification.category).label,
        "unsubscribe_url": unsubscribe,
        "settings_url": absolute(reverse("notification_settings")),
    }
    headers = {"Message-ID": message_id(notification)}
    if unsubscribe is not None:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=render_to_string("notifications/email/notice.txt", context),
        to=[to],
        headers=headers,
    )
    message.attach_alternative(render_to_string("notifications/email/notice.html", context), "text/html")
    return message
