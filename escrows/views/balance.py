"""The balance page: what a customer has, where it is, every movement with the balance after it
(for a period, as a page or a CSV file), withdrawing, which asks once before it pays out, and,
while Stripe Connect is on, connecting the Stripe account withdrawals are paid to."""

import csv
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.types import AuthenticatedHttpRequest
from core.confirmations import Confirmation
from core.errors import EscrowError

from .. import selectors, services, stripe_connect
from ..forms import StatementPeriodForm, TopupForm, WithdrawForm
from ..models import StripeAccount
from ..money import format_money, to_decimal, to_minor
from .common import run_service

STATEMENT_PAGE_SIZE = 25


def _statement(request: HttpRequest) -> tuple[StatementPeriodForm, selectors.Statement]:
    """The period asked for in the query string; an invalid one is shown with its errors and the
    statement stays unfiltered."""
    asked = any(request.GET.get(name) for name in ("date_from", "date_to", "order"))
    form = StatementPeriodForm(request.GET if asked else None)
    period: dict[str, Any] = {}
    if asked and form.is_valid():
        period = {
            "date_from": form.cleaned_data["date_from"],
            "date_to": form.cleaned_data["date_to"],
            "newest_first": form.cleaned_data["order"] != "oldest",
        }
    return form, selectors.balance_statement(request.user, **period)


def _withdraw_form(data: Any = None) -> WithdrawForm:
    """The withdrawal form; while Stripe Connect is on it asks no destination: the money goes to
    the person's connected Stripe account."""
    form = WithdrawForm(data, auto_id="withdraw_%s")
    if stripe_connect.enabled():
        del form.fields["destination"]
    return form


def _stripe_account(request: AuthenticatedHttpRequest) -> StripeAccount | None:
    if not stripe_connect.enabled():
        return None
    return StripeAccount.objects.filter(customer=request.user).first()


def _balance_page(
    request: AuthenticatedHttpRequest, *, withdraw_form: WithdrawForm | None = None
) -> HttpResponse:
    period_form, statement = _statement(request)
    paginator: Paginator[selectors.StatementRow] = Paginator(statement.rows, STATEMENT_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "escrows/balance.html",
        {
            "statement": statement,
            "totals": statement.totals,
            "page": page,
            "period_form": period_form,
            "query": query.urlencode(),
            "settlements": list(selectors.settlements_for_user(request.user)[:50]),
            "topup_form": TopupForm(auto_id="topup_%s"),
            "withdraw_form": withdraw_form or _withdraw_form(),
            "test_mode": settings.ESCROW_TEST_MODE,
            "stripe_connect": stripe_connect.enabled(),
            "stripe_account": _stripe_account(request),
        },
    )


