"""Escrow domain. @transition methods only move the status of one row in memory; every write
that matters (locks, ledger, events, side effects) lives in escrows/services/."""

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, transition

from .money import format_minor, format_money


def _token(prefix: str, nbytes: int = 12) -> str:
    return prefix + secrets.token_hex(nbytes)


def new_escrow_id() -> str:
    return _token("intent_")


def new_payment_token() -> str:
    # Separate from the id and unguessable: whoever holds it can see and pay the escrow.
    return "pt_" + secrets.token_urlsafe(24)


def new_milestone_id() -> str:
    return _token("milestone_")


def new_settlement_id() -> str:
    return _token("stl_")


def new_payment_id() -> str:
    return _token("pay_")


def new_event_id() -> str:
    return _token("evt_")


class EscrowStatus(models.TextChoices):
    AWAITING_PAYMENT = "AWAITING_PAYMENT", "Awaiting payment"
    OPENED = "OPENED", "Opened"
    DISPUTED = "DISPUTED", "Disputed"
    COMPLETED = "COMPLETED", "Completed"
    REFUNDED = "REFUNDED", "Refunded"
    CANCELLED = "CANCELLED", "Cancelled"


CLOSED_STATUSES = {EscrowStatus.COMPLETED, EscrowStatus.REFUNDED, EscrowStatus.CANCELLED}


class SettlementType(models.TextChoices):
    MILESTONE = "MILESTONE", "Milestone"
    STANDARD = "STANDARD", "Standard"


class ReleaseType(models.TextChoices):
    MILESTONE_LOCKED = "MILESTONE_LOCKED", "Milestone locked"
    DELIVERY_PROOF = "DELIVERY_PROOF", "Delivery proof"


