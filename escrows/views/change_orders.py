"""Agreed terms and change orders on the escrow page: the history of the terms (who proposed each
version, who agreed and when), proposing a change (a form, then a review of the new total and
what the buyer pays more or gets back), and answering one: accepting moves money, so it asks once
with the exact amounts (a page without JavaScript, a dialog with it); declining asks for a reason;
the proposer may withdraw. What a viewer is offered is permissions.change_order_actions."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.types import AuthenticatedHttpRequest
from core.confirmations import Confirmation
from core.errors import EscrowError, NotFound, page_message

from .. import selectors, services
from ..agreements import changes_words, terms_history, unchanged_version
from ..confirmations import (
    change_order_accept_confirmation,
    change_order_decline_confirmation,
    change_order_propose_confirmation,
    change_order_withdraw_confirmation,
)
from ..forms import ChangeOrderForm, DeclineForm
from ..models import ChangeProposal, Escrow, FundingSource, Milestone
from ..money import format_money
from ..permissions import ChangeOrderActions, change_order_actions
from .common import confirmation_page, escrow_or_404


def _lower_first(words: str) -> str:
    return words[:1].lower() + words[1:]


def _back_to_escrow(escrow: Escrow, part: str = "change-order") -> HttpResponse:
    return redirect(reverse("escrow_detail", args=[escrow.public_id]) + f"#{part}")


def _proposal_or_404(escrow: Escrow, proposal_id: str) -> ChangeProposal:
    try:
        return selectors.change_proposal_get(escrow, proposal_id)
    except NotFound:
        raise Http404("Change order not found") from None


def _actions(request: HttpRequest, escrow: Escrow, milestones: list[Milestone]) -> ChangeOrderActions:
    return change_order_actions(
        escrow, milestones, request.user, proposal=selectors.open_change_proposal(escrow)
    )


def terms_context(request: HttpRequest, escrow: Escrow, milestones: list[Milestone]) -> dict[str, Any]:
    """What the escrow page shows of its agreed terms: each version, newest first. Terms that
    never changed are one version, the escrow as it is: no query for it."""
    if escrow.terms_version == 1:
        versions = [unchanged_version(escrow, milestones)]
    else:
        versions = list(selectors.terms_versions_of(escrow))
    return {"terms_history": terms_history(escrow, versions, request.user)}


def change_orders_context(
    request: HttpRequest, escrow: Escrow, milestones: list[Milestone], *, kinds: set[str]
) -> dict[str, Any]:
    """The escrow page's change orders: the open proposal (what it changes, in money, and what
    this viewer may do about it), the earlier ones, and the withdraw dialog. `kinds`: the
    escrow's event kinds; without a proposal there is nothing to read."""
    proposals = list(selectors.change_proposals_of(escrow)[:6]) if "change_order.proposed" in kinds else []
    open_one = proposals[0] if proposals and proposals[0].is_open else None
    actions = change_order_actions(escrow, milestones, request.user, proposal=open_one)
    quote = services.change_order_quote(escrow, open_one) if open_one is not None else None
    return {
        "change_orders": actions,
        "change_quote": quote,
        "change_words": changes_words(open_one.changes, escrow.currency) if open_one is not None else "",
        "change_history": [p for p in proposals if not p.is_open][:5],
        "decline_change_form": DeclineForm(),
        "pay_sources": FundingSource.choices,
    }


def change_order_confirmations(escrow: Escrow, context: dict[str, Any]) -> dict[str, Confirmation | None]:
    """The change-order dialogs the escrow page draws: withdrawing the open proposal."""
    actions: ChangeOrderActions = context["change_orders"]
    proposal = actions.proposal
    return {
        "withdraw_change": change_order_withdraw_confirmation(escrow, proposal)
        if proposal is not None and actions.can_withdraw
        else None,
    }


# -- proposing --------------------------------------------------------------------------------


