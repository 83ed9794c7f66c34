"""What every page shares: the escrow resolved for the viewer (404 for anyone else), a service
call reported as a flash message, the POST-only escrow action and the confirmation page."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.types import AuthenticatedHttpRequest
from core.confirmations import Confirmation
from core.errors import EscrowError, NotFound

from .. import selectors
from ..models import Escrow


def escrow_or_404(request: HttpRequest, public_id: str, *, dispute_state: bool = False) -> Escrow:
    try:
        return selectors.escrow_get_for_user(request.user, public_id, dispute_state=dispute_state)
    except NotFound:
        raise Http404("Escrow not found") from None


def run_service(request: HttpRequest, action: Callable[[], Any], success: str) -> bool:
    """Call a service; report the outcome as a flash message."""
    try:
        action()
    except EscrowError as exc:
        messages.error(request, exc.for_person)
        return False
    messages.success(request, success)
    return True


def escrow_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """POST-only, logged-in, escrow resolved for the viewer (404 for anyone else)."""

    @login_required
    @require_POST
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, public_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, escrow_or_404(request, public_id), *args, **kwargs)

    return wrapper


def back_to_escrow(escrow: Escrow) -> HttpResponse:
    return redirect("escrow_detail", public_id=escrow.public_id)


def confirmation_page(request: HttpRequest, confirmation: Confirmation, *, status: int = 200) -> HttpResponse:
    """An irreversible action's confirmation as its own page (templates/confirm.html)."""
    return render(request, "confirm.html", {"confirmation": confirmation}, status=status)
