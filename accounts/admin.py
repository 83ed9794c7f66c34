from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from . import services
from .models import APIKey, IdempotencyRecord, User

# Staff log in through the site's sign-in page, so the admin gets the same failed-login lock and
# message, the confirmed email and the two-factor code: its own login form would skip the last two.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


class BlockedFilter(admin.SimpleListFilter):
    title = "blocked"
    parameter_name = "blocked"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() in ("yes", "no"):
            return queryset.filter(blocked_at__isnull=self.value() == "no")
        return queryset


def _each(request: HttpRequest, queryset: QuerySet[User], change: str, done: str) -> None:
    """Apply one of the customer services (`change`, called per customer) and say how many."""
    by = request.user
    assert isinstance(by, User)
    count = 0
    for customer in queryset.order_by("pk"):
        if change == "block":
            services.customer_block(customer=customer, by=by)
        elif change == "unblock":
            services.customer_unblock(customer=customer, by=by)
        else:
            allow = change.startswith("allow_")
            buying = change.endswith("_buying")
            services.customer_permissions_update(
                customer=customer,
                can_buy=allow if buying else None,
                can_sell=None if buying else allow,
                by=by,
            )
        count += 1
    messages.success(request, f"{count} customer{'s' if count != 1 else ''} {done}; each is told by email.")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Blocking and what a customer may do change only through the actions, which call the same
    services as the API (accounts/services.py), so the customer is told."""

    ordering = ("email",)
    list_display = (
        "email",
        "customer_id",
        "first_name",
        "last_name",
        "is_platform",
        "is_staff",
        "can_buy",
        "can_sell",
        "blocked",
    )
    list_filter = ("is_platform", "is_staff", "is_active", "can_buy", "can_sell", BlockedFilter)
    search_fields = ("email", "customer_id", "first_name", "last_name")
    readonly_fields = ("customer_id", "date_joined", "last_login", "can_buy", "can_sell", "blocked_at")
    actions = ("block", "unblock", "allow_buying", "forbid_buying", "allow_selling", "forbid_selling")
    fieldsets = (
        (None, {"fields": ("email", "password", "customer_id")}),
        ("Profile", {"fields": ("first_name", "last_name", "phone")}),
        ("Platform", {"fields": ("is_platform", "created_by_platform")}),
        ("What the customer may do", {"fields": ("can_buy", "can_sell", "blocked_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    @admin.display(boolean=True, ordering="blocked_at")
    def blocked(self, obj: User) -> bool:
        return obj.is_blocked

    @admin.action(description="Block the selected customers")
    def block(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _each(request, queryset, "block", "blocked")

    @admin.action(description="Unblock the selected customers")
    def unblock(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _each(request, queryset, "unblock", "unblocked")

    @admin.action(description="Let the selected customers pay for escrows")
    def allow_buying(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _each(request, queryset, "allow_buying", "may pay for escrows")

    @admin.action(description="Stop the selected customers paying for escrows")
    def forbid_buying(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _each(request, queryset, "forbid_buying", "may no longer pay for escrows")

    @admin.action(description="Let the selected customers create escrows")
    def allow_selling(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _each(request, queryset, "allow_selling", "may create escrows")

    @admin.action(description="Stop the selected customers creating escrows")
    def forbid_selling(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _each(request, queryset, "forbid_selling", "may no longer create escrows")


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