class WhoPays(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"
    SPLIT = "split", "Split"


class SettlementMethod(models.TextChoices):
    OFF_RAMP_MOCK = "OFF_RAMP_MOCK", "Off-ramp (mock)"


class Escrow(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=new_escrow_id, editable=False)
    payment_token = models.CharField(max_length=64, unique=True, default=new_payment_token, editable=False)
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_selling"
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escrows_buying",
        null=True,
        blank=True,
    )
    # When the seller names a buyer by email before the buyer has an account.
    buyer_email = models.EmailField(blank=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=8)
    amount = models.BigIntegerField(help_text="Minor units")
    fee = models.BigIntegerField(help_text="Minor units, paid by the buyer on top of amount")
    fee_schedule_version = models.CharField(max_length=40)
    who_pays = models.CharField(max_length=10, choices=WhoPays.choices, default=WhoPays.BUYER)
    settlement_type = models.CharField(
        max_length=10, choices=SettlementType.choices, default=SettlementType.MILESTONE
    )
    release_type = models.CharField(
        max_length=20, choices=ReleaseType.choices, default=ReleaseType.MILESTONE_LOCKED
    )
    auto_release_on_proof = models.BooleanField(default=False)
    intent_type = models.CharField(max_length=40, blank=True)
    settlement_method = models.CharField(max_length=20, choices=SettlementMethod.choices, blank=True)
    settlement_destination = models.CharField(max_length=200, blank=True)
    max_delivery = models.PositiveIntegerField(null=True, blank=True)
    delivery_timeline = models.CharField(max_length=10, blank=True)
    total_quantity = models.PositiveIntegerField(null=True, blank=True)
    category_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    inspection_period = models.DurationField()
    expires_at = models.DateTimeField()
    # Goes up with every change to what the buyer would pay for (an edit, an added milestone).
    # A payment names the version its payer was shown and is refused if this moved on since.
    terms_version = models.PositiveIntegerField(default=1)

    status = FSMField(default=EscrowStatus.AWAITING_PAYMENT, choices=EscrowStatus.choices, protected=True)

    funded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Not a column: the milestones a service read under this escrow's lock, as the service left
    # them (services._internal._milestones sets it). Only for answering about that same change.
    loaded_milestones: list["Milestone"] | None = None

    class Meta:
        indexes = [
            # Lists are ordered newest first with the id as tie-breaker (keyset pagination):
            # the index gives that order outright, so a page reads only its rows, no sort.
            models.Index(fields=["seller", "-created_at", "-id"], name="escrow_seller_keyset"),
            models.Index(fields=["buyer", "-created_at", "-id"], name="escrow_buyer_keyset"),
            models.Index(fields=["status", "expires_at"], name="escrow_status_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="escrow_fee_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"

    # -- transitions: status only; services do everything else ---------------------------
    @transition(field=status, source=EscrowStatus.AWAITING_PAYMENT, target=EscrowStatus.OPENED)
    def fund(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.OPENED, target=EscrowStatus.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.AWAITING_PAYMENT, target=EscrowStatus.CANCELLED)
    def cancel(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.AWAITING_PAYMENT, target=EscrowStatus.CANCELLED)
    def expire(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.OPENED, target=EscrowStatus.DISPUTED)
    def open_dispute(self) -> None:
        pass

    @transition(
        field=status,
        source=EscrowStatus.DISPUTED,
        target=EscrowStatus.OPENED,
    )
    def resume(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.DISPUTED, target=EscrowStatus.COMPLETED)
    def resolve_complete(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.DISPUTED, target=EscrowStatus.REFUNDED)
    def resolve_refund(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.OPENED, target=EscrowStatus.REFUNDED)
    def refund(self) -> None:
        pass

    @transition(
        field=status, source=[EscrowStatus.OPENED, EscrowStatus.DISPUTED], target=EscrowStatus.CANCELLED
    )
    def cancel_by_agreement(self) -> None:
        """Mutual cancellation of a funded escrow: both parties agreed how to split what is held."""

    # -- read helpers ---------------------------------------------------------------------
    @property
    def is_milestone(self) -> bool:
        return self.settlement_type == SettlementType.MILESTONE

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def total_charge(self) -> int:
        return self.amount + self.fee

    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)

    def amount_str(self) -> str:
        return format_minor(self.amount, self.currency)

    def party_role(self, user: Any) -> str | None:
        if user is None or not getattr(user, "pk", None):
            return None
        if user.pk == self.seller_id:
            return "seller"
        if self.buyer_id is not None and user.pk == self.buyer_id:
            return "buyer"
        return None

    # -- rule predicates: the services enforce them, the pages offer what they allow ------
    def edit_refusal(self, milestones: Iterable["Milestone"]) -> str | None:
        """Why the seller may not edit these terms now, or None when they may. An edit replaces
        the whole milestone set, so a stage already marked delivered (the payment-intents API
        records a delivery before funding) would lose its proof."""
        if self.status != EscrowStatus.AWAITING_PAYMENT:
            return "An escrow can only be edited while it is awaiting payment"
        if any(m.status != MilestoneStatus.PENDING for m in milestones):
            return "A milestone has already been marked delivered; the escrow can no longer be edited"
        return None

    def is_editable(self, milestones: Iterable["Milestone"]) -> bool:
        return self.edit_refusal(milestones) is None

    def release_order(self, milestones: Iterable["Milestone"]) -> list["Milestone"]:
        """The milestones in the order they are released: by index, leaving out any under dispute
        (a dispute freezes only its own milestone, never the later ones)."""
        return sorted((m for m in milestones if m.status != MilestoneStatus.DISPUTED), key=lambda m: m.index)

    def milestone_before(
        self, milestones: Iterable["Milestone"], milestone: "Milestone"
    ) -> "Milestone | None":
        """The milestone that must be out of the way before this one: the nearest earlier one in
        release order."""
        earlier = [m for m in self.release_order(milestones) if m.index < milestone.index]
        return earlier[-1] if earlier else None

    def next_unsettled(self, milestones: Iterable["Milestone"]) -> "Milestone | None":
        """The one milestone that can move now: the first in release order not yet settled."""
        return next((m for m in self.release_order(milestones) if not m.is_settled), None)

    def refundable_milestones(self, milestones: Iterable["Milestone"]) -> list["Milestone"]:
        """The milestones that could be given back now (the escrow being open): not settled and not
        under dispute."""
        return [m for m in milestones if not m.is_settled and m.status != MilestoneStatus.DISPUTED]

    def held_amount(self, milestones: Iterable["Milestone"]) -> int:
        """What the hold account holds for this escrow: nothing before it is paid or once it is
        closed; else its unsettled milestones (a standard escrow: its amount)."""
        if self.status not in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
            return 0
        if self.is_milestone:
            return sum(m.amount for m in milestones if not m.is_settled)
        return self.amount

    def payment_expired(self, now: datetime | None = None) -> bool:
        """Unpaid past its expiry: no longer payable, and the timer cancels it."""
        return self.status == EscrowStatus.AWAITING_PAYMENT and self.expires_at <= (now or timezone.now())

    def reserved_for_other(self, user: Any) -> bool:
        """Only the reserved buyer may pay: this escrow names another buyer than `user` (by
        account, or by email while no account is set). A party is never refused by this."""
        if self.party_role(user) is not None:
            return False
        if self.buyer_id is not None:
            return True
        return bool(self.buyer_email) and self.buyer_email != user.email.lower()


class MilestoneStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    COMPLETED = "COMPLETED", "Delivered"
    # Frozen by a dispute on this milestone alone; the escrow's other milestones stay live.
    DISPUTED = "DISPUTED", "Disputed"
    RELEASED = "RELEASED", "Released"
    REFUNDED = "REFUNDED", "Refunded"
    # Settled partly to the payee and partly back to the buyer (a dispute's split outcome or
    # a mutual cancellation); the ledger postings say how much went each way.
    SPLIT = "SPLIT", "Split"


SETTLED_MILESTONE_STATUSES = {MilestoneStatus.RELEASED, MilestoneStatus.REFUNDED, MilestoneStatus.SPLIT}


class Milestone(models.Model):
    public_id = models.CharField(max_length=48, unique=True, default=new_milestone_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="milestones")
    index = models.PositiveIntegerField()
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    amount = models.BigIntegerField(help_text="Minor units")
    percentage = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="milestones_payee",
    )
    due_date = models.DateTimeField(null=True, blank=True)

    status = FSMField(default=MilestoneStatus.PENDING, choices=MilestoneStatus.choices, protected=True)

    completed_by = models.CharField(max_length=200, blank=True)
    completion_proof = models.TextField(blank=True)
    completion_proof_uri = models.URLField(max_length=2000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # -- review clock: set when delivered; the buyer confirms or disputes by then,
    # or the timer releases. One extension; one reminder per deadline (reset by the extension).
    review_deadline = models.DateTimeField(null=True, blank=True)
    review_extended_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["escrow_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["escrow", "index"], name="milestone_unique_index"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="milestone_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "completed_at"], name="milestone_status_done"),
            models.Index(fields=["status", "review_deadline"], name="milestone_review_due"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} #{self.index}"

    @transition(field=status, source=MilestoneStatus.PENDING, target=MilestoneStatus.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED, MilestoneStatus.DISPUTED],
        target=MilestoneStatus.RELEASED,
    )
    def release(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED, MilestoneStatus.DISPUTED],
        target=MilestoneStatus.REFUNDED,
    )
    def refund(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED, MilestoneStatus.DISPUTED],
        target=MilestoneStatus.SPLIT,
    )
    def split(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED],
        target=MilestoneStatus.DISPUTED,
    )
    def dispute(self) -> None:
        pass

    # A dispute withdrawn (or resolved as "carry on") puts the milestone back where it was:
    # undelivered, or delivered and awaiting the buyer. Services pick by completed_at.
    @transition(field=status, source=MilestoneStatus.DISPUTED, target=MilestoneStatus.PENDING)
    def undispute_pending(self) -> None:
        pass

    @transition(field=status, source=MilestoneStatus.DISPUTED, target=MilestoneStatus.COMPLETED)
    def undispute_delivered(self) -> None:
        pass

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED_MILESTONE_STATUSES

    def amount_str(self) -> str:
        return format_minor(self.amount, self.escrow.currency)

    @property
    def review_extended(self) -> bool:
        return self.review_extended_at is not None

    @property
    def review_ends_at(self) -> datetime | None:
        """When a delivered milestone releases by itself. Rows delivered before the clock existed
        (or written by hand) fall back to delivered at + the escrow's inspection period."""
        if self.review_deadline is not None:
            return self.review_deadline
        if self.completed_at is None:
            return None
        return self.completed_at + self.escrow.inspection_period

    def review_extension_refusal(self, now: datetime) -> tuple[str, str] | None:
        """Why the buyer may not extend this milestone's review now, as (code, message), or None:
        only a delivered milestone, only once, and only while its review clock still runs."""
        if self.status != MilestoneStatus.COMPLETED:
            return (
                "not_in_review",
                "Only a delivered milestone that is waiting for your review can be extended",
            )
        if self.review_extended_at is not None:
            return "already_extended", "The review period of this milestone was already extended once"
        deadline = self.review_ends_at
        if deadline is None or deadline <= now:
            return "review_ended", "The review period of this milestone has already ended"
        return None

    @property
    def in_review(self) -> bool:
        """Delivered and waiting for the buyer: the review clock is running."""
        return self.status == MilestoneStatus.COMPLETED and self.review_deadline is not None