def _propose_page(
    request: HttpRequest,
    escrow: Escrow,
    form: ChangeOrderForm,
    actions: ChangeOrderActions,
    *,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "escrows/change_order_new.html",
        {
            "escrow": escrow,
            "form": form,
            "role": actions.role,
            "other": "seller" if actions.role == "buyer" else "buyer",
            "lapse_days": settings.ESCROW_CHANGE_PROPOSAL_LAPSE.days,
            "new_rows": form.new_rows(),
            "stage_rows": form.stage_rows(),
            "settled": [m for m in selectors.milestones_of(escrow) if not m.is_future],
        },
        status=status,
    )


@login_required
def change_order_new(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """GET: the form. POST: the review (the new total, what the buyer pays more or gets back),
    with edit=1 back to the form as typed, with confirmed=1 send the proposal. A refused change
    shows the form again, as typed, with why."""
    escrow = escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    actions = _actions(request, escrow, milestones)
    if not actions.can_propose or actions.role is None:
        messages.error(
            request,
            "A change can't be proposed now: "
            + (
                "a proposal is already open; answer or withdraw it first."
                if actions.proposal is not None
                else _lower_first(escrow.change_order_refusal() or "this escrow cannot change") + "."
            ),
        )
        return _back_to_escrow(escrow)
    data = request.POST if request.method == "POST" else None
    form = ChangeOrderForm(data, escrow=escrow, stages=actions.future, role=actions.role)
    if data is None or data.get("edit") == "1" or not form.is_valid():
        return _propose_page(request, escrow, form, actions, status=400 if data and form.errors else 200)
    try:
        changes = form.changes()
        fields = {
            "note": form.cleaned_data["note"],
            "pay_source": form.cleaned_data.get("pay_source") or None,
            "card_token": form.cleaned_data.get("card_token") or "",
        }
        if data.get("confirmed") == "1":
            services.change_order_propose(escrow=escrow, by=request.user, changes=changes, **fields)
        else:
            draft = services.change_order_check(escrow=escrow, by=request.user, changes=changes, **fields)
            return confirmation_page(
                request, change_order_propose_confirmation(escrow, draft, fields=form.carried())
            )
    except EscrowError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, page_message(exc))
        return _propose_page(request, escrow, form, actions, status=400)
    other = "seller" if actions.role == "buyer" else "buyer"
    messages.success(request, f"Change proposed. The {other} can accept or decline it.")
    return _back_to_escrow(escrow)


# -- answering ----------------------------------------------------------------------------------


@login_required
def change_order_accept(request: AuthenticatedHttpRequest, public_id: str, proposal_id: str) -> HttpResponse:
    """GET (or POST without confirmed=1): what accepting moves, exactly (a confirmation page, or
    the dialog's content for the page's script), with how the buyer pays an increase. POST with
    confirmed=1: accept; the money moves."""
    escrow = escrow_or_404(request, public_id)
    proposal = _proposal_or_404(escrow, proposal_id)
    data = request.POST if request.method == "POST" else request.GET
    source = data.get("pay_source") or ""
    token = (data.get("card_token") or "").strip()[:100]
    if request.method == "POST" and data.get("confirmed") == "1":
        try:
            services.change_order_accept(
                proposal=proposal, by=request.user, pay_source=source or None, card_token=token
            )
        except EscrowError as exc:
            messages.error(request, exc.for_person)
        else:
            messages.success(request, _accepted_words(escrow, proposal))
            return _back_to_escrow(escrow, "terms")
        return _back_to_escrow(escrow)
    milestones = selectors.milestones_of(escrow)
    actions = change_order_actions(
        escrow, milestones, request.user, proposal=proposal if proposal.is_open else None
    )
    if not actions.can_answer or actions.proposal is None:
        messages.error(request, "This change cannot be accepted by you right now.")
        return _back_to_escrow(escrow)
    quote = services.change_order_quote(escrow, proposal)
    if quote.difference > 0 and actions.role == "buyer":
        source = source if source in FundingSource.values else FundingSource.WALLET
    elif quote.difference > 0:
        source = proposal.pay_source or FundingSource.WALLET
        token = ""
    else:
        source, token = "", ""
    balance = selectors.wallet_balance(request.user, escrow.currency) if actions.role == "buyer" else None
    confirmation = change_order_accept_confirmation(
        escrow,
        proposal,
        quote,
        actions.role,
        pay_source=source if actions.role == "buyer" else "",
        card_token=token,
        balance=balance,
    )
    if request.htmx:
        return render(request, "partials/confirm_dialog.html", {"c": confirmation})
    return confirmation_page(request, confirmation)


