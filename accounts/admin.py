from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

from .models import APIKey, IdempotencyRecord, User

# Staff log in through the site's sign-in page, so the admin gets the same failed-login lock and
# message, the confirmed email and the two-factor code: its own login form would skip the last two.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "customer_id", "first_name", "last_name", "is_platform", "is_staff")
    list_filter = ("is_platform", "is_staff", "is_active")
    search_fields = ("email", "customer_id", "first_name", "last_name")
    readonly_fields = ("customer_id", "date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password", "customer_id")}),
        ("Profile", {"fields": ("first_name", "last_name", "phone")}),
        ("Platform", {"fields": ("is_platform", "created_by_platform")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(APIKey)
class APIKeyAdmin(APIKeyModelAdmin):
    # The library's admin is typed by inference, as tuples of exactly its own columns.
    list_display = (*APIKeyModelAdmin.list_display, "user", "last_used_at")  # type: ignore[assignment]
    list_select_related = ("user",)
    search_fields = (*APIKeyModelAdmin.search_fields, "user__email")  # type: ignore[assignment]
    raw_id_fields = ("user",)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only: what was replayed to whom, for support questions."""

    list_display = ("key", "owner", "method", "path", "response_status", "created_at")
    list_select_related = ("owner",)
    search_fields = ("key", "owner__email", "path")
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False
