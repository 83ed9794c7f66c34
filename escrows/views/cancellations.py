"""Mutual cancellation: one party proposes how the held money is split, the other accepts (the
money moves, after a confirmation step) or declines; the proposer may withdraw."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError, NotFound

from .. import selectors, services
from ..confirmations import cancellation_accept_confirmation
from ..forms import CancellationForm
from ..models import CancellationProposal, Escrow
from ..money import format_money
from .common import back_to_escrow, confirmation_page, escrow_or_404, run_service
from .refunds import refund_actions_for


def _proposal_or_404(escrow: Escrow, proposal_id: str) -> CancellationProposal:
    try:
        return selectors.cancellation_proposal_get(escrow, proposal_id)
    except NotFound:
        raise Http404("Cancellation proposal not found") from None


@login_required
def cancellation_new(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    milestones = selectors.milestones_of(escrow)
    actions = refund_actions_for(request, escrow, milestones)
    if not actions.can_propose_cancellation:
        messages.error(request, "This escrow cannot be cancelled by agreement right now.")
        return back_to_escrow(escrow)
    form = CancellationForm(request.POST or None, currency=escrow.currency)
    if request.method == "POST" and form.is_valid():
        try:
            buyer_amount, seller_amount = form.amounts()
            services.cancellation_propose(
                escrow=escrow,
                by=request.user,
                buyer_amount=buyer_amount,
                seller_amount=seller_amount,
                note=form.cleaned_data["note"],
            )
        except EscrowError as exc:
            field = {"buyerAmount": "buyer_amount", "sellerAmount": "seller_amount"}.get(
                exc.field or "", exc.field
            )
            form.add_error(field if field in form.fields else None, exc.for_person)
        else:
            other = "seller" if actions.role == "buyer" else "buyer"
            messages.success(
                request, f"Proposed a mutual cancellation. The {other} can accept or decline it."
            )
            return back_to_escrow(escrow)
    return render(
        request,
        "escrows/cancellation_new.html",
        {"escrow": escrow, "form": form, "held": actions.held, "role": actions.role},
    )


@login_required
def cancellation_accept(request: AuthenticatedHttpRequest, public_id: str, proposal_id: str) -> HttpResponse:
    """GET: the confirmation step showing the split. POST: accept; the money moves."""
    escrow = escrow_or_404(request, public_id)
    proposal = _proposal_or_404(escrow, proposal_id)
    if request.method == "POST":
        run_service(
            request,
            lambda: services.cancellation_accept(proposal=proposal, by=request.user),
            "Escrow cancelled by agreement: "
            f"{format_money(proposal.buyer_amount, escrow.currency)} back to the buyer, "
            f"{format_money(proposal.seller_amount, escrow.currency)} to the seller.",
        )
        return back_to_escrow(escrow)
    actions = refund_actions_for(request, escrow, selectors.milestones_of(escrow))
    if not actions.can_answer_proposal or actions.proposal != proposal:
        messages.error(request, "This cancellation proposal cannot be accepted by you right now.")
        return back_to_escrow(escrow)
    return confirmation_page(request, cancellation_accept_confirmation(escrow, proposal, actions.role))


@login_required
@require_POST
def cancellation_decline(request: AuthenticatedHttpRequest, public_id: str, proposal_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    proposal = _proposal_or_404(escrow, proposal_id)
    run_service(
        request,
        lambda: services.cancellation_decline(
            proposal=proposal, by=request.user, reason=request.POST.get("reason", "")
        ),
        "Cancellation proposal declined. The escrow carries on.",
    )
    return back_to_escrow(escrow)


@login_required
@require_POST
def cancellation_withdraw(
    request: AuthenticatedHttpRequest, public_id: str, proposal_id: str
) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    proposal = _proposal_or_404(escrow, proposal_id)
    run_service(
        request,
        lambda: services.cancellation_withdraw(proposal=proposal, by=request.user),
        "Cancellation proposal withdrawn.",
    )
    return back_to_escrow(escrow)