class FundingSource(models.TextChoices):
    WALLET = "WALLET", "Wallet balance"
    CARD = "CARD", "Card (test gateway)"


class Payment(models.Model):
    """The buyer's funding of an escrow: amount + fee, charged exactly once."""

    public_id = models.CharField(max_length=40, unique=True, default=new_payment_id, editable=False)
    escrow = models.OneToOneField(Escrow, on_delete=models.PROTECT, related_name="payment")
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    source = models.CharField(max_length=10, choices=FundingSource.choices)
    # The payer's own reference: unique per payer, so one customer's references neither block
    # nor reveal another's.
    reference = models.CharField(max_length=200)
    amount = models.BigIntegerField()
    fee = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    # The escrow's terms version the payer agreed to by paying.
    terms_version = models.PositiveIntegerField(default=1)
    gateway_reference = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payer", "reference"], name="payment_reference_per_payer"),
        ]

    @property
    def total(self) -> int:
        return self.amount + self.fee


class SettlementStatus(models.TextChoices):
    SCHEDULED = "SCHEDULED", "Scheduled"
    PROCESSING = "PROCESSING", "Processing"
    PAID = "PAID", "Paid"
    FAILED = "FAILED", "Failed"


class Settlement(models.Model):
    """A payout of a customer's balance to an outside destination through the off-ramp."""

    public_id = models.CharField(max_length=40, unique=True, default=new_settlement_id, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="settlements"
    )
    escrow = models.ForeignKey(
        Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="settlements"
    )
    milestone = models.OneToOneField(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="settlement"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    method = models.CharField(max_length=20, choices=SettlementMethod.choices)
    destination = models.CharField(max_length=200)
    status = FSMField(default=SettlementStatus.SCHEDULED, choices=SettlementStatus.choices, protected=True)
    attempts = models.PositiveIntegerField(default=0)
    provider_reference = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="settlement_customer_recent"),
            models.Index(fields=["status", "next_attempt_at"], name="settlement_due"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="settlement_amount_positive")]

    @transition(
        field=status,
        source=[SettlementStatus.SCHEDULED, SettlementStatus.PROCESSING],
        target=SettlementStatus.PROCESSING,
    )
    def start(self) -> None:
        pass

    @transition(field=status, source=SettlementStatus.PROCESSING, target=SettlementStatus.PAID)
    def mark_paid(self) -> None:
        pass

    @transition(field=status, source=SettlementStatus.PROCESSING, target=SettlementStatus.SCHEDULED)
    def reschedule(self) -> None:
        pass

    @transition(
        field=status,
        source=[SettlementStatus.PROCESSING, SettlementStatus.SCHEDULED],
        target=SettlementStatus.FAILED,
    )
    def fail(self) -> None:
        pass

    @transition(field=status, source=SettlementStatus.FAILED, target=SettlementStatus.SCHEDULED)
    def retry(self) -> None:
        pass

    def amount_str(self) -> str:
        return format_minor(self.amount, self.currency)