@login_required
def balance(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _balance_page(request)


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@require_GET
def balance_statement_csv(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The statement's rows for the chosen period, amounts as decimal money with their currency."""
    form, statement = _statement(request)
    if form.is_bound and not form.is_valid():
        return _balance_page(request)
    writer = csv.writer(_Echo())

    def lines() -> Any:
        yield writer.writerow(
            [
                "Date (UTC)",
                "Type",
                "Description",
                "Escrow",
                "Currency",
                "Amount",
                "Of which fee",
                "Balance after",
            ]
        )
        for row in statement.rows:
            yield writer.writerow(
                [
                    row.at.strftime("%Y-%m-%d %H:%M:%S"),
                    row.kind_words,
                    row.description + (f" ({row.payout_words})" if row.payout_words else ""),
                    row.escrow.public_id if row.escrow is not None and row.escrow_visible else "",
                    row.currency,
                    f"{to_decimal(row.amount, row.currency):f}",
                    f"{to_decimal(row.fee, row.currency):f}" if row.fee else "",
                    f"{to_decimal(row.balance, row.currency):f}",
                ]
            )

    name = "statement"
    if statement.date_from:
        name += f"-from-{statement.date_from.isoformat()}"
    if statement.date_to:
        name += f"-to-{statement.date_to.isoformat()}"
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@dataclass(frozen=True)
class _Withdrawal:
    currency: str
    amount: int
    destination: str


def _withdrawal(
    request: AuthenticatedHttpRequest, form: WithdrawForm, available: dict[str, int]
) -> _Withdrawal | None:
    """The withdrawal the form asks for, or None with the errors on the form's fields."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        amount = to_minor(data["amount"], data["currency"])
    except EscrowError as exc:
        form.add_error("amount", getattr(exc, "for_person", None) or exc.message)
        return None
    if stripe_connect.enabled():
        account = _stripe_account(request)
        if account is None or not account.payouts_enabled:
            form.add_error(None, services.CONNECT_TO_WITHDRAW)
            return None
        destination = account.account_id
    else:
        destination = data["destination"].strip()
    if not destination:
        form.add_error("destination", "Say where the money should go.")
        return None
    have = available.get(data["currency"], 0)
    if amount > have:
        form.add_error(
            "amount",
            f"Insufficient available balance: you have {format_money(have, data['currency'])}, "
            f"so you cannot withdraw {format_money(amount, data['currency'])}.",
        )
        return None
    return _Withdrawal(currency=data["currency"], amount=amount, destination=destination)


def withdraw_confirmation(request: HttpRequest, w: _Withdrawal, available: int) -> Confirmation:
    amount = format_money(w.amount, w.currency)
    to_stripe = stripe_connect.enabled()
    where = f"your Stripe account ({w.destination})" if to_stripe else w.destination
    network = "Stripe, and Stripe pays it on to your bank" if to_stripe else "the payout network"
    return Confirmation(
        kind="withdraw",
        key="withdraw",
        title=f"Pay out {amount} to {where}?",
        button=f"Withdraw {amount}",
        action_url=reverse("balance_withdraw"),
        back_url=reverse("balance"),
        back_label="Not now",
        eyebrow="Withdraw from your balance",
        lines=(
            f"{amount} leaves your available {w.currency} balance now and is paid out to "
            f"{where} through {network}.",
            f"Your available balance goes from {format_money(available, w.currency)} to "
            f"{format_money(available - w.amount, w.currency)}. Until the payout is paid it shows "
            "as being paid out; if it fails, the money comes back to your balance.",
        ),
        fields=(
            ("currency", w.currency),
            ("amount", f"{to_decimal(w.amount, w.currency):f}"),
            *(() if to_stripe else (("destination", w.destination),)),
        ),
    )


@login_required
def balance_withdraw(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: what the withdrawal will do, asked once (a page, or the dialog's content for the
    page's script); POST: the payout, scheduled."""
    available = {t.currency: t.available for t in selectors.statement_totals(request.user)}
    if request.method == "POST":
        form = _withdraw_form(request.POST)
        asked = _withdrawal(request, form, available)
        if asked is None:
            return _balance_page(request, withdraw_form=form)
        w = asked
        where = f"your Stripe account ({w.destination})" if stripe_connect.enabled() else w.destination
        ok = run_service(
            request,
            lambda: services.wallet_withdraw(
                customer=request.user, amount=w.amount, currency=w.currency, destination=w.destination
            ),
            f"Payout of {format_money(w.amount, w.currency)} scheduled to {where}.",
        )
        return redirect("balance") if ok else _balance_page(request, withdraw_form=form)
    form = _withdraw_form(request.GET)
    asked = _withdrawal(request, form, available)
    if asked is None:
        if request.htmx:
            return HttpResponse(status=204)  # the script then sends the form itself
        return _balance_page(request, withdraw_form=form)
    confirmation = withdraw_confirmation(request, asked, available.get(asked.currency, 0))
    if request.htmx:
        return render(request, "partials/confirm_dialog.html", {"c": confirmation})
    return render(request, "confirm.html", {"confirmation": confirmation})


# -- connecting a Stripe account (Stripe Connect) --------------------------------------------


def _stripe_urls(request: HttpRequest) -> dict[str, str]:
    return {
        "refresh_url": request.build_absolute_uri(reverse("balance_stripe_refresh")),
        "return_url": request.build_absolute_uri(reverse("balance_stripe_return")),
    }


@login_required
@require_POST
def balance_stripe_connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The button "Connect a Stripe account to get paid": on to Stripe's onboarding (the account
    is made on the first visit; again continues it)."""
    return _to_stripe_onboarding(request)


@login_required
@require_GET
def balance_stripe_refresh(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Stripe sends the person here when their onboarding link has lapsed: a fresh one."""
    if _stripe_account(request) is None:
        return redirect("balance")
    return _to_stripe_onboarding(request)


def _to_stripe_onboarding(request: AuthenticatedHttpRequest) -> HttpResponse:
    """On to a fresh link to Stripe's onboarding, or back to the balance page saying why not."""
    try:
        url = services.stripe_account_onboard(customer=request.user, **_stripe_urls(request))
    except EscrowError as exc:
        messages.error(request, exc.for_person)
        return redirect("balance")
    return redirect(url)


@login_required
@require_GET
def balance_stripe_return(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Back from Stripe's onboarding: what Stripe says of the account now, in words."""
    try:
        account = services.stripe_account_refresh(customer=request.user)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
        return redirect("balance")
    if account is not None:
        if account.payouts_enabled:
            messages.success(request, "Your Stripe account is connected: payouts enabled.")
        else:
            messages.info(request, f"{account.status_words}.")
    return redirect(f"{reverse('balance')}#stripe-account")
