"""HTML pages. Reads go through selectors, every POST through one service; an EscrowError
becomes a flash message (or a form error) and a redirect. No view knows a business rule."""

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .errors import EscrowError, NotFound
from .filters import EscrowFilter
from .forms import (
    DeliverForm,
    EscrowForm,
    FundForm,
    MilestoneForm,
    MilestoneFormSet,
    TopupForm,
    WithdrawForm,
    attach_error,
    terms_from_forms,
)
from .models import Escrow, EscrowStatus, FundingSource, Milestone, MilestoneStatus
from .money import fee_for, format_minor, format_money, normalize_currency, to_minor
from .permissions import escrow_actions, reserved_for_other

PAGE_SIZE = 20


def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html")


# -- helpers --------------------------------------------------------------------------------


def _escrow_or_404(request: HttpRequest, public_id: str) -> Escrow:
    try:
        return selectors.escrow_get_for_user(request.user, public_id)
    except NotFound:
        raise Http404("Escrow not found") from None


def _milestone_or_404(escrow: Escrow, milestone_id: str) -> Milestone:
    try:
        return selectors.milestone_get(escrow, milestone_id)
    except NotFound:
        raise Http404("Milestone not found") from None


def _run(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    """Call a service; report the outcome as a flash message."""
    try:
        action()
    except EscrowError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def escrow_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """POST-only, logged-in, escrow resolved for the viewer (404 for anyone else)."""

    @login_required
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, public_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, _escrow_or_404(request, public_id), *args, **kwargs)

    return wrapper


# -- dashboard ------------------------------------------------------------------------------


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    tab = "buying" if request.GET.get("tab") == "buying" else "selling"
    base = selectors.with_review_clock(selectors.escrows_for_user(request.user, role=tab))
    filterset = EscrowFilter(request.GET, queryset=selectors.with_progress(base))
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filtered = bool(request.GET.get("status") or request.GET.get("q"))
    template = "escrows/_escrow_list.html" if request.htmx else "escrows/dashboard.html"
    return render(
        request,
        template,
        {
            "tab": tab,
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "filtered": filtered,
        },
    )


# -- create / edit --------------------------------------------------------------------------


def _escrow_form_page(request: HttpRequest, escrow: Escrow | None) -> HttpResponse:
    if request.method == "POST":
        form = EscrowForm(request.POST)
        data = request.POST.copy()
        if "preview" in data:
            # Without JavaScript, "Preview fees" shows the quote for the form as typed.
            return _render_escrow_form(request, escrow, form, MilestoneFormSet(data), quiet=True)
        if "add_row" in data:
            # Without JavaScript, "Add milestone" posts the form back with one more row.
            prefix = MilestoneFormSet().prefix
            rows = data.get(f"{prefix}-TOTAL_FORMS") or "0"
            count = int(rows) if rows.isascii() and rows.isdigit() else 0  # "²" is a digit to isdigit()
            data[f"{prefix}-TOTAL_FORMS"] = str(min(count, 50) + 1)
            formset = MilestoneFormSet(data)
            return _render_escrow_form(request, escrow, EscrowForm(data), formset, quiet=True)
        formset = MilestoneFormSet(request.POST)
        if form.is_valid() and formset.is_valid():
            try:
                terms, milestones = terms_from_forms(form, formset)
                if escrow is None:
                    escrow = services.escrow_create(seller=request.user, terms=terms, milestones=milestones)
                    messages.success(request, "Escrow created. Share the payment link with your buyer.")
                else:
                    escrow = services.escrow_edit(
                        escrow=escrow, by=request.user, terms=terms, milestones=milestones
                    )
                    messages.success(request, "Escrow updated. The fee was recalculated.")
                return redirect("escrow_detail", public_id=escrow.public_id)
            except EscrowError as exc:
                attach_error(form, formset, exc)
        return _render_escrow_form(request, escrow, form, formset)
    if escrow is None:
        form = EscrowForm()
        formset = MilestoneFormSet()
    else:
        form = EscrowForm(initial=EscrowForm.initial_for(escrow))
        formset = MilestoneFormSet(
            initial=[MilestoneForm.initial_for(m, escrow.currency) for m in selectors.milestones_of(escrow)]
        )
        formset.min_num = 0
    return _render_escrow_form(request, escrow, form, formset)


def _render_escrow_form(
    request: HttpRequest, escrow: Escrow | None, form: EscrowForm, formset: Any, quiet: bool = False
) -> HttpResponse:
    schedule = settings.ESCROW_FEE_SCHEDULE
    return render(
        request,
        "escrows/escrow_form.html",
        {
            "escrow": escrow,
            "form": form,
            "formset": formset,
            "quiet": quiet,
            "quote": _quote(form, formset, request.user),
            "exponents_json": json.dumps(settings.ESCROW_CURRENCIES),
            "fee_percent": schedule["basis_points"] / 100,
            "fee_min": schedule["min_major"],
            "fee_max": schedule["max_major"],
        },
    )


@login_required
def escrow_new(request: HttpRequest) -> HttpResponse:
    return _escrow_form_page(request, None)