class ActorKind(models.TextChoices):
    USER = "user", "User"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Event(models.Model):
    """Audit row for every transition and money movement, written in the same transaction.
    It is also the webhook outbox: dispatched_at stays empty until delivery is enqueued."""

    public_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    kind = models.CharField(max_length=60)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customer_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="acted_events"
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices, default=ActorKind.USER)
    from_status = models.CharField(max_length=30, blank=True)
    to_status = models.CharField(max_length=30, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["escrow", "id"], name="event_escrow_seq"),
            models.Index(fields=["dispatched_at", "id"], name="event_outbox"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"


# Ledger --------------------------------------------------------------------------------------


class AccountKind(models.TextChoices):
    CUSTOMER_MAIN = "CUSTOMER_MAIN", "Customer main balance"
    ESCROW_HOLD = "ESCROW_HOLD", "Escrow hold"
    PAYOUT_CLEARING = "PAYOUT_CLEARING", "Payouts in flight"
    PLATFORM_FEES = "PLATFORM_FEES", "Platform fees"
    EXTERNAL_FUNDING = "EXTERNAL_FUNDING", "External funding (cards, deposits)"
    EXTERNAL_PAYOUTS = "EXTERNAL_PAYOUTS", "External payouts (off-ramp)"
    EXTERNAL_REFUNDS = "EXTERNAL_REFUNDS", "External refunds"


# The world outside is the only place money may come from, so only these may go negative.
EXTERNAL_KINDS = {AccountKind.EXTERNAL_FUNDING, AccountKind.EXTERNAL_PAYOUTS, AccountKind.EXTERNAL_REFUNDS}


class LedgerAccount(models.Model):
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    currency = models.CharField(max_length=8)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    escrow = models.OneToOneField(
        Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="hold_account"
    )
    # Running sum of this account's entries, kept in the same transaction as the entries so
    # that a balance check is one locked row, not a scan. Tests prove it equals SUM(entries).
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "currency", "owner"],
                condition=Q(escrow__isnull=True, owner__isnull=False),
                name="ledger_account_unique_owner",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(escrow__isnull=True, owner__isnull=True),
                name="ledger_account_unique_platform",
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0) | Q(kind__in=sorted(k.value for k in EXTERNAL_KINDS)),
                name="ledger_account_no_overdraft",
            ),
        ]

    def __str__(self) -> str:
        who = self.owner_id or self.escrow_id or "platform"
        return f"{self.kind}:{self.currency}:{who}"


