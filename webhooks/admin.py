from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError

from . import services
from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("public_id", "customer", "url", "format", "enabled", "created_at")
    list_filter = ("enabled", "format")
    search_fields = ("public_id", "url", "customer__email", "customer__customer_id")
    list_select_related = ("customer",)
    fields = (
        "public_id",
        "customer",
        "url",
        "description",
        "format",
        "enabled",
        "secret",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("enable", "disable")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # endpoints are created by customers (page or API), with a checked URL

    def _set_enabled(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[WebhookEndpoint], enabled: bool
    ) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_set_enabled(endpoint=endpoint, by=request.user, enabled=enabled)
        self.message_user(request, f"{queryset.count()} endpoints {'enabled' if enabled else 'disabled'}.")

    @admin.action(description="Enable selected endpoints")
    def enable(self, request: AuthenticatedHttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected endpoints")
    def disable(self, request: AuthenticatedHttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, False)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("public_id", "event__public_id", "endpoint__url", "endpoint__customer__email")
    list_select_related = ("endpoint", "event")
    actions = ("resend",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Resend selected deliveries")
    def resend(self, request: AuthenticatedHttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        sent = 0
        for delivery in queryset:
            try:
                services.webhook_delivery_resend(delivery=delivery, by=request.user)
                sent += 1
            except EscrowError as exc:
                self.message_user(request, f"{delivery.public_id}: {exc.for_person}", messages.WARNING)
        if sent:
            self.message_user(request, f"{sent} deliveries queued again.", messages.SUCCESS)
