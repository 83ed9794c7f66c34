"""Disputes and the evidence export. Anyone who may not see the escrow gets a 404. Staff
(arbiters) may see every dispute and resolve it."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError, NotFound, page_message

from .. import selectors, services
from ..forms import AnswerForm, DisputeOpenForm, EvidenceFields, ResolveForm
from ..models import Dispute, DisputeAnswer, DisputeOutcome, DisputeStatus, Escrow
from ..money import format_minor, format_money, to_minor
from ..permissions import escrow_actions
from .common import escrow_or_404


def _escrow_for_viewer(request: HttpRequest, public_id: str) -> Escrow:
    try:
        return selectors.escrow_get_for_viewer(request.user, public_id)
    except NotFound:
        raise Http404("Escrow not found") from None


def _dispute(escrow: Escrow, dispute_id: str) -> Dispute:
    try:
        return selectors.dispute_get(escrow, dispute_id)
    except NotFound:
        raise Http404("Dispute not found") from None


def _to_page(dispute: Dispute) -> HttpResponse:
    return redirect("dispute_detail", public_id=dispute.escrow.public_id, dispute_id=dispute.public_id)


def _minor(value: str, escrow: Escrow, field: str) -> int | None:
    value = (value or "").strip()
    return to_minor(value, escrow.currency, field=field, allow_zero=True) if value else None


def _flash_form_errors(request: HttpRequest, form: forms.Form) -> None:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        text = " ".join(map(str, errors))
        messages.error(request, f"{label}: {text}" if label else text)


def _too_big(request: HttpRequest) -> bool:
    """Refuse an upload by its declared size before Django spools it to disk."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isascii() and length.isdigit() and int(length) > settings.ESCROW_EVIDENCE_MAX_BYTES + 64 * 1024:
        messages.error(
            request,
            f"The evidence file is larger than {settings.ESCROW_EVIDENCE_MAX_BYTES // (1024 * 1024)} MB",
        )
        return True
    return False


# -- open -------------------------------------------------------------------------------------