class TransactionKind(models.TextChoices):
    FUNDING = "FUNDING", "Escrow funded"
    RELEASE = "RELEASE", "Milestone released"
    REFUND = "REFUND", "Refund"
    TOPUP = "TOPUP", "Wallet top-up"
    PAYOUT_RESERVE = "PAYOUT_RESERVE", "Payout scheduled"
    PAYOUT_PAID = "PAYOUT_PAID", "Payout paid"
    PAYOUT_RETURN = "PAYOUT_RETURN", "Payout failed, returned"
    # A dispute resolved as a split: one posting, part to the payee and part back to the buyer.
    SPLIT = "SPLIT", "Split between payee and buyer"
    # One posting for an agreed cancellation: the hold goes partly to the buyer, partly to payees.
    CANCELLATION = "CANCELLATION", "Mutual cancellation"


class LedgerTransaction(models.Model):
    kind = models.CharField(max_length=20, choices=TransactionKind.choices)
    currency = models.CharField(max_length=8)
    escrow = models.ForeignKey(
        Escrow, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_transactions"
    )
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_transactions"
    )
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_transactions"
    )
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class LedgerEntry(models.Model):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(help_text="Signed minor units; a transaction's entries sum to zero")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "id"], name="entry_account_seq")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_nonzero")]


# The mock off-ramp's own books (stands in for the outside payout network) -------------------


class MockOffRampPayout(models.Model):
    """What the mock payout network has seen, keyed by our idempotency key: one row per
    settlement, `reference` set once paid. Tests count paid rows to prove exactly-once."""

    idempotency_key = models.CharField(max_length=80, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    destination = models.CharField(max_length=200)
    attempts = models.PositiveIntegerField(default=0)
    reference = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


# Disputes and evidence ----------------------------------------------------------------------


def new_dispute_id() -> str:
    return _token("dsp_")


def new_evidence_id() -> str:
    return _token("evd_")


class DisputeStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    ANSWERED = "ANSWERED", "Answered"
    RESOLVED = "RESOLVED", "Resolved"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"


ACTIVE_DISPUTE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.ANSWERED)


