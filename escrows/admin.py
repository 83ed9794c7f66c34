from django.contrib import admin

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money and status rows change only through services; admin shows them."""

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class MilestoneInline(admin.TabularInline):
    model = Milestone
    extra = 0
    can_delete = False
    fields = ("index", "public_id", "title", "amount", "status", "payee", "completed_at", "released_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Escrow)
class EscrowAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "title", "seller", "buyer", "amount", "currency", "status", "created_at")
    list_filter = ("status", "settlement_type", "currency")
    search_fields = ("public_id", "payment_token", "title", "seller__email", "buyer__email")
    inlines = [MilestoneInline]


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "escrow", "index", "amount", "status")
    list_filter = ("status",)
    search_fields = ("public_id", "escrow__public_id")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "escrow", "payer", "source", "amount", "fee", "created_at")


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "customer", "amount", "currency", "status", "attempts", "created_at")
    list_filter = ("status",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "escrow", "actor", "actor_kind", "from_status", "to_status", "created_at")
    list_filter = ("kind", "actor_kind")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "owner", "escrow", "balance")
    list_filter = ("kind", "currency")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount")

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "escrow", "milestone", "created_at")
    list_filter = ("kind",)
    inlines = [LedgerEntryInline]


@admin.register(MockOffRampPayout)
class MockOffRampPayoutAdmin(ReadOnlyAdmin):
    list_display = ("idempotency_key", "amount", "currency", "destination", "attempts", "reference")
