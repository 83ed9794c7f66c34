"""The home page and the dashboard: a party's escrows, selling or buying, filtered and paged."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.types import AuthenticatedHttpRequest

from .. import selectors
from ..filters import EscrowFilter

PAGE_SIZE = 20


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html")


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    tab = "buying" if request.GET.get("tab") == "buying" else "selling"
    base = selectors.with_overdue(
        selectors.with_dispute_state(
            selectors.with_review_clock(
                selectors.escrows_for_user(request.user, role=tab, with_invitations=True)
            )
        )
    )
    filterset = EscrowFilter(request.GET, queryset=selectors.with_progress(base))
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    filtered = bool(request.GET.get("status") or request.GET.get("q"))
    template = "escrows/_escrow_list.html" if request.htmx else "escrows/dashboard.html"
    return render(
        request,
        template,
        {
            "tab": tab,
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "filtered": filtered,
        },
    )
