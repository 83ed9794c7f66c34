"""The API keys page: create (POST, then a redirect: reloading the page never makes a second
key; the new key is shown once on the page the redirect leads to), list with last use, revoke
(after a confirmation page, or its dialog with JavaScript)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.types import AuthenticatedHttpRequest
from core.confirmations import Confirmation
from core.errors import EscrowError

from . import services
from .models import APIKey

# The new key travels from the POST to the page after the redirect in a signed cookie that
# lives a minute, only for this page, and is deleted as soon as the page shows it: it is never
# written to the database, the session or a log.
NEW_KEY_COOKIE = "new_api_key"
NEW_KEY_SALT = "accounts.api_keys.new"
NEW_KEY_MAX_AGE = 60


def revoke_confirmation(api_key: APIKey) -> Confirmation:
    return Confirmation(
        kind="revoke",
        key=f"revoke-{api_key.prefix}",
        title=f"Revoke “{api_key.name}” ({api_key.prefix}…)?",
        lines=(
            "Every program that uses this key is refused from now on. This cannot be undone: a "
            "revoked key never works again, and you would create a new key instead.",
        ),
        button="Revoke key",
        back_label="Keep the key",
        action_url=reverse("api_key_revoke", args=[api_key.prefix]),
        back_url=reverse("api_keys"),
    )


def _page(
    request: AuthenticatedHttpRequest, *, new_key: str | None = None, status: int = 200
) -> HttpResponse:
    keys = list(APIKey.objects.filter(user=request.user).order_by("revoked", "-created"))
    revokes = {k.prefix: revoke_confirmation(k) for k in keys if not k.revoked}
    return render(
        request,
        "accounts/api_keys.html",
        {
            "keys": [(k, revokes.get(k.prefix)) for k in keys],
            "dialogs": list(revokes.values()),
            "new_key": new_key,
        },
        status=status,
    )


def _new_key_shown_once(request: HttpRequest) -> str | None:
    return request.get_signed_cookie(NEW_KEY_COOKIE, default=None, salt=NEW_KEY_SALT, max_age=NEW_KEY_MAX_AGE)


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "GET":
        new_key = _new_key_shown_once(request)
        response = _page(request, new_key=new_key)
        if request.COOKIES.get(NEW_KEY_COOKIE) is not None:
            response.delete_cookie(NEW_KEY_COOKIE, path=reverse("api_keys"))
        if new_key:
            response["Cache-Control"] = "no-store"
        return response
    try:
        api_key, key = services.api_key_create(user=request.user, name=request.POST.get("name", ""))
    except EscrowError as exc:
        messages.error(request, exc.for_person)
        return _page(request, status=400)
    messages.success(request, f"Created “{api_key.name}”. Copy the key now: it is shown only this once.")
    response = redirect("api_keys")
    response.set_signed_cookie(
        NEW_KEY_COOKIE,
        key,
        salt=NEW_KEY_SALT,
        max_age=NEW_KEY_MAX_AGE,
        path=reverse("api_keys"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request: AuthenticatedHttpRequest, prefix: str) -> HttpResponse:
    """GET: the confirmation page. POST: revoke, for good."""
    if request.method == "GET":
        api_key = APIKey.objects.filter(user=request.user, prefix=prefix, revoked=False).first()
        if api_key is None:
            messages.error(request, "This key is not one of your active keys.")
            return redirect("api_keys")
        return render(request, "confirm.html", {"confirmation": revoke_confirmation(api_key)})
    try:
        api_key = services.api_key_revoke(user=request.user, prefix=prefix)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
    else:
        messages.success(request, f"Revoked “{api_key.name}” ({api_key.prefix}…). It no longer works.")
    return redirect("api_keys")