@login_required
def escrow_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    escrow = _escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    actions = escrow_actions(escrow, milestones, request.user)
    if not actions.can_edit:
        if actions.role == "seller":
            messages.error(request, f"{escrow.edit_refusal(milestones)}.")
        else:
            messages.error(request, "Only the seller who created this escrow can edit it.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return _escrow_form_page(request, escrow)


def _quote(form: EscrowForm, formset: Any, seller: Any) -> dict[str, Any] | None:
    """The quote for the form as typed (bound or initial values): the fee and the buyer's total
    as soon as the amount is valid, and, once the milestones are, each stage's net from the
    fee_quote service (create's own rules; its message while they are not). None without a
    valid amount."""
    try:
        code = normalize_currency(form["currency"].value() or settings.ESCROW_DEFAULT_CURRENCY)
        minor = to_minor(form["amount"].value() or "", code)
    except EscrowError:
        return None
    fee, version = fee_for(minor, code)
    quote: dict[str, Any] = {
        "fee": format_money(fee, code),
        "total": format_money(minor + fee, code),
        "version": version,
        "rows": [],
        "error": "",
    }
    rows = []
    for f in formset.forms:
        raw = f["amount"].value()
        if f["DELETE"].value() or not (raw or "").strip():
            continue
        rows.append((f["title"].value() or f"Stage {len(rows) + 1}", raw))
    try:
        inputs = [
            services.MilestoneInput(amount=to_minor(raw, code, field=f"milestones[{i}].amount"))
            for i, (_, raw) in enumerate(rows)
        ]
        result = services.fee_quote(currency=code, amount=minor, milestones=inputs)
    except EscrowError as exc:
        quote["error"] = exc.message
        return quote
    payee = seller.display_name if getattr(seller, "is_authenticated", False) else "the seller"
    quote["rows"] = [
        {"title": title, "payee": payee, "net": format_money(m.payee_net, code)}
        for (title, _), m in zip(rows, result.milestones, strict=True)
    ]
    return quote


@require_GET
def fee_quote(request: HttpRequest) -> HttpResponse:
    """htmx partial: the fee quote refreshed while the seller types (the whole form is sent)."""
    form = EscrowForm(request.GET)
    formset = MilestoneFormSet(request.GET)
    return render(request, "escrows/_fee_quote.html", {"quote": _quote(form, formset, request.user)})


# -- the escrow page ------------------------------------------------------------------------


@login_required
def escrow_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    escrow = _escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    now = timezone.now()
    for m in milestones:
        # The review clock of a delivered milestone, for the page to show.
        m.review_ends = services.review_deadline_of(m) if m.status == MilestoneStatus.COMPLETED else None
        m.review_over = m.review_ends is not None and m.review_ends <= now
        m.review_extend_to = m.review_ends + settings.ESCROW_REVIEW_EXTENSION if m.review_ends else None
    actions = escrow_actions(escrow, milestones, request.user)
    summary = selectors.escrow_ledger_summary(escrow)
    released = summary.released  # the ledger's figure: split and standard escrows count too
    # The whole history is on the page anyway; it says whether there are disputes, refund
    # requests or proposals to read at all (most escrows have none: no query for them).
    events = list(selectors.events_of(escrow))
    kinds = {e.kind for e in events}
    return render(
        request,
        "escrows/escrow_detail.html",
        {
            "escrow": escrow,
            "milestones": milestones,
            "actions": actions,
            "summary": summary,
            "released": released,
            "events": events,
            "pay_url": request.build_absolute_uri(reverse("pay", args=[escrow.payment_token])),
            "deliver_form": DeliverForm(),
            "disputes": list(selectors.disputes_of(escrow)) if "dispute.opened" in kinds else [],
            **refunds_context(request, escrow, milestones, kinds=kinds),
            "extension_days": settings.ESCROW_REVIEW_EXTENSION.days,
        },
    )


def refunds_context(
    request: HttpRequest, escrow: Escrow, milestones: list[Milestone], *, kinds: set[str] | None = None
) -> dict[str, Any]:
    from .views_refunds import refunds_context as context  # that module imports this one

    return context(request, escrow, milestones, kinds=kinds)


def _payee_name(escrow: Escrow, milestone: Milestone) -> str:
    payee = milestone.payee or escrow.seller
    return payee.display_name


@login_required
def milestone_release(request: HttpRequest, public_id: str, milestone_id: str) -> HttpResponse:
    """GET: the confirmation step ("Release 300.00 USD to …?"). POST: release."""
    escrow = _escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    if request.method == "POST":
        amount = format_money(milestone.amount, escrow.currency)
        _run(
            request,
            lambda: services.milestone_release(milestone=milestone, by=request.user),
            f"Released {amount} to {_payee_name(escrow, milestone)}.",
        )
        return redirect("escrow_detail", public_id=escrow.public_id)
    actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
    if actions.releasable is None or actions.releasable.pk != milestone.pk:
        messages.error(request, "This stage cannot be released by you right now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return render(
        request,
        "escrows/release_confirm.html",
        {"escrow": escrow, "milestone": milestone, "payee": _payee_name(escrow, milestone)},
    )


@login_required
def milestone_deliver(request: HttpRequest, public_id: str, milestone_id: str) -> HttpResponse:
    escrow = _escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    form = DeliverForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _run(
            request,
            lambda: services.milestone_complete(
                milestone=milestone,
                by=request.user,
                completed_by=request.user.display_name,
                proof=form.cleaned_data["proof"],
                proof_uri=form.cleaned_data["proof_uri"],
            ),
            f"Marked “{milestone.title or f'Stage {milestone.index + 1}'}” delivered. "
            "The buyer can now confirm it.",
        )
        return redirect("escrow_detail", public_id=escrow.public_id)
    actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
    if actions.deliverable is None or actions.deliverable.pk != milestone.pk:
        messages.error(request, "This stage cannot be marked delivered by you right now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return render(request, "escrows/deliver.html", {"escrow": escrow, "milestone": milestone, "form": form})


@login_required
def milestone_extend_review(request: HttpRequest, public_id: str, milestone_id: str) -> HttpResponse:
    """GET: the confirmation step ("Extend the review to …?"). POST: extend, once."""
    escrow = _escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    if request.method == "POST":
        _run(
            request,
            lambda: services.milestone_review_extend(milestone=milestone, by=request.user),
            f"Review of “{milestone.title or f'Stage {milestone.index + 1}'}” extended by "
            f"{settings.ESCROW_REVIEW_EXTENSION.days} days.",
        )
        return redirect("escrow_detail", public_id=escrow.public_id)
    actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
    if milestone.pk not in actions.extendable:
        messages.error(request, "The review of this stage cannot be extended by you now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return render(
        request,
        "escrows/extend_review_confirm.html",
        {
            "escrow": escrow,
            "milestone": milestone,
            "extension_days": settings.ESCROW_REVIEW_EXTENSION.days,
            "new_deadline": milestone.review_deadline + settings.ESCROW_REVIEW_EXTENSION,
        },
    )


@escrow_action
def escrow_cancel(request: HttpRequest, escrow: Escrow) -> HttpResponse:
    _run(request, lambda: services.escrow_cancel(escrow=escrow, by=request.user), "Escrow cancelled.")
    return redirect("escrow_detail", public_id=escrow.public_id)


@escrow_action
def escrow_refund(request: HttpRequest, escrow: Escrow) -> HttpResponse:
    _run(
        request,
        lambda: services.escrow_refund(escrow=escrow, by=request.user),
        "Refunded everything not yet released to the buyer.",
    )
    return redirect("escrow_detail", public_id=escrow.public_id)


# -- payment link ---------------------------------------------------------------------------


def pay(request: HttpRequest, payment_token: str) -> HttpResponse:
    try:
        escrow = selectors.escrow_get_by_token(payment_token)
    except NotFound:
        return _payment_link_closed(request)
    role = escrow.party_role(request.user)
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        # Once paid (or cancelled) the link shows the deal to its parties only.
        if role is None:
            return _payment_link_closed(request)
        return redirect("escrow_detail", public_id=escrow.public_id)
    form = FundForm(request.POST or None)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        if not form.is_valid():
            messages.error(request, "Choose how to pay: wallet balance or test card.")
            return redirect("pay", payment_token=payment_token)
        # One reference per page view: a double-submitted form funds once.
        reference = request.POST.get("reference") or None
        ok = _run(
            request,
            lambda: services.escrow_fund(
                escrow=escrow,
                by=request.user,
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


# -- balance --------------------------------------------------------------------------------


@login_required
def balance(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "escrows/balance.html",
        {
            "balances": sorted(selectors.balances_for_user(request.user).items()),
            "settlements": list(selectors.settlements_for_user(request.user)[:50]),
            "topup_form": TopupForm(auto_id="topup_%s"),
            "withdraw_form": WithdrawForm(auto_id="withdraw_%s"),
            "test_mode": settings.ESCROW_TEST_MODE,
        },
    )


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
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return
    data = form.cleaned_data
    try:
        amount = to_minor(data["amount"], data["currency"])
    except EscrowError as exc:
        messages.error(request, exc.message)
        return
    _run(request, lambda: call(data, amount), success.format(format_money(amount, data["currency"])))


@login_required
@require_POST
def balance_topup(request: HttpRequest) -> HttpResponse:
    _money_post(
        request,
        TopupForm,
        lambda data, amount: services.wallet_topup(
            customer=request.user, amount=amount, currency=data["currency"]
        ),
        "Added {} to your balance (test deposit).",
    )
    return _back(request, reverse("balance"))


@login_required
@require_POST
def balance_withdraw(request: HttpRequest) -> HttpResponse:
    _money_post(
        request,
        WithdrawForm,
        lambda data, amount: services.wallet_withdraw(
            customer=request.user, amount=amount, currency=data["currency"], destination=data["destination"]
        ),
        "Payout of {} scheduled.",
    )
    return redirect("balance")
