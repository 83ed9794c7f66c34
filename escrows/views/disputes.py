"""Disputes and the evidence export. Anyone who may not see the escrow gets a 404. Staff
(arbiters) may see every dispute and resolve it."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError, InvalidRequest, NotFound, page_message

from .. import selectors, services
from ..confirmations import (
    dispute_accept_confirmation,
    dispute_open_confirmation,
    dispute_request_of,
    dispute_resolve_confirmation,
    dispute_what_happens,
    dispute_withdraw_confirmation,
)
from ..forms import AnswerForm, DisputeOpenForm, EvidenceFields, ResolveForm
from ..models import Dispute, DisputeAnswer, DisputeOutcome, DisputeStatus, Escrow
from ..money import format_minor, format_money, to_minor
from ..permissions import escrow_actions
from ..services import EvidenceInput
from .common import confirmation_page, escrow_or_404


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


# A service's field names (the API's) as this form names them; None: about the whole form.
_OPEN_FIELDS = {
    "reason": "reason",
    "text": "evidence_text",
    "url": "evidence_url",
    "outcome": "default_outcome",
    "sellerAmount": "default_seller_amount",
    "buyerAmount": "default_buyer_amount",
    "default_seller_amount": "default_seller_amount",
    "default_buyer_amount": "default_buyer_amount",
}


@login_required
def escrow_dispute(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    """GET: the form (one milestone of a milestone escrow, or the whole standard escrow).
    POST: check it and show what opening does, in money (a confirmation page carrying what was
    typed). POST confirmed: open the dispute, then show it. Any refusal shows the form again
    with everything typed and the reason on its field."""
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
        initial={"milestone": chosen, "default_outcome": settings.ESCROW_DISPUTE_DEFAULT_OUTCOME},
    )
    if request.method == "POST":
        if form.is_valid() and request.POST.get("edit") != "1":
            data = form.cleaned_data
            try:
                if chosen and milestone is None:
                    raise NotFound("Milestone not found")
                if escrow.is_milestone and milestone is None:
                    raise InvalidRequest("Choose the milestone you dispute", field="milestone")
                seller_amount = _minor(data["default_seller_amount"], escrow, "default_seller_amount")
                buyer_amount = _minor(data["default_buyer_amount"], escrow, "default_buyer_amount")
                outcome, amount, seller_part, buyer_part = services.dispute_request_amounts(
                    escrow=escrow,
                    milestone=milestone,
                    outcome=data["default_outcome"] or None,
                    seller_amount=seller_amount,
                    buyer_amount=buyer_amount,
                )
                if request.POST.get("confirmed") != "1":
                    return confirmation_page(
                        request,
                        dispute_open_confirmation(
                            escrow,
                            milestone,
                            role=actions.role or "buyer",
                            outcome=outcome,
                            amount=amount,
                            seller_part=seller_part,
                            buyer_part=buyer_part,
                            deadline=timezone.now() + settings.ESCROW_DISPUTE_RESOLUTION_PERIOD,
                            fields=tuple(
                                (name, str(data[name] or ""))
                                for name in (
                                    "reason",
                                    "evidence_text",
                                    "evidence_url",
                                    "default_outcome",
                                    "default_seller_amount",
                                    "default_buyer_amount",
                                )
                            )
                            + ((("milestone", milestone.public_id),) if milestone is not None else ()),
                        ),
                    )
                dispute = services.dispute_open(
                    escrow=escrow,
                    by=request.user,
                    reason=data["reason"],
                    milestone=milestone,
                    # Files are added on the dispute page once it is open: a confirmation page
                    # cannot carry a chosen file.
                    evidence=EvidenceInput(text=data["evidence_text"] or "", url=data["evidence_url"] or ""),
                    default_outcome=outcome,
                    default_seller_amount=seller_part,
                    default_buyer_amount=buyer_part,
                )
            except EscrowError as exc:
                name = _OPEN_FIELDS.get(exc.field or "")
                form.add_error(name if name in form.fields else None, exc.for_person)
            else:
                messages.success(
                    request,
                    f"Dispute opened. {format_money(dispute.amount, escrow.currency)} is frozen "
                    "until it is resolved. You can add files as evidence below.",
                )
                return _to_page(dispute)
        status = 200 if request.POST.get("edit") == "1" else 400
        return render(
            request, "escrows/dispute.html", _open_context(escrow, actions, milestone, form), status=status
        )
    if not (actions.can_dispute or actions.disputable):
        messages.error(request, "Nothing in this escrow can be disputed right now.")
        return redirect("escrow_detail", public_id=escrow.public_id)
    return render(request, "escrows/dispute.html", _open_context(escrow, actions, milestone, form))


def _open_context(escrow: Escrow, actions: Any, milestone: Any, form: forms.Form) -> dict[str, Any]:
    role = actions.role or "buyer"
    return {
        "escrow": escrow,
        "milestone": milestone,
        "disputable": actions.disputable,
        "form": form,
        "other_role": "seller" if role == "buyer" else "buyer",
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
            "accept_outcome": dispute_request_of(dispute, escrow),
            "what_happens": dispute_what_happens(dispute, escrow) if active else "",
            "withdraw": dispute_withdraw_confirmation(escrow, dispute)
            if active and role == dispute.opener_role
            else None,
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
        return confirmation_page(request, dispute_accept_confirmation(escrow, dispute, text))
    try:
        services.dispute_answer(dispute=dispute, by=request.user, answer=answer, text=text)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
    else:
        messages.success(
            request,
            f"Claim accepted; the dispute is settled: {dispute_request_of(dispute, escrow)}."
            if answer == "accept"
            else "Answer sent to the arbiter.",
        )
    return _to_page(dispute)


@login_required
def dispute_withdraw(request: AuthenticatedHttpRequest, public_id: str, dispute_id: str) -> HttpResponse:
    """GET: the confirmation page. POST: withdraw; the frozen amount is free again."""
    escrow = escrow_or_404(request, public_id)
    dispute = _dispute(escrow, dispute_id)
    if request.method != "POST":
        if not (dispute.is_active and escrow.party_role(request.user) == dispute.opener_role):
            messages.error(request, "This dispute cannot be withdrawn by you now.")
            return _to_page(dispute)
        return confirmation_page(request, dispute_withdraw_confirmation(escrow, dispute))
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
            return confirmation_page(
                request,
                dispute_resolve_confirmation(
                    escrow,
                    dispute,
                    seller_part=seller_gets,
                    buyer_part=buyer_gets,
                    fields=tuple(
                        (name, str(data[name] or ""))
                        for name in ("outcome", "seller_amount", "buyer_amount", "note")
                    ),
                ),
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
