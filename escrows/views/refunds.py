"""Refunds: the seller refunds milestones or the whole escrow, the buyer asks for a refund and the
seller accepts or declines it. A confirmation step comes before money moves; what may be offered
comes from permissions.refund_actions."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from accounts.types import AuthenticatedHttpRequest
from core.confirmations import Confirmation
from core.errors import EscrowError, NotFound

from .. import selectors, services
from ..confirmations import (
    cancellation_accept_confirmation,
    escrow_refund_confirmation,
    milestones_refund_confirmation,
    refund_destination,
    refund_request_accept_confirmation,
)
from ..forms import DeclineForm, MilestoneRefundForm, RefundRequestForm
from ..models import Escrow, Milestone, RefundRequest
from ..money import format_money
from ..permissions import RefundActions, escrow_actions, refund_actions
from .common import back_to_escrow, confirmation_page, escrow_or_404, run_service


def refund_actions_for(request: HttpRequest, escrow: Escrow, milestones: list[Milestone]) -> RefundActions:
    """What the viewer may do about refunds and cancellation, given the open request and proposal."""
    return refund_actions(
        escrow,
        milestones,
        request.user,
        refund_request=selectors.open_refund_request(escrow),
        proposal=selectors.open_cancellation_proposal(escrow),
    )


def refunds_context(
    request: HttpRequest, escrow: Escrow, milestones: list[Milestone], *, kinds: set[str]
) -> dict[str, Any]:
    """What the escrow page needs for its refunds panel, in at most two queries: only one request
    and one proposal can be open at a time, and it is always the newest (see the services).
    `kinds`: the escrow's event kinds; without a request or proposal event there is nothing to
    read."""
    requests = list(selectors.refund_requests_of(escrow)[:6]) if "refund.requested" in kinds else []
    proposals = (
        list(selectors.cancellation_proposals_of(escrow)[:6]) if "cancellation.proposed" in kinds else []
    )
    open_request = requests[0] if requests and requests[0].is_open else None
    open_proposal = proposals[0] if proposals and proposals[0].is_open else None
    actions = refund_actions(
        escrow, milestones, request.user, refund_request=open_request, proposal=open_proposal
    )
    return {
        "refunds": actions,
        "refund_history": [r for r in requests if not r.is_open][:5],
        "cancellation_history": [p for p in proposals if not p.is_open][:5],
        "refund_to": refund_destination(escrow, actions.role) if escrow.funded_at else "",
        # Its own ids: the escrow page also has the dispute form's "reason".
        "decline_form": DeclineForm(auto_id="decline_%s"),
    }


def refund_panel_confirmations(
    escrow: Escrow, milestones: list[Milestone], actions: RefundActions
) -> dict[str, Confirmation | None]:
    """The refunds panel's dialogs: accepting a refund request or a cancellation proposal."""
    return {
        "accept_refund": refund_request_accept_confirmation(escrow, actions.refund_request, milestones)
        if actions.can_answer_refund_request and actions.refund_request is not None
        else None,
        "accept_cancellation": cancellation_accept_confirmation(escrow, actions.proposal, actions.role)
        if actions.can_answer_proposal and actions.proposal is not None
        else None,
    }


def _refund_request_or_404(escrow: Escrow, request_id: str) -> RefundRequest:
    try:
        return selectors.refund_request_get(escrow, request_id)
    except NotFound:
        raise Http404("Refund request not found") from None


# -- the seller refunds milestones or the whole escrow ----------------------------------------


