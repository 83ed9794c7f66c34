"""Webhooks page: the customer's endpoints and delivery log. Writes go through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError, NotFound

from . import selectors, services
from .forms import EndpointForm
from .models import WebhookFormat


@login_required
def webhooks_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(
                customer=request.user,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                format=form.cleaned_data["format"] or WebhookFormat.NATIVE,
            )
        except EscrowError as exc:
            form.add_error("url" if exc.field == "url" else None, exc.for_person)
        else:
            messages.success(request, "Endpoint added. Use its signing secret to verify deliveries.")
            return redirect("webhook_detail", public_id=endpoint.public_id)
    return render(
        request,
        "webhooks/webhooks.html",
        {
            "form": form,
            "endpoints": selectors.endpoints_for_user(request.user),
            "deliveries": selectors.deliveries_for_user(request.user)[:20],
        },
        status=400 if form.errors else 200,
    )


@login_required
def webhook_detail(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    try:
        endpoint = selectors.endpoint_get_for_user(request.user, public_id)
    except NotFound:
        raise Http404("Webhook endpoint not found") from None
    page = Paginator(selectors.deliveries_for_user(request.user, endpoint=endpoint), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "webhooks/endpoint.html", {"endpoint": endpoint, "page": page})


@login_required
@require_POST
def webhook_toggle(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    try:
        endpoint = selectors.endpoint_get_for_user(request.user, public_id)
        endpoint = services.webhook_endpoint_set_enabled(
            endpoint=endpoint, by=request.user, enabled=not endpoint.enabled
        )
    except NotFound:
        raise Http404("Webhook endpoint not found") from None
    messages.success(request, f"Endpoint {'enabled' if endpoint.enabled else 'disabled'}.")
    return redirect("webhook_detail", public_id=endpoint.public_id)


@login_required
@require_POST
def webhook_delete(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    try:
        endpoint = selectors.endpoint_get_for_user(request.user, public_id)
        services.webhook_endpoint_delete(endpoint=endpoint, by=request.user)
    except NotFound:
        raise Http404("Webhook endpoint not found") from None
    messages.success(request, "Endpoint deleted.")
    return redirect("webhooks")


@login_required
@require_POST
def webhook_delivery_resend(request: AuthenticatedHttpRequest, public_id: str) -> HttpResponse:
    try:
        delivery = selectors.delivery_get_for_user(request.user, public_id)
    except NotFound:
        raise Http404("Webhook delivery not found") from None
    try:
        services.webhook_delivery_resend(delivery=delivery, by=request.user)
    except EscrowError as exc:
        messages.error(request, exc.for_person)
    else:
        messages.success(request, "Delivery queued again.")
    return redirect("webhook_detail", public_id=delivery.endpoint.public_id)
