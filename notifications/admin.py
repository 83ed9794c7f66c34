from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError

from . import services
from .models import Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "subject",
        "recipient_key",
        "email",
        "category",
        "email_status",
        "attempts",
        "last_error",
        "sent_at",
        "read_at",
        "created_at",
    )
    list_filter = ("email_status", "category", "action_required")
    search_fields = ("email", "subject", "recipient__email", "event__public_id", "escrow__public_id")
    list_select_related = ("recipient",)
    actions = ("resend",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected emails again")
    def resend(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Notification]) -> None:
        sent = 0
        for notification in queryset:
            try:
                services.notification_email_resend(notification=notification, by=request.user)
                sent += 1
            except EscrowError as exc:
                self.message_user(request, f"{notification.pk}: {exc.for_person}", messages.WARNING)
        if sent:
            self.message_user(request, f"{sent} emails queued again.", messages.SUCCESS)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "email", "category", "email_enabled", "updated_at")
    list_filter = ("category", "email_enabled")
    search_fields = ("user__email", "email")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