@login_required
def milestones_refund(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """Pick milestones (GET), confirm the amount and where it goes (POST), refund (POST confirm)."""
    escrow = escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    actions = refund_actions_for(request, escrow, milestones)
    if not actions.can_refund_milestones:
        messages.error(request, "There is nothing you can refund on this escrow right now.")
        return back_to_escrow(escrow)
    form = MilestoneRefundForm(request.POST or None, milestones=actions.refundable, currency=escrow.currency)
    if request.method == "POST" and form.is_valid():
        chosen = [m for m in actions.refundable if m.public_id in form.cleaned_data["milestones"]]
        amount = sum(m.remaining_amount for m in chosen)
        refund_to = refund_destination(escrow, "seller")
        if request.POST.get("confirm") == "yes":
            run_service(
                request,
                lambda: services.escrow_refund_milestones(
                    escrow=escrow,
                    by=request.user,
                    milestones=[m.public_id for m in chosen],
                    reason=form.cleaned_data["reason"],
                ),
                f"Refunded {format_money(amount, escrow.currency)} to {refund_to}.",
            )
            return back_to_escrow(escrow)
        return confirmation_page(
            request, milestones_refund_confirmation(escrow, milestones, chosen, form.cleaned_data["reason"])
        )
    return render(request, "escrows/refund_milestones.html", {"escrow": escrow, "form": form})


@login_required
def escrow_refund(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """GET: the confirmation page with the amount and where it goes. POST: refund the rest."""
    escrow = escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    if request.method == "POST":
        amount = format_money(escrow.held_amount(milestones), escrow.currency)
        run_service(
            request,
            lambda: services.escrow_refund(escrow=escrow, by=request.user),
            f"Refunded {amount} to {refund_destination(escrow, 'seller')}. The escrow is closed.",
        )
        return back_to_escrow(escrow)
    if not escrow_actions(escrow, milestones, request.user).can_refund:
        messages.error(request, "There is nothing you can refund on this escrow right now.")
        return back_to_escrow(escrow)
    return confirmation_page(request, escrow_refund_confirmation(escrow, milestones))


# -- the buyer's refund request ---------------------------------------------------------------


@login_required
def refund_request_new(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    actions = refund_actions_for(request, escrow, milestones)
    if not actions.can_request_refund:
        messages.error(request, "You cannot ask for a refund on this escrow right now.")
        return back_to_escrow(escrow)
    form = RefundRequestForm(request.POST or None, milestones=actions.refundable, currency=escrow.currency)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.refund_request_create(
                escrow=escrow,
                by=request.user,
                reason=form.cleaned_data["reason"],
                milestones=form.cleaned_data.get("milestones") or None,
            )
        except EscrowError as exc:
            form.add_error("reason" if exc.field == "reason" else None, exc.for_person)
        else:
            messages.success(
                request,
                f"Asked the seller to refund {format_money(created.amount, escrow.currency)}. "
                "You will see their answer here.",
            )
            return back_to_escrow(escrow)
    return render(request, "escrows/refund_request.html", {"escrow": escrow, "form": form})


@login_required
def refund_request_accept(request: AuthenticatedHttpRequest, public_id: str, request_id: str) -> HttpResponse:
    """GET: the confirmation step. POST: accept, which refunds at once."""
    escrow = escrow_or_404(request, public_id)
    refund_request = _refund_request_or_404(escrow, request_id)
    amount = format_money(refund_request.amount, escrow.currency)
    if request.method == "POST":
        run_service(
            request,
            lambda: services.refund_request_accept(refund_request=refund_request, by=request.user),
            f"Refund request accepted: {amount} refunded to {refund_destination(escrow, 'seller')}.",
        )
        return back_to_escrow(escrow)
    milestones = selectors.milestones_of(escrow)
    actions = refund_actions_for(request, escrow, milestones)
    if not actions.can_answer_refund_request or actions.refund_request != refund_request:
        messages.error(request, "This refund request cannot be accepted by you right now.")
        return back_to_escrow(escrow)
    return confirmation_page(request, refund_request_accept_confirmation(escrow, refund_request, milestones))


@login_required
def refund_request_decline(
    request: AuthenticatedHttpRequest, public_id: str, request_id: str
) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    refund_request = _refund_request_or_404(escrow, request_id)
    form = DeclineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        run_service(
            request,
            lambda: services.refund_request_decline(
                refund_request=refund_request, by=request.user, reason=form.cleaned_data["reason"]
            ),
            "Refund request declined. The buyer sees your reason.",
        )
        return back_to_escrow(escrow)
    return render(
        request,
        "escrows/refund_request_decline.html",
        {"escrow": escrow, "refund_request": refund_request, "form": form},
    )


@login_required
@require_POST
def refund_request_withdraw(
    request: AuthenticatedHttpRequest, public_id: str, request_id: str
) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    refund_request = _refund_request_or_404(escrow, request_id)
    run_service(
        request,
        lambda: services.refund_request_withdraw(refund_request=refund_request, by=request.user),
        "Refund request withdrawn.",
    )
    return back_to_escrow(escrow)
