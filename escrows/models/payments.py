"""Money in and out: the buyer's payment of an escrow, payouts (settlements)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from ..money import format_minor
from .escrows import Escrow, Milestone, SettlementMethod, new_payment_id, new_settlement_id


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
