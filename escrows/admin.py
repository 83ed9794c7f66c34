"""Admin: everything visible and searchable, nothing editable by hand. State changes are actions
that call the same services as the API and the pages, so the ledger and events stay whole."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.types import AuthenticatedHttpRequest
from core.errors import EscrowError

from . import services
from .agreements import changes_words, version_line
from .models import (
    CancellationProposal,
    ChangeProposal,
    Dispute,
    DisputeEvidence,
    DisputeOutcome,
    Escrow,
    Event,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MockOffRampPayout,
    Payment,
    RefundRequest,
    Settlement,
    StripeChargeback,
    StripeRefund,
    TermsVersion,
)
from .money import format_money
from .templatetags.escrow_ui import period


def _currency_of(obj: Any) -> str:
    if isinstance(obj, LedgerEntry):
        return obj.account.currency
    currency = getattr(obj, "currency", None)
    return currency if currency is not None else obj.escrow.currency


def _money_display(name: str, description: str) -> Callable[[Any, Any], str]:
    @admin.display(description=description, ordering=name)
    def show(self: Any, obj: Any) -> str:
        minor = getattr(obj, name)
        return "" if minor is None else format_money(minor, _currency_of(obj))

    return show


class MoneyFields(BaseModelAdmin):
    """Amounts (integers in minor units) shown as money ("1,200.00 USD") wherever the admin
    lists or shows them: each name in `money_fields` is swapped for its `<name>_money` display."""

    money_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.money_fields:
            if not hasattr(cls, f"{name}_money"):
                label = cls.model._meta.get_field(name).verbose_name
                setattr(cls, f"{name}_money", _money_display(name, str(label).capitalize()))
        list_display = getattr(cls, "list_display", None)  # a ModelAdmin's, not an inline's
        if list_display:
            setattr(cls, "list_display", _as_money(cls.money_fields, list_display))  # noqa: B010

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return _as_money(self.money_fields, super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return _as_money(self.money_fields, [*super().get_readonly_fields(request, obj), *self.money_fields])


def _as_money(money_fields: tuple[str, ...], names: Any) -> list[Any]:
    return list(dict.fromkeys(f"{n}_money" if n in money_fields else n for n in names))


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
            modeladmin.message_user(request, f"{obj}: {exc.for_person}", level=messages.ERROR)
        else:
            ok += 1
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}", level=messages.SUCCESS)


class MilestoneInline(MoneyFields, admin.TabularInline):
    model = Milestone
    money_fields = ("amount", "released_part")
    released_part_money = _money_display("released_part", "Released so far")
    extra = 0
    can_delete = False
    fields = (
        "index",
        "public_id",
        "title",
        "amount",
        "released_part",
        "status",
        "payee",
        "completed_at",
        "completion_proof",
        "changes_requested_count",
        "changes_requested_note",
        "changes_requested_at",
        "review_deadline",
        "review_extended_at",
        "reminder_sent_at",
        "due_date",
        "due_reminder_sent_at",
        "overdue_notified_at",
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
class EscrowAdmin(MoneyFields, ReadOnlyAdmin):
    model = Escrow
    money_fields = ("amount", "fee")
    list_display = ("public_id", "title", "seller", "buyer", "amount_money", "status", "created_at")
    list_filter = ("status", "settlement_type", "release_type", "currency", "created_at")
    search_fields = ("public_id", "payment_token", "title", "seller__email", "buyer__email", "buyer_email")
    list_select_related = ("seller", "buyer")
    date_hierarchy = "created_at"
    inlines = [MilestoneInline, EventInline]  # DisputeInline appended below
    # The inspection period in words ("14 days"), in place of the stored duration.
    exclude = ("inspection_period",)
    readonly_fields = ("inspection_period_days", "evidence_record")
    actions = ["cancel"]

    @admin.display(description="Amount", ordering="amount")
    def amount_money(self, obj: Escrow) -> str:
        return format_money(obj.amount, obj.currency)

    @admin.display(description="Inspection period")
    def inspection_period_days(self, obj: Escrow) -> str:
        return period(obj.inspection_period)

    @admin.display(description="Evidence record")
    def evidence_record(self, obj: Escrow) -> str:
        return format_html(
            '<a href="{}">Printable record</a> · <a href="{}">JSON</a> (parties, milestones, events, '
            "ledger postings, evidence hashes)",
            reverse("evidence_export", args=[obj.public_id]),
            reverse("evidence_export_json", args=[obj.public_id]),
        )

    @admin.action(description="Cancel (unpaid escrows only)")
    def cancel(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Escrow]) -> None:
        run_service_action(
            self, request, queryset, lambda e: services.escrow_cancel(escrow=e, by=request.user), "Cancelled"
        )


@admin.register(Milestone)
class MilestoneAdmin(MoneyFields, ReadOnlyAdmin):
    model = Milestone
    money_fields = ("amount", "released_part")
    released_part_money = _money_display("released_part", "Released so far")
    list_display = (
        "public_id",
        "escrow",
        "index",
        "title",
        "amount",
        "released_part",
        "status",
        "completed_at",
        "changes_requested_count",
        "review_deadline",
        "review_extended_at",
        "reminder_sent_at",
        "due_date",
        "due_reminder_sent_at",
        "overdue_notified_at",
        "released_at",
    )
    list_filter = ("status",)
    search_fields = ("public_id", "escrow__public_id", "title")
    list_select_related = ("escrow",)


@admin.register(Payment)
class PaymentAdmin(MoneyFields, ReadOnlyAdmin):
    model = Payment
    money_fields = ("amount", "fee")
    list_display = ("public_id", "escrow", "payer", "source", "amount", "fee", "currency", "created_at")
    list_filter = ("source", "currency")
    search_fields = ("public_id", "reference", "escrow__public_id", "payer__email")
    list_select_related = ("escrow", "payer")


@admin.register(Settlement)
class SettlementAdmin(MoneyFields, ReadOnlyAdmin):
    model = Settlement
    money_fields = ("amount",)
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
    def retry(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Settlement]) -> None:
        run_service_action(
            self,
            request,
            queryset,
            lambda s: services.settlement_retry(settlement=s, by=request.user),
            "Retried",
        )


@admin.register(StripeRefund)
class StripeRefundAdmin(MoneyFields, ReadOnlyAdmin):
    model = StripeRefund
    money_fields = ("amount",)
    list_display = (
        "public_id",
        "escrow",
        "amount",
        "currency",
        "purpose",
        "status",
        "attempts",
        "provider_reference",
        "created_at",
    )
    list_filter = ("status", "purpose", "currency")
    search_fields = ("public_id", "provider_reference", "escrow__public_id", "card_payment__public_id")
    list_select_related = ("escrow",)
    actions = ["retry"]

    @admin.action(description="Send failed card refunds again")
    def retry(self, request: AuthenticatedHttpRequest, queryset: QuerySet[StripeRefund]) -> None:
        run_service_action(
            self,
            request,
            queryset,
            lambda r: services.card_refund_retry(refund=r, by=request.user),
            "Sent again",
        )


@admin.register(StripeChargeback)
class StripeChargebackAdmin(MoneyFields, ReadOnlyAdmin):
    model = StripeChargeback
    money_fields = ("amount",)
    list_display = (
        "provider_reference",
        "escrow",
        "amount",
        "currency",
        "reason",
        "status",
        "opened_at",
        "closed_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("provider_reference", "escrow__public_id", "card_payment__public_id")
    list_select_related = ("escrow",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "escrow", "actor", "actor_kind", "from_status", "to_status", "created_at")
    list_filter = ("kind", "actor_kind")
    search_fields = ("public_id", "escrow__public_id", "actor__email", "kind")
    list_select_related = ("escrow", "actor")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(MoneyFields, ReadOnlyAdmin):
    model = LedgerAccount
    money_fields = ("balance",)
    list_display = ("id", "kind", "currency", "owner", "escrow", "balance")
    list_filter = ("kind", "currency")
    search_fields = ("owner__email", "escrow__public_id")
    list_select_related = ("owner", "escrow")


class LedgerEntryInline(MoneyFields, admin.TabularInline):
    model = LedgerEntry
    money_fields = ("amount",)
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
class MockOffRampPayoutAdmin(MoneyFields, ReadOnlyAdmin):
    model = MockOffRampPayout
    money_fields = ("amount",)
    list_display = ("idempotency_key", "amount", "currency", "destination", "attempts", "reference")
    search_fields = ("idempotency_key", "destination", "reference")


# -- disputes and evidence ------------------------------------------------------------------


class DisputeEvidenceInline(admin.TabularInline):
    model = DisputeEvidence
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "submitted_by",
        "submitter_role",
        "text",
        "url",
        "file_name",
        "file_size",
        "file_sha256",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DisputeInline(admin.TabularInline):
    model = Dispute
    extra = 0
    can_delete = False
    fields = ("public_id", "milestone", "opener_role", "status", "deadline", "outcome")
    readonly_fields = fields


# -- refunds and mutual cancellation ----------------------------------------------------------
# Read-only: a refund request or a cancellation proposal is decided by the parties, through the
# services; staff see every one, its money and how it ended, from here and from its escrow.


def _escrow_link(escrow: Escrow) -> str:
    url = reverse("admin:escrows_escrow_change", args=[escrow.pk])
    return format_html('<a href="{}">{}</a>', url, escrow.public_id)


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "escrow_link", "requested_by", "amount_money", "status", "created_at")
    list_filter = ("status", "created_at")
    search_fields = ("public_id", "escrow__public_id", "requested_by__email", "reason")
    list_select_related = ("escrow", "requested_by")
    fields = (
        "public_id",
        "escrow_link",
        "requested_by",
        "milestone_ids",
        "amount_money",
        "reason",
        "status",
        "decline_reason",
        "decided_by",
        "decided_at",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="Escrow")
    def escrow_link(self, obj: RefundRequest) -> str:
        return _escrow_link(obj.escrow)

    @admin.display(description="Amount", ordering="amount")
    def amount_money(self, obj: RefundRequest) -> str:
        return format_money(obj.amount, obj.escrow.currency)


@admin.register(CancellationProposal)
class CancellationProposalAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "escrow_link",
        "proposed_by",
        "proposer_role",
        "buyer_money",
        "seller_money",
        "status",
        "created_at",
    )
    list_filter = ("status", "proposer_role", "created_at")
    search_fields = ("public_id", "escrow__public_id", "proposed_by__email", "note")
    list_select_related = ("escrow", "proposed_by")
    fields = (
        "public_id",
        "escrow_link",
        "proposed_by",
        "proposer_role",
        "buyer_money",
        "seller_money",
        "note",
        "status",
        "decline_reason",
        "decided_by",
        "decided_at",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="Escrow")
    def escrow_link(self, obj: CancellationProposal) -> str:
        return _escrow_link(obj.escrow)

    @admin.display(description="To the buyer", ordering="buyer_amount")
    def buyer_money(self, obj: CancellationProposal) -> str:
        return format_money(obj.buyer_amount, obj.escrow.currency)

    @admin.display(description="To the seller", ordering="seller_amount")
    def seller_money(self, obj: CancellationProposal) -> str:
        return format_money(obj.seller_amount, obj.escrow.currency)


class _LinkedInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


EscrowAdmin.inlines = [MilestoneInline, DisputeInline, EventInline]


@admin.register(Dispute)
class DisputeAdmin(MoneyFields, ReadOnlyAdmin):
    model = Dispute
    money_fields = (
        "amount",
        "default_seller_amount",
        "default_buyer_amount",
        "seller_amount",
        "buyer_amount",
    )
    list_display = ("public_id", "escrow", "milestone", "opener_role", "status", "deadline", "outcome")
    list_filter = ("status", "outcome", "opener_role")
    search_fields = ("public_id", "escrow__public_id", "milestone__public_id", "opened_by__email")
    list_select_related = ("escrow", "milestone")
    readonly_fields = ("resolve_page",)
    inlines = [DisputeEvidenceInline]
    actions = ["resolve_release", "resolve_refund"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    @admin.display(description="Resolve (release, refund or split)")
    def resolve_page(self, obj: Dispute) -> str:
        url = reverse("dispute_resolve", args=[obj.escrow.public_id, obj.public_id])
        return format_html('<a href="{}">Open the staff resolution page</a>', url)

    def _resolve(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Dispute], outcome: str, done: str
    ) -> None:
        run_service_action(
            self,
            request,
            queryset,
            lambda d: services.dispute_resolve(
                dispute=d, by=request.user, outcome=outcome, note=f"admin action by {request.user}"
            ),
            done,
        )

    @admin.action(description="Resolve: release the disputed amount to the seller")
    def resolve_release(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Dispute]) -> None:
        self._resolve(request, queryset, DisputeOutcome.RELEASE, "Resolved, released")

    @admin.action(description="Resolve: refund the disputed amount to the buyer")
    def resolve_refund(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Dispute]) -> None:
        self._resolve(request, queryset, DisputeOutcome.REFUND, "Resolved, refunded")


class RefundRequestInline(MoneyFields, _LinkedInline):
    model = RefundRequest
    money_fields = ("amount",)
    fields = ("public_id", "requested_by", "amount", "status", "reason", "decline_reason", "decided_at")
    readonly_fields = fields


class CancellationProposalInline(MoneyFields, _LinkedInline):
    model = CancellationProposal
    money_fields = ("buyer_amount", "seller_amount")
    fields = ("public_id", "proposed_by", "buyer_amount", "seller_amount", "status", "decided_at")
    readonly_fields = fields


# Added here rather than in EscrowAdmin's definition to keep this section self-contained.
EscrowAdmin.inlines = [*EscrowAdmin.inlines, RefundRequestInline, CancellationProposalInline]


class TermsVersionInline(_LinkedInline):
    """Every version of the terms, who proposed it and when each party agreed (read-only)."""

    model = TermsVersion
    show_change_link = False
    fields = (
        "number",
        "reason",
        "proposer_role",
        "proposed_at",
        "seller_agreed_at",
        "buyer_agreed_at",
        "what",
    )
    readonly_fields = fields
    ordering = ("number",)

    @admin.display(description="What it says")
    def what(self, obj: TermsVersion) -> str:
        return version_line(obj, current=obj.number == obj.escrow.terms_version, viewer_role=None).what


EscrowAdmin.inlines = [*EscrowAdmin.inlines, TermsVersionInline]


@admin.register(ChangeProposal)
class ChangeProposalAdmin(ReadOnlyAdmin):
    """Change orders, read-only: what each changed, in words and money, and how it ended."""

    list_display = (
        "public_id",
        "escrow_link",
        "proposer_role",
        "before_money",
        "after_money",
        "status",
        "created_at",
    )
    list_filter = ("status", "proposer_role", "created_at")
    search_fields = ("public_id", "escrow__public_id", "proposed_by__email", "note", "decline_reason")
    list_select_related = ("escrow", "proposed_by")
    fields = (
        "public_id",
        "escrow_link",
        "proposed_by",
        "proposer_role",
        "what",
        "before_money",
        "after_money",
        "note",
        "pay_source",
        "status",
        "lapses_at",
        "decline_reason",
        "decided_by",
        "decided_at",
        "paid",
        "refunded_money",
        "gateway_reference",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="Escrow")
    def escrow_link(self, obj: ChangeProposal) -> str:
        return _escrow_link(obj.escrow)

    @admin.display(description="Changes")
    def what(self, obj: ChangeProposal) -> str:
        return changes_words(obj.changes, obj.escrow.currency)

    @admin.display(description="Total before", ordering="amount_before")
    def before_money(self, obj: ChangeProposal) -> str:
        return format_money(obj.amount_before, obj.escrow.currency)

    @admin.display(description="Total after", ordering="amount_after")
    def after_money(self, obj: ChangeProposal) -> str:
        return format_money(obj.amount_after, obj.escrow.currency)

    @admin.display(description="Paid in by the buyer")
    def paid(self, obj: ChangeProposal) -> str:
        if not obj.paid_amount:
            return ""
        currency = obj.escrow.currency
        return (
            f"{format_money(obj.paid_amount, currency)} + {format_money(obj.paid_fee, currency)} fee "
            f"({obj.paid_from.lower()})"
        )

    @admin.display(description="Back to the buyer")
    def refunded_money(self, obj: ChangeProposal) -> str:
        return format_money(obj.refunded_amount, obj.escrow.currency) if obj.refunded_amount else ""


class ChangeProposalInline(MoneyFields, _LinkedInline):
    model = ChangeProposal
    money_fields = ("amount_before", "amount_after")
    fields = ("public_id", "proposer_role", "status", "amount_before", "amount_after", "decided_at")
    readonly_fields = fields


EscrowAdmin.inlines = [*EscrowAdmin.inlines, ChangeProposalInline]
