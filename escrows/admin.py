"""Admin: everything visible and searchable, nothing editable by hand. State changes are actions
that call the same services as the API and the pages, so the ledger and events stay whole."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .errors import EscrowError
from .models import (
    Escrow,
    Event,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MockOffRampPayout,
    Payment,
    Settlement,
)
from .money import format_money
from .services import DisputeOutcome


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money and status rows change only through services; admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def run_service_action(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    call: Callable[[Any], Any],
    done: str,
) -> None:
    """Call one service per selected row; report successes and each refusal by its message."""
    ok = 0
    for obj in queryset:
        try:
            call(obj)
        except EscrowError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}", level=messages.SUCCESS)


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    can_delete = False
    fields = (
        "index",
        "public_id",
        "title",
        "amount",
        "status",
        "payee",
        "completed_at",
        "completion_proof",
        "review_deadline",
        "review_extended_at",
        "reminder_sent_at",
        "released_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = Event
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "actor_kind", "from_status", "to_status", "details")
    readonly_fields = fields
    ordering = ("id",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "title", "seller", "buyer", "amount_money", "status", "created_at")
    list_filter = ("status", "settlement_type", "release_type", "currency", "created_at")
    search_fields = ("public_id", "payment_token", "title", "seller__email", "buyer__email", "buyer_email")
    list_select_related = ("seller", "buyer")
    date_hierarchy = "created_at"
    inlines = [MilestoneInline, EventInline]
    actions = ["cancel", "resolve_release", "resolve_refund", "resolve_resume"]

    @admin.display(description="Amount", ordering="amount")
    def amount_money(self, obj: Escrow) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.action(description="Cancel (unpaid escrows only)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Escrow]) -> None:
        run_service_action(
            self, request, queryset, lambda e: services.escrow_cancel(escrow=e, by=request.user), "Cancelled"
        )

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Escrow], outcome: str, done: str) -> None:
        run_service_action(
            self,
            request,
            queryset,
            lambda e: services.dispute_resolve(
                escrow=e, by=request.user, outcome=outcome, note=f"admin action by {request.user}"
            ),
            done,
        )

    @admin.action(description="Resolve dispute: release the rest to the payees")
    def resolve_release(self, request: HttpRequest, queryset: QuerySet[Escrow]) -> None:
        self._resolve(request, queryset, DisputeOutcome.RELEASE, "Resolved, released")

    @admin.action(description="Resolve dispute: refund the rest to the buyer")
    def resolve_refund(self, request: HttpRequest, queryset: QuerySet[Escrow]) -> None:
        self._resolve(request, queryset, DisputeOutcome.REFUND, "Resolved, refunded")

    @admin.action(description="Resolve dispute: resume the escrow")
    def resolve_resume(self, request: HttpRequest, queryset: QuerySet[Escrow]) -> None:
        self._resolve(request, queryset, DisputeOutcome.RESUME, "Resolved, resumed")


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "escrow",
        "index",
        "title",
        "amount",
        "status",
        "completed_at",
        "review_deadline",
        "review_extended_at",
        "reminder_sent_at",
        "released_at",
    )
    list_filter = ("status",)
    search_fields = ("public_id", "escrow__public_id", "title")
    list_select_related = ("escrow",)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "escrow", "payer", "source", "amount", "fee", "currency", "created_at")
    list_filter = ("source", "currency")
    search_fields = ("public_id", "reference", "escrow__public_id", "payer__email")
    list_select_related = ("escrow", "payer")


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "customer",
        "amount",
        "currency",
        "destination",
        "status",
        "attempts",
        "created_at",
    )
    list_filter = ("status", "currency", "method")
    search_fields = ("public_id", "customer__email", "destination", "provider_reference", "escrow__public_id")
    list_select_related = ("customer",)
    actions = ["retry"]

    @admin.action(description="Retry failed settlements")
    def retry(self, request: HttpRequest, queryset: QuerySet[Settlement]) -> None:
        run_service_action(
            self,
            request,
            queryset,
            lambda s: services.settlement_retry(settlement=s, by=request.user),
            "Retried",
        )


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "escrow", "actor", "actor_kind", "from_status", "to_status", "created_at")
    list_filter = ("kind", "actor_kind")
    search_fields = ("public_id", "escrow__public_id", "actor__email", "kind")
    list_select_related = ("escrow", "actor")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "owner", "escrow", "balance")
    list_filter = ("kind", "currency")
    search_fields = ("owner__email", "escrow__public_id")
    list_select_related = ("owner", "escrow")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "escrow", "milestone", "memo", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("escrow__public_id", "memo")
    list_select_related = ("escrow", "milestone")
    inlines = [LedgerEntryInline]


@admin.register(MockOffRampPayout)
class MockOffRampPayoutAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "amount", "currency", "destination", "attempts", "reference")
    search_fields = ("idempotency_key", "destination", "reference")