class DisputeOutcome(models.TextChoices):
    RELEASE = "release", "Release to the seller"
    REFUND = "refund", "Refund to the buyer"
    SPLIT = "split", "Split between them"


class DisputeAnswer(models.TextChoices):
    ACCEPT = "accept", "Accept the claim"
    CONTEST = "contest", "Contest the claim"


class Dispute(models.Model):
    """A dispute about one milestone (milestone escrows) or the whole escrow (standard ones).
    Only the disputed amount is frozen; the default outcome, fixed when it is opened, applies
    if nobody resolves it by the deadline."""

    public_id = models.CharField(max_length=40, unique=True, default=new_dispute_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="disputes")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_opened"
    )
    opener_role = models.CharField(max_length=10)  # "buyer" | "seller"
    reason = models.TextField()
    amount = models.BigIntegerField(help_text="Minor units: the disputed (frozen) amount")
    status = FSMField(default=DisputeStatus.OPEN, choices=DisputeStatus.choices, protected=True)

    answer_choice = models.CharField(max_length=10, choices=DisputeAnswer.choices, blank=True)
    answer_text = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes_answered",
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    deadline = models.DateTimeField()
    default_outcome = models.CharField(max_length=10, choices=DisputeOutcome.choices)
    default_seller_amount = models.BigIntegerField()
    default_buyer_amount = models.BigIntegerField()

    outcome = models.CharField(max_length=10, choices=DisputeOutcome.choices, blank=True)
    seller_amount = models.BigIntegerField(null=True, blank=True)
    buyer_amount = models.BigIntegerField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes_resolved",
    )
    resolution_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "deadline"], name="dispute_due")]
        constraints = [
            # At most one live dispute per milestone, and per standard escrow.
            models.UniqueConstraint(
                fields=["milestone"],
                condition=Q(milestone__isnull=False, status__in=["OPEN", "ANSWERED"]),
                name="dispute_one_live_per_milestone",
            ),
            models.UniqueConstraint(
                fields=["escrow"],
                condition=Q(milestone__isnull=True, status__in=["OPEN", "ANSWERED"]),
                name="dispute_one_live_per_escrow",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(
                condition=Q(default_seller_amount__gte=0, default_buyer_amount__gte=0),
                name="dispute_default_nonnegative",
            ),
            models.CheckConstraint(
                condition=(Q(seller_amount__isnull=True) | Q(seller_amount__gte=0))
                & (Q(buyer_amount__isnull=True) | Q(buyer_amount__gte=0)),
                name="dispute_resolution_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"

    @transition(field=status, source=DisputeStatus.OPEN, target=DisputeStatus.ANSWERED)
    def answer(self) -> None:
        pass

    @transition(
        field=status, source=[DisputeStatus.OPEN, DisputeStatus.ANSWERED], target=DisputeStatus.RESOLVED
    )
    def resolve(self) -> None:
        pass

    @transition(
        field=status, source=[DisputeStatus.OPEN, DisputeStatus.ANSWERED], target=DisputeStatus.WITHDRAWN
    )
    def withdraw(self) -> None:
        pass

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_DISPUTE_STATUSES

    @property
    def other_role(self) -> str:
        return "seller" if self.opener_role == "buyer" else "buyer"


class DisputeEvidence(models.Model):
    """Text, a link and/or a file. A file's SHA-256 and size are stored with it, so an export
    can prove later that the file is the one submitted."""

    public_id = models.CharField(max_length=40, unique=True, default=new_evidence_id, editable=False)
    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="evidence")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dispute_evidence"
    )
    submitter_role = models.CharField(max_length=10)
    text = models.TextField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    file = models.FileField(upload_to="dispute-evidence/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(max_length=200, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.public_id


# -- refunds and mutual cancellation ------------------------------------------------------------


def new_refund_request_id() -> str:
    return _token("rfq_")


def new_cancellation_id() -> str:
    return _token("mcp_")


class RefundRequestStatus(models.TextChoices):
    REQUESTED = "REQUESTED", "Requested"
    ACCEPTED = "ACCEPTED", "Accepted"
    DECLINED = "DECLINED", "Declined"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    # The milestones it asked for were settled another way before the seller answered.
    SUPERSEDED = "SUPERSEDED", "Superseded"


class RefundRequest(models.Model):
    """The buyer asks the seller to refund some unsettled milestones (a standard escrow: all of
    it). Accepting performs the refund in the same transaction."""

    public_id = models.CharField(max_length=40, unique=True, default=new_refund_request_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="refund_requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refund_requests"
    )
    # Public ids of the milestones asked for, in index order (empty for a standard escrow).
    milestone_ids = models.JSONField(default=list, blank=True)
    amount = models.BigIntegerField(help_text="Minor units: the sum of the milestones asked for")
    reason = models.TextField(blank=True)
    status = FSMField(
        default=RefundRequestStatus.REQUESTED, choices=RefundRequestStatus.choices, protected=True
    )
    decline_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refund_requests_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escrow"],
                condition=Q(status="REQUESTED"),
                name="refund_request_one_open",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_request_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @transition(field=status, source=RefundRequestStatus.REQUESTED, target=RefundRequestStatus.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=status, source=RefundRequestStatus.REQUESTED, target=RefundRequestStatus.DECLINED)
    def decline(self) -> None:
        pass

    @transition(field=status, source=RefundRequestStatus.REQUESTED, target=RefundRequestStatus.WITHDRAWN)
    def withdraw(self) -> None:
        pass

    @transition(field=status, source=RefundRequestStatus.REQUESTED, target=RefundRequestStatus.SUPERSEDED)
    def supersede(self) -> None:
        pass

    @property
    def is_open(self) -> bool:
        return self.status == RefundRequestStatus.REQUESTED

    def amount_str(self) -> str:
        return format_minor(self.amount, self.escrow.currency)


class CancellationStatus(models.TextChoices):
    PROPOSED = "PROPOSED", "Proposed"
    ACCEPTED = "ACCEPTED", "Accepted"
    DECLINED = "DECLINED", "Declined"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    # The escrow closed another way before the other party answered.
    SUPERSEDED = "SUPERSEDED", "Superseded"


class CancellationProposal(models.Model):
    """One party proposes to cancel a funded escrow and split what is still held; the other
    party's acceptance moves the money in one posting and cancels the escrow."""

    public_id = models.CharField(max_length=40, unique=True, default=new_cancellation_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="cancellation_proposals")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cancellation_proposals"
    )
    proposer_role = models.CharField(max_length=10)
    buyer_amount = models.BigIntegerField(help_text="Minor units back to the buyer")
    seller_amount = models.BigIntegerField(help_text="Minor units to the seller (the milestones' payees)")
    note = models.TextField(blank=True)
    status = FSMField(default=CancellationStatus.PROPOSED, choices=CancellationStatus.choices, protected=True)
    decline_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cancellation_proposals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escrow"],
                condition=Q(status="PROPOSED"),
                name="cancellation_one_open",
            ),
            models.CheckConstraint(
                condition=Q(buyer_amount__gte=0) & Q(seller_amount__gte=0),
                name="cancellation_amounts_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @transition(field=status, source=CancellationStatus.PROPOSED, target=CancellationStatus.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=status, source=CancellationStatus.PROPOSED, target=CancellationStatus.DECLINED)
    def decline(self) -> None:
        pass

    @transition(field=status, source=CancellationStatus.PROPOSED, target=CancellationStatus.WITHDRAWN)
    def withdraw(self) -> None:
        pass

    @transition(field=status, source=CancellationStatus.PROPOSED, target=CancellationStatus.SUPERSEDED)
    def supersede(self) -> None:
        pass

    @property
    def is_open(self) -> bool:
        return self.status == CancellationStatus.PROPOSED

    @property
    def total(self) -> int:
        return self.buyer_amount + self.seller_amount

    @property
    def responder_role(self) -> str:
        return "seller" if self.proposer_role == "buyer" else "buyer"
