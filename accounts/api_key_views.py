"""The API keys page: create (the key is shown once, on the answer to the POST), list with
last use, revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError

from . import services
from .models import APIKey


def _page(
    request: AuthenticatedHttpRequest, *, new_key: str | None = None, status: int = 200
) -> HttpResponse:
    keys = APIKey.objects.filter(user=request.user).order_by("revoked", "-created")
    return render(request, "accounts/api_keys.html", {"keys": keys, "new_key": new_key}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    try:
        _, key = services.api_key_create(user=request.user, name=request.POST.get("name", ""))
    except EscrowError as exc:
        messages.error(request, exc.message)
        return _page(request, status=400)
    # Rendered, not redirected: the key must not outlive this one response (no session copy).
    response = _page(request, new_key=key)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request: AuthenticatedHttpRequest, prefix: str) -> HttpResponse:
    try:
        api_key = services.api_key_revoke(user=request.user, prefix=prefix)
    except EscrowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked “{api_key.name}” ({api_key.prefix}…). It no longer works.")
    return redirect("api_keys")
