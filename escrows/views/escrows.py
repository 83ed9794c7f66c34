"""Creating, editing, showing and cancelling an escrow, and the fee quote shown while typing."""

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError

from .. import selectors, services
from ..confirmations import escrow_cancel_confirmation, escrow_refund_confirmation, release_confirmation
from ..forms import (
    DeliverForm,
    EscrowForm,
    MilestoneForm,
    MilestoneFormSet,
    attach_error,
    stage_amount,
    terms_from_forms,
)
from ..models import CHANGES_NOTE_MAX, INVITATION_EVENT_KINDS, Escrow, MilestoneStatus
from ..money import EscrowTooLarge, fee_for, format_money, normalize_currency, to_minor
from ..permissions import escrow_actions, invitation_resend_refusal, sell_refusal_words
from ..timeline import closing_words, timeline_entries
from .change_orders import change_order_confirmations, change_orders_context, terms_context
from .common import confirmation_page, escrow_action, escrow_or_404, run_service
from .refunds import refund_panel_confirmations, refunds_context


def _escrow_form_page(request: AuthenticatedHttpRequest, escrow: Escrow | None) -> HttpResponse:
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
def escrow_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    refusal = sell_refusal_words(request.user)
    if refusal is not None:
        return render(request, "escrows/escrow_new_refused.html", {"refusal": refusal}, status=403)
    return _escrow_form_page(request, None)


@login_required
def escrow_edit(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
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
        minor = to_minor(form["amount"].value() or "", code, escrow_total=True)
    except EscrowTooLarge as exc:
        return {"limit": exc.for_person}  # said while the seller types, not only on submit
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
    rows: list[tuple[str, str]] = []
    for f in formset.forms:
        raw = f["amount"].value()
        if f["DELETE"].value() or not (raw or "").strip():
            continue
        rows.append((f["title"].value() or f"Stage {len(rows) + 1}", raw))
    try:
        inputs = [
            services.MilestoneInput(amount=stage_amount(raw, code, i)) for i, (_, raw) in enumerate(rows)
        ]
        result = services.fee_quote(currency=code, amount=minor, milestones=inputs)
    except EscrowError as exc:
        quote["error"] = exc.for_person
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


@login_required
def escrow_detail(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id, dispute_state=True)
    milestones = selectors.milestones_of(escrow)
    now = timezone.now()
    for m in milestones:
        # The review clock of a delivered milestone, for the page to show.
        m.review_ends = services.review_deadline_of(m) if m.status == MilestoneStatus.COMPLETED else None
        m.review_over = m.review_ends is not None and m.review_ends <= now
        m.review_extend_to = m.review_ends + settings.ESCROW_REVIEW_EXTENSION if m.review_ends else None
        m.overdue = m.is_overdue(now)
    actions = escrow_actions(escrow, milestones, request.user)
    summary = selectors.escrow_ledger_summary(escrow)
    released = summary.released  # the ledger's figure: split and standard escrows count too
    # The whole history is on the page anyway; it says whether there are disputes, refund
    # requests or proposals to read at all (most escrows have none: no query for them).
    events = list(selectors.events_of(escrow))
    kinds = {e.kind for e in events}
    money_story = closing_words(escrow, released=summary.released, refunded=summary.refunded)
    refunds = refunds_context(request, escrow, milestones, kinds=kinds)
    changes = change_orders_context(request, escrow, milestones, kinds=kinds)
    # The dialogs of the actions this viewer is offered: the same words as their pages.
    confirmations = {
        "release": release_confirmation(escrow, actions.releasable) if actions.releasable else None,
        "cancel": escrow_cancel_confirmation(escrow, actions.role) if actions.can_cancel else None,
        "refund": escrow_refund_confirmation(escrow, milestones) if actions.can_refund else None,
        **refund_panel_confirmations(escrow, milestones, refunds["refunds"]),
        **change_order_confirmations(escrow, changes),
    }
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
            "timeline": timeline_entries(events, escrow=escrow, viewer=request.user),
            "closing_words": money_story if escrow.is_closed else "",
            "receipts": selectors.receipts_of(escrow) if escrow.funded_at else [],
            "pay_url": request.build_absolute_uri(reverse("pay", args=[escrow.payment_token])),
            "deliver_form": DeliverForm(),
            "disputes": list(selectors.disputes_of(escrow)) if "dispute.opened" in kinds else [],
            **refunds,
            **terms_context(request, escrow, milestones),
            **changes,
            "confirmations": confirmations,
            "dialogs": [c for c in confirmations.values() if c is not None],
            "extension_days": settings.ESCROW_REVIEW_EXTENSION.days,
            "changes_note_max": CHANGES_NOTE_MAX,
            "invitation_refusal": invitation_resend_refusal(
                escrow, request.user, [e.created_at for e in events if e.kind in INVITATION_EVENT_KINDS]
            ),
        },
    )


@login_required
def escrow_cancel(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """GET: the confirmation page (it works without JavaScript). POST: cancel."""
    escrow = escrow_or_404(request, public_id)
    if request.method == "POST":
        run_service(
            request, lambda: services.escrow_cancel(escrow=escrow, by=request.user), "Escrow cancelled."
        )
        return redirect("escrow_detail", public_id=escrow.public_id)
    actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
    if not actions.can_cancel:
        messages.error(request, "This escrow cannot be cancelled by you now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return confirmation_page(request, escrow_cancel_confirmation(escrow, actions.role))


@escrow_action
def escrow_invitation_resend(request: AuthenticatedHttpRequest, escrow: Escrow) -> HttpResponse:
    run_service(
        request,
        lambda: services.escrow_invitation_resend(escrow=escrow, by=request.user),
        f"The payment link is on its way to {escrow.buyer_email} again.",
    )
    return redirect("escrow_detail", public_id=escrow.public_id)
