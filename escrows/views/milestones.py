"""A milestone's steps: the seller marks it delivered, the buyer releases it or extends its review.
Releasing and extending ask once more (a confirmation page) before they act."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from accounts.types import AuthenticatedHttpRequest
from core.errors import NotFound

from .. import selectors, services
from ..confirmations import payee_name, release_confirmation, review_extend_confirmation
from ..forms import DeliverForm
from ..models import Escrow, Milestone
from ..money import format_money
from ..permissions import escrow_actions
from .common import confirmation_page, escrow_or_404, run_service


def _milestone_or_404(escrow: Escrow, milestone_id: str) -> Milestone:
    try:
        return selectors.milestone_get(escrow, milestone_id)
    except NotFound:
        raise Http404("Milestone not found") from None


@login_required
def milestone_release(request: AuthenticatedHttpRequest, public_id: str, milestone_id: str) -> HttpResponse:
    """GET: the confirmation step ("Release 300.00 USD to …?"; a stage not marked delivered
    says so). POST: release."""
    escrow = escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    if request.method == "POST":
        amount = format_money(milestone.amount, escrow.currency)
        run_service(
            request,
            lambda: services.milestone_release(milestone=milestone, by=request.user),
            f"Released {amount} to {payee_name(escrow, milestone)}.",
        )
        return redirect("escrow_detail", public_id=escrow.public_id)
    actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
    if actions.releasable is None or actions.releasable.pk != milestone.pk:
        messages.error(request, "This stage cannot be released by you right now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return confirmation_page(request, release_confirmation(escrow, milestone))


@login_required
def milestone_deliver(request: AuthenticatedHttpRequest, public_id: str, milestone_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    form = DeliverForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        run_service(
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
def milestone_extend_review(
    request: AuthenticatedHttpRequest, public_id: str, milestone_id: str
) -> HttpResponse:
    """GET: the confirmation step ("Extend the review to …?"). POST: extend, once."""
    escrow = escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    if request.method == "POST":
        run_service(
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
    deadline = milestone.review_ends_at  # the service extends from here too
    assert deadline is not None  # an extendable review has a running clock
    return confirmation_page(
        request, review_extend_confirmation(escrow, milestone, deadline + settings.ESCROW_REVIEW_EXTENSION)
    )