def _accepted_words(escrow: Escrow, proposal: ChangeProposal) -> str:
    accepted = ChangeProposal.objects.get(pk=proposal.pk)
    total = format_money(accepted.amount_after, escrow.currency)
    if accepted.paid_amount:
        paid = format_money(accepted.paid_amount + accepted.paid_fee, escrow.currency)
        return f"Change agreed: the buyer paid {paid}, fee included. The escrow's total is now {total}."
    if accepted.refunded_amount:
        back = format_money(accepted.refunded_amount, escrow.currency)
        return f"Change agreed: {back} went back to the buyer. The escrow's total is now {total}."
    return f"Change agreed. The escrow's total stays {total}."


@login_required
def change_order_decline(request: AuthenticatedHttpRequest, public_id: str, proposal_id: str) -> HttpResponse:
    """GET with a reason (or POST without confirmed=1): the confirmation; without one, the form
    saying a reason is needed. POST with confirmed=1: decline."""
    escrow = escrow_or_404(request, public_id)
    proposal = _proposal_or_404(escrow, proposal_id)
    data = request.POST if request.method == "POST" else request.GET
    form = DeclineForm(data if "reason" in data else None)
    if request.method == "POST" and data.get("confirmed") == "1" and form.is_valid():
        try:
            services.change_order_decline(
                proposal=proposal, by=request.user, reason=form.cleaned_data["reason"]
            )
        except EscrowError as exc:
            messages.error(request, exc.for_person)
        else:
            messages.success(request, f"Change declined. The {proposal.proposer_role} is told your reason.")
        return _back_to_escrow(escrow)
    actions = change_order_actions(
        escrow, selectors.milestones_of(escrow), request.user, proposal=proposal if proposal.is_open else None
    )
    if not actions.can_answer:
        messages.error(request, "This change cannot be declined by you right now.")
        return _back_to_escrow(escrow)
    if not form.is_bound or not form.is_valid():
        if request.htmx:
            return HttpResponse(status=204)
        return render(
            request,
            "escrows/change_order_decline.html",
            {
                "escrow": escrow,
                "proposal": proposal,
                "form": form,
                "words": changes_words(proposal.changes, escrow.currency),
            },
            status=400 if form.is_bound else 200,
        )
    confirmation = change_order_decline_confirmation(escrow, proposal, form.cleaned_data["reason"])
    if request.htmx:
        return render(request, "partials/confirm_dialog.html", {"c": confirmation})
    return confirmation_page(request, confirmation)


@login_required
def change_order_withdraw(
    request: AuthenticatedHttpRequest, public_id: str, proposal_id: str
) -> HttpResponse:
    """GET: the confirmation page. POST: withdraw."""
    escrow = escrow_or_404(request, public_id)
    proposal = _proposal_or_404(escrow, proposal_id)
    if request.method == "POST":
        try:
            services.change_order_withdraw(proposal=proposal, by=request.user)
        except EscrowError as exc:
            messages.error(request, exc.for_person)
        else:
            messages.success(request, "Proposal withdrawn. Nothing changed.")
        return _back_to_escrow(escrow)
    if not (proposal.is_open and escrow.party_role(request.user) == proposal.proposer_role):
        messages.error(request, "This proposal cannot be withdrawn by you now.")
        return _back_to_escrow(escrow)
    return confirmation_page(request, change_order_withdraw_confirmation(escrow, proposal))
