"""The reader's notifications: the list (needs your action first, then newest first, paged), one
followed to its page (marking it read), one or all marked read. Works without JavaScript."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import NotFound

from .. import selectors, services
from ..models import Notification

PAGE_SIZE = 20


def _own(request: HttpRequest, pk: int) -> Notification:
    try:
        return selectors.notification_get_for_user(request.user, pk)
    except NotFound:
        raise Http404("Notification not found") from None


def _safe_path(url: str) -> str:
    """A notification's link stays on this site (a path); anything else opens the list."""
    if url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return url
    return reverse("notifications")


@login_required
@require_GET
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = Paginator(selectors.for_user(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_GET
def notification_open(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Following a notification: it is read now, and the reader lands where they act."""
    notification = services.notification_mark_read(notification=_own(request, pk), by=request.user)
    return redirect(_safe_path(notification.url))


@login_required
@require_POST
def notification_read(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    services.notification_mark_read(notification=_own(request, pk), by=request.user)
    return _back_to_list(request)


@login_required
@require_POST
def notifications_read_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    if count:
        messages.success(request, f"Marked {count} notification{'' if count == 1 else 's'} as read.")
    return _back_to_list(request)


def _back_to_list(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("page", "")
    suffix = f"?page={page}" if page.isascii() and page.isdigit() else ""
    return redirect(reverse("notifications") + suffix)
