"""Paying an escrow through its payment link, and the wallet balance: top-up and withdrawal."""

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.types import AuthenticatedHttpRequest, User
from core.errors import EscrowError, NotFound, page_message

from .. import selectors, services, stripe_api
from ..forms import FundForm, TopupForm
from ..models import CardPayment, CardPaymentStatus, Escrow, EscrowStatus, FundingSource
from ..money import format_minor, format_money, to_minor
from ..permissions import buy_refusal_words, reserved_for_other
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
            card = "card" if stripe_api.cards_through_stripe() else "test card"
            messages.error(request, f"Choose how to pay: wallet balance or {card}.")
            return redirect("pay", payment_token=payment_token)
        if form.cleaned_data["source"] == FundingSource.CARD and stripe_api.cards_through_stripe():
            return _card_page(request, escrow, payer, terms_version=form.cleaned_data["terms_version"])
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
            "buy_refusal": buy_refusal_words(request.user),
            "topup_form": TopupForm(initial={"currency": escrow.currency}),
            "card_source": FundingSource.CARD,
            "card_through_stripe": stripe_api.cards_through_stripe(),
        },
    )


def _card_page(
    request: HttpRequest, escrow: Escrow, payer: User, *, terms_version: int | None
) -> HttpResponse:
    """The buyer chose to pay by card: the card payment starts (or continues, after a reload or a
    declined card) and the page holds Stripe's Payment Element to confirm it in the browser."""
    try:
        started = services.card_payment_start(escrow=escrow, by=payer, terms_version=terms_version)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
        return redirect("pay", payment_token=escrow.payment_token)
    card_payment = started.card_payment
    wallet = selectors.wallet_balance(payer, escrow.currency)
    response = render(
        request,
        "escrows/pay_card.html",
        {
            "escrow": escrow,
            "card_payment": card_payment,
            "client_secret": started.client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "return_url": request.build_absolute_uri(reverse("pay_card_return", args=[escrow.payment_token])),
            "wallet": wallet,
            "wallet_covers": wallet >= escrow.total_charge,
            "reference": f"web_{uuid.uuid4().hex}",
        },
    )
    # The page carries the payment's client secret: no cache keeps it.
    response["Cache-Control"] = "no-store"
    return response


@login_required
def pay_card_return(request: AuthenticatedHttpRequest, payment_token: str) -> HttpResponse:
    """Where Stripe sends the buyer back after confirming their card: ask Stripe how it went
    (its webhook may have told us already) and say so. Only the payer's own card payment of this
    escrow is looked up; any other is not found."""
    card_payment = (
        CardPayment.objects.select_related("escrow")
        .filter(
            payer=request.user,
            escrow__payment_token=payment_token,
            provider_reference=request.GET.get("payment_intent") or "-",
        )
        .first()
    )
    if card_payment is None:
        raise Http404("Card payment not found")
    escrow = card_payment.escrow
    charge = format_money(card_payment.total, card_payment.currency)
    # Stripe may not be reachable now; its webhook will still tell us (the answer below: processing).
    with contextlib.suppress(EscrowError):
        card_payment = services.card_payment_refresh(card_payment=card_payment)
    if card_payment.status == CardPaymentStatus.SUCCEEDED:
        messages.success(
            request, f"Paid {charge} by card. The money is held in escrow until you confirm each stage."
        )
        return redirect("escrow_detail", public_id=escrow.public_id)
    if card_payment.status == CardPaymentStatus.DECLINED:
        messages.error(
            request,
            f"Your card payment of {charge} did not go through: {card_payment.decline_reason} "
            f"Nothing was charged. Choose Pay {charge} to try another card or pay from your balance.",
        )
    elif card_payment.status == CardPaymentStatus.NOT_APPLIED:
        messages.error(
            request,
            f"Your card was charged {charge}, but this escrow could no longer take the payment "
            "(it was paid another way, closed or changed). The money is owed back to you.",
        )
    else:
        messages.info(
            request,
            f"Your card payment of {charge} is still being processed. The escrow shows as paid "
            "as soon as Stripe confirms it; you need not pay again.",
        )
    # Funded another way meanwhile, the buyer may be a party now: read the escrow as it is.
    escrow = Escrow.objects.get(pk=escrow.pk)
    if escrow.party_role(request.user) is not None:
        return redirect("escrow_detail", public_id=escrow.public_id)
    return redirect("pay", payment_token=payment_token)


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