@login_required
def escrow_dispute(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """GET: the form (one milestone of a milestone escrow, or the whole standard escrow).
    POST: open the dispute, then show it."""
    escrow = escrow_or_404(request, public_id)
    if request.method == "POST" and _too_big(request):
        return redirect("escrow_detail", public_id=escrow.public_id)
    milestones = selectors.milestones_of(escrow)
    actions = escrow_actions(escrow, milestones, request.user)
    chosen = request.POST.get("milestone") or request.GET.get("milestone") or ""
    milestone = next((m for m in milestones if m.public_id == chosen), None)
    if milestone is None and escrow.is_milestone and len(actions.disputable) >= 1 and not chosen:
        milestone = actions.disputable[0] if len(actions.disputable) == 1 else None
    form = DisputeOpenForm(
        request.POST or None,
        request.FILES or None,
        initial={"milestone": chosen, "default_outcome": settings.ESCROW_DISPUTE_DEFAULT_OUTCOME},
    )
    if request.method == "POST":
        if not form.is_valid():
            return render(
                request, "escrows/dispute.html", _open_context(escrow, actions, milestone, form), status=400
            )
        data = form.cleaned_data
        try:
            if chosen and milestone is None:
                raise NotFound("Milestone not found")
            dispute = services.dispute_open(
                escrow=escrow,
                by=request.user,
                reason=data["reason"],
                milestone=milestone,
                evidence=form.evidence(),
                default_outcome=data["default_outcome"] or None,
                default_seller_amount=_minor(data["default_seller_amount"], escrow, "default_seller_amount"),
                default_buyer_amount=_minor(data["default_buyer_amount"], escrow, "default_buyer_amount"),
            )
        except EscrowError as exc:
            messages.error(request, page_message(exc, form))
            return redirect("escrow_detail", public_id=escrow.public_id)
        messages.success(
            request,
            f"Dispute opened. {format_money(dispute.amount, escrow.currency)} is frozen "
            "until it is resolved.",
        )
        return _to_page(dispute)
    if not (actions.can_dispute or actions.disputable):
        messages.error(request, "Nothing in this escrow can be disputed right now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return render(request, "escrows/dispute.html", _open_context(escrow, actions, milestone, form))


def _open_context(escrow: Escrow, actions: Any, milestone: Any, form: forms.Form) -> dict[str, Any]:
    return {
        "escrow": escrow,
        "milestone": milestone,
        "disputable": actions.disputable,
        "form": form,
        "deadline_days": settings.ESCROW_DISPUTE_RESOLUTION_PERIOD.days,
    }


# -- the dispute page -------------------------------------------------------------------------


@login_required
@require_GET
def dispute_detail(request: AuthenticatedHttpRequest, public_id: str, dispute_id: str) -> HttpResponse:
    escrow = _escrow_for_viewer(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    role = escrow.party_role(request.user)
    active = dispute.status in (DisputeStatus.OPEN, DisputeStatus.ANSWERED)
    return render(
        request,
        "escrows/dispute_detail.html",
        {
            "escrow": escrow,
            "dispute": dispute,
            "role": role,
            "evidence": list(dispute.evidence.select_related("submitted_by")),
            "can_add_evidence": active and role is not None,
            "can_answer": dispute.status == DisputeStatus.OPEN and role == dispute.other_role,
            "can_withdraw": active and role == dispute.opener_role,
            "can_resolve": active and request.user.is_staff,
            "evidence_form": EvidenceFields(),
            "answer_form": AnswerForm(),
            "accept_outcome": "refund to the buyer"
            if dispute.opener_role == "buyer"
            else "release to the seller",
        },
    )


@login_required
@require_POST
def dispute_add_evidence(request: AuthenticatedHttpRequest, public_id: str, dispute_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    if _too_big(request):
        return _to_page(dispute)
    form = EvidenceFields(request.POST, request.FILES)
    if not form.is_valid():
        _flash_form_errors(request, form)
        return _to_page(dispute)
    try:
        services.dispute_add_evidence(dispute=dispute, by=request.user, evidence=form.evidence())
    except EscrowError as exc:
        messages.error(request, exc.for_person)
    else:
        messages.success(request, "Evidence added.")
    return _to_page(dispute)


@login_required
@require_POST
def dispute_answer(request: AuthenticatedHttpRequest, public_id: str, dispute_id: str) -> HttpResponse:
    """Accepting moves money, so it asks once more (a confirmation page) before it does."""
    escrow = escrow_or_404(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        _flash_form_errors(request, form)
        return _to_page(dispute)
    answer, text = form.cleaned_data["answer"], form.cleaned_data["text"]
    if answer == DisputeAnswer.ACCEPT and request.POST.get("confirmed") != "1":
        opener_wins = "buyer" if dispute.opener_role == "buyer" else "seller"
        return render(
            request,
            "escrows/dispute_confirm.html",
            {
                "escrow": escrow,
                "dispute": dispute,
                "title": f"Accept the claim and send {format_money(dispute.amount, escrow.currency)} "
                f"to the {opener_wins}?",
                "body": "This settles the dispute at once and cannot be undone.",
                "action": "dispute_answer",
                "fields": {"answer": answer, "text": text},
                "button": "Accept and settle",
            },
        )
    try:
        services.dispute_answer(dispute=dispute, by=request.user, answer=answer, text=text)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
    else:
        messages.success(
            request,
            "Claim accepted; the dispute is settled."
            if answer == "accept"
            else "Answer sent to the arbiter.",
        )
    return _to_page(dispute)


@login_required
@require_POST
def dispute_withdraw(request: AuthenticatedHttpRequest, public_id: str, dispute_id: str) -> HttpResponse:
    escrow = escrow_or_404(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    try:
        services.dispute_withdraw(dispute=dispute, by=request.user)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
    else:
        messages.success(request, "Dispute withdrawn.")
    return _to_page(dispute)


@login_required
@require_GET
def dispute_evidence_file(
    request: AuthenticatedHttpRequest, public_id: str, dispute_id: str, evidence_id: str
) -> FileResponse:
    """The submitted file, to the parties and staff only; always a download, never rendered."""
    escrow = _escrow_for_viewer(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    evidence = dispute.evidence.filter(public_id=evidence_id).exclude(file="").first()
    if evidence is None:
        raise Http404("Evidence not found")
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404("Evidence file is missing") from None
    response = FileResponse(
        handle, as_attachment=True, filename=evidence.file_name or evidence.file.name or ""
    )
    response["Content-Type"] = evidence.content_type or "application/octet-stream"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Evidence-SHA256"] = evidence.file_sha256
    return response


# -- staff ------------------------------------------------------------------------------------


def _staff_only(request: HttpRequest) -> None:
    if not (request.user.is_active and request.user.is_staff):
        raise Http404("Not found")


@login_required
def dispute_resolve(request: AuthenticatedHttpRequest, public_id: str, dispute_id: str) -> HttpResponse:
    """Staff: release, refund or split. The first POST shows what will move; the second does it."""
    _staff_only(request)
    escrow = _escrow_for_viewer(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    form = ResolveForm(request.POST or None, initial={"outcome": dispute.default_outcome})
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            seller_part = _minor(data["seller_amount"], escrow, "seller_amount")
            buyer_part = _minor(data["buyer_amount"], escrow, "buyer_amount")
            if data["outcome"] != DisputeOutcome.SPLIT:
                seller_part = buyer_part = None
            if request.POST.get("confirmed") == "1":
                services.dispute_resolve(
                    dispute=dispute,
                    by=request.user,
                    outcome=data["outcome"],
                    seller_amount=seller_part,
                    buyer_amount=buyer_part,
                    note=data["note"],
                )
                messages.success(request, "Dispute resolved.")
                return _to_page(dispute)
            seller_gets, buyer_gets = services.dispute_resolution_amounts(
                dispute, outcome=data["outcome"], seller_amount=seller_part, buyer_amount=buyer_part
            )
        except EscrowError as exc:
            error = page_message(exc, form)
        else:
            return render(
                request,
                "escrows/dispute_confirm.html",
                {
                    "escrow": escrow,
                    "dispute": dispute,
                    "title": f"{format_money(seller_gets, escrow.currency)} to the seller, "
                    f"{format_money(buyer_gets, escrow.currency)} to the buyer?",
                    "body": "This resolves the dispute and moves the money at once.",
                    "action": "dispute_resolve",
                    "fields": {
                        "outcome": data["outcome"],
                        "seller_amount": data["seller_amount"],
                        "buyer_amount": data["buyer_amount"],
                        "note": data["note"],
                    },
                    "button": "Resolve",
                },
            )
    return render(
        request,
        "escrows/dispute_resolve.html",
        {
            "escrow": escrow,
            "dispute": dispute,
            "form": form,
            "error": error,
            "amount": format_minor(dispute.amount, escrow.currency),
            "evidence": list(dispute.evidence.select_related("submitted_by")),
        },
        status=400 if error or (request.method == "POST" and form.errors) else 200,
    )


@login_required
@require_GET
def staff_disputes(request: AuthenticatedHttpRequest) -> HttpResponse:
    _staff_only(request)
    return render(request, "escrows/staff_disputes.html", {"disputes": list(selectors.open_disputes()[:200])})


# -- the evidence export ----------------------------------------------------------------------


@login_required
@require_GET
def evidence_export_html(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    escrow = _escrow_for_viewer(request, public_id)
    record = selectors.evidence_export(escrow)
    return render(
        request,
        "escrows/evidence_export.html",
        {
            "escrow": escrow,
            "record": record,
            "readable": selectors.evidence_export_readable(escrow, request.user, record),
            "milestones": selectors.milestones_of(escrow),
        },
    )


@login_required
@require_GET
def evidence_export_json(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    escrow = _escrow_for_viewer(request, public_id)
    response = JsonResponse(selectors.evidence_export(escrow), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{escrow.public_id}-evidence.json"'
    return response
