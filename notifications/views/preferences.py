"""Which emails a person gets: the settings page (signed in) and the one-click unsubscribe link
of every email (no sign-in needed; GET asks, POST unsubscribes, as RFC 8058 expects)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError

from .. import selectors, services
from ..models import ALWAYS_ON, Category
from ..tokens import TokenInvalid, read_unsubscribe_token

DESCRIPTIONS = {
    Category.MONEY: "Payments in, releases, refunds and payouts.",
    Category.DISPUTES: "Disputes opened, answered and resolved, and their deadlines.",
    Category.REQUESTS: (
        "Stages delivered for your review, refund requests, cancellation proposals and the answers."
    ),
    Category.REMINDERS: "A review period about to end, an unpaid escrow about to expire.",
    Category.ACCOUNT: "Invitations to pay, escrows cancelled or expired before payment.",
    Category.WEBHOOKS: "A webhook endpoint switched off after repeated failures.",
}


def _rows(enabled: dict[str, bool]) -> list[dict[str, object]]:
    return [
        {
            "category": c,
            "label": Category(c).label,
            "description": DESCRIPTIONS[Category(c)],
            "enabled": enabled[c],
            "always_on": c in ALWAYS_ON,
        }
        for c in Category.values
    ]


@login_required
def notification_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        chosen = {c: (c in request.POST.getlist("email")) for c in Category.values if c not in ALWAYS_ON}
        try:
            services.notification_preferences_set(user=request.user, email_enabled=chosen)
        except EscrowError as exc:
            messages.error(request, exc.for_person)
        else:
            messages.success(request, "Email settings saved.")
        return redirect("notification_settings")
    return render(
        request,
        "notifications/settings.html",
        {"rows": _rows(selectors.email_preferences(request.user))},
    )


@csrf_exempt  # the signed link is the authority; a mail client posts without cookies or token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = read_unsubscribe_token(token)
    except TokenInvalid:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    label = Category(link.category).label
    if link.category in ALWAYS_ON:
        return render(request, "notifications/unsubscribe_always_on.html", {"label": label}, status=400)
    if request.method == "POST":
        try:
            services.notifications_unsubscribe(recipient_key=link.recipient_key, category=link.category)
        except EscrowError as exc:
            return render(
                request, "notifications/unsubscribe_invalid.html", {"message": exc.for_person}, status=400
            )
        return render(request, "notifications/unsubscribe_done.html", {"label": label})
    return render(request, "notifications/unsubscribe_confirm.html", {"label": label, "token": token})
