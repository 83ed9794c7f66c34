"""A milestone's steps: the seller marks it delivered, the buyer releases it, extends its review or
sends it back for changes. Releasing and extending ask once more (a confirmation page) before they
act; sending back moves no money and asks only for the note."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError, NotFound, StageChanged

from .. import selectors, services
from ..confirmations import (
    payee_name,
    release_confirmation,
    release_part_confirmation,
    review_extend_confirmation,
)
from ..forms import DeliverForm, ReleasePartForm, RequestChangesForm
from ..models import Escrow, Milestone
from ..money import format_money, to_minor
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
        amount = format_money(milestone.remaining_amount, escrow.currency)
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


def _release_part_page(
    request: AuthenticatedHttpRequest, escrow: Escrow, milestone: Milestone, form: ReleasePartForm
) -> HttpResponse:
    left = format_money(milestone.remaining_amount, escrow.currency)
    form.fields["amount"].help_text = f"Up to {left}, what is left of this stage."
    return render(
        request,
        "escrows/release_part.html",
        {"escrow": escrow, "milestone": milestone, "form": form},
        status=400 if form.errors else 200,
    )


def _part_amount(
    form: ReleasePartForm, escrow: Escrow, milestone: Milestone, *, confirmed: bool = False
) -> int | None:
    """The amount the form asks to release, checked as the service checks it (once confirmed,
    against what was left when the confirmation was shown); None with the error on the form
    (what was typed stays in it). A stage changed since the confirmation raises StageChanged."""
    if not form.is_valid():
        return None
    remaining_seen = form.cleaned_data["remaining"] if confirmed else None
    try:
        amount = to_minor(form.cleaned_data["amount"], escrow.currency)
        return services.milestone_release_part_check(
            milestone=milestone, amount=amount, remaining_seen=remaining_seen
        )
    except StageChanged:
        raise
    except EscrowError as exc:
        form.add_error("amount", exc.for_person)
        return None


@login_required
def milestone_release_part(
    request: AuthenticatedHttpRequest, public_id: str, milestone_id: str
) -> HttpResponse:
    """GET: the amount form; with an amount, what releasing it does (a confirmation page, or the
    dialog's content for the escrow page's script). POST: release that part (with edit=1: back
    to the form with the amount). A refused amount shows the form again, as typed, with why."""
    escrow = escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    data = request.POST if request.method == "POST" else request.GET
    editing = data.get("edit") == "1"
    form = ReleasePartForm(data if "amount" in data else None)
    if request.method == "POST" and not editing:
        stage = reverse("escrow_detail", args=[escrow.public_id])
        try:
            amount = _part_amount(form, escrow, milestone, confirmed=True)
            if amount is None:
                return _release_part_page(request, escrow, milestone, form)
            released = services.milestone_release_part(
                milestone=milestone,
                by=request.user,
                amount=amount,
                remaining_seen=form.cleaned_data["remaining"],
            )
        except StageChanged as exc:
            # The confirmation was for a stage as it was (sent twice, or something released
            # since): back to the escrow, which shows the stage as it is now.
            messages.error(request, exc.for_person)
            return redirect(f"{stage}#stage-{milestone.index + 1}")
        except EscrowError as exc:
            form.add_error("amount" if exc.field == "amount" else None, exc.for_person)
            return _release_part_page(request, escrow, milestone, form)
        money = format_money(amount, escrow.currency)
        payee = payee_name(escrow, milestone)
        if released.is_settled:
            messages.success(request, f"Released {money} to {payee}: the stage is released.")
        else:
            left = format_money(released.remaining_amount, escrow.currency)
            messages.success(request, f"Released {money} to {payee}; {left} stays held for this stage.")
        return redirect(f"{stage}#stage-{milestone.index + 1}")
    actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
    if actions.part_releasable is None or actions.part_releasable.pk != milestone.pk:
        messages.error(request, "Part of this stage cannot be released by you right now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    if not form.is_bound or editing:
        return _release_part_page(request, escrow, milestone, form)
    amount = _part_amount(form, escrow, milestone)
    if amount is None:
        # The script sends the form itself then, and the page shows why.
        return (
            HttpResponse(status=204) if request.htmx else _release_part_page(request, escrow, milestone, form)
        )
    confirmation = release_part_confirmation(escrow, milestone, amount)
    if request.htmx:
        return render(request, "partials/confirm_dialog.html", {"c": confirmation})
    return confirmation_page(request, confirmation)


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


@login_required
def milestone_request_changes(
    request: AuthenticatedHttpRequest, public_id: str, milestone_id: str
) -> HttpResponse:
    """GET: the note form (the escrow page also has it inline). POST: send the stage back; a
    refusal shows on the form with the note as typed."""
    escrow = escrow_or_404(request, public_id)
    milestone = _milestone_or_404(escrow, milestone_id)
    name = milestone.title or f"Stage {milestone.index + 1}"
    form = RequestChangesForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent_back = services.milestone_request_changes(
                milestone=milestone, by=request.user, note=form.cleaned_data["note"]
            )
        except EscrowError as exc:
            form.add_error("note" if exc.field == "note" else None, exc.for_person)
        else:
            messages.success(
                request,
                f"Sent “{name}” back to {escrow.seller.display_name} for changes "
                f"(round {sent_back.changes_requested_count}). Its review period has stopped; "
                "a new one starts when it is delivered again.",
            )
            stage = reverse("escrow_detail", args=[escrow.public_id])
            return redirect(f"{stage}#stage-{milestone.index + 1}")
    elif request.method != "POST":
        actions = escrow_actions(escrow, selectors.milestones_of(escrow), request.user)
        if milestone.pk not in actions.changes_requestable:
            messages.error(request, "This stage cannot be sent back for changes by you now.")
            return redirect("escrow_detail", public_id=escrow.public_id)
    return render(
        request,
        "escrows/request_changes.html",
        {"escrow": escrow, "milestone": milestone, "form": form},
        status=400 if form.errors else 200,
    )
