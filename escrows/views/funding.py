"""Paying an escrow through its payment link, and the wallet balance: top-up and withdrawal."""

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError, NotFound, page_message

from .. import selectors, services
from ..forms import FundForm, TopupForm
from ..models import EscrowStatus, FundingSource
from ..money import format_minor, format_money, to_minor
from ..permissions import reserved_for_other
from .common import run_service


def pay(request: HttpRequest, payment_token: str) -> HttpResponse:
    try:
        escrow = selectors.escrow_get_by_token(payment_token)
    except NotFound:
        return _payment_link_closed(request)
    role = escrow.party_role(request.user)
    if escrow.status != EscrowStatus.AWAITING_PAYMENT or escrow.payment_expired():
        # Once paid, cancelled or past its time to pay, the link shows the deal to its parties only.
        if role is None:
            return _payment_link_closed(request)
        return redirect("escrow_detail", public_id=escrow.public_id)
    form = FundForm(request.POST or None)
    if request.method == "POST":
        payer = request.user
        if not payer.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        if not form.is_valid():
            messages.error(request, "Choose how to pay: wallet balance or test card.")
            return redirect("pay", payment_token=payment_token)
        # One reference per page view: a double-submitted form funds once.
        reference = request.POST.get("reference") or None
        ok = run_service(
            request,
            lambda: services.escrow_fund(
                escrow=escrow,
                by=payer,
                source=form.cleaned_data["source"],
                card_token=form.cleaned_data["card_token"],
                reference=reference,
                terms_version=form.cleaned_data["terms_version"],
            ),
            f"Paid {format_money(escrow.total_charge, escrow.currency)}. "
            "The money is held in escrow until you confirm each stage.",
        )
        if ok:
            return redirect("escrow_detail", public_id=escrow.public_id)
        return redirect("pay", payment_token=payment_token)
    wallet = (
        selectors.wallet_balance(request.user, escrow.currency) if request.user.is_authenticated else None
    )
    return render(
        request,
        "escrows/pay.html",
        {
            "escrow": escrow,
            "role": role,
            "milestones": selectors.milestones_of(escrow),
            "form": form,
            "wallet": wallet,
            "short": wallet is not None and wallet < escrow.total_charge,
            "shortfall": format_minor(max(escrow.total_charge - (wallet or 0), 0), escrow.currency),
            "reference": f"web_{uuid.uuid4().hex}",
            "reserved_for_other": request.user.is_authenticated and reserved_for_other(escrow, request.user),
            "topup_form": TopupForm(initial={"currency": escrow.currency}),
            "card_source": FundingSource.CARD,
        },
    )


def _payment_link_closed(request: HttpRequest) -> HttpResponse:
    """The same neutral answer for a link that never existed and one no longer open."""
    return render(request, "escrows/pay_closed.html", status=404)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or ""
    # Only ever bounce back to a page on this site.
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _money_post(
    request: HttpRequest,
    form_class: type[TopupForm],
    call: Callable[[dict[str, Any], int], Any],
    success: str,
) -> None:
    """Parse a currency + amount form, call the service, flash the outcome. `success` gets the
    formatted amount in place of {}."""
    form = form_class(request.POST)
    if not form.is_valid():
        for name, errors in form.errors.items():
            label = (
                form.fields[name].label or name.replace("_", " ").capitalize() if name in form.fields else ""
            )
            text = " ".join(map(str, errors))
            messages.error(request, f"{label}: {text}" if label else text)
        return
    data = form.cleaned_data
    try:
        amount = to_minor(data["amount"], data["currency"])
    except EscrowError as exc:
        messages.error(request, page_message(exc, form))
        return
    run_service(request, lambda: call(data, amount), success.format(format_money(amount, data["currency"])))


@login_required
@require_POST
def balance_topup(request: AuthenticatedHttpRequest) -> HttpResponse:
    _money_post(
        request,
        TopupForm,
        lambda data, amount: services.wallet_topup(
            customer=request.user, amount=amount, currency=data["currency"]
        ),
        "Added {} to your balance (test deposit).",
    )
    return _back(request, reverse("balance"))
