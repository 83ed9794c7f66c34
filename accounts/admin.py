from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


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
