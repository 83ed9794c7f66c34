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


def funding_source_label(source: str) -> str:
    """A payment's source as pages, receipts and the evidence record name it. A card is the mock
    gateway's test card until cards go through Stripe: then it is a card."""
    from .. import stripe_api  # it reads these models

    if source == FundingSource.CARD and stripe_api.cards_through_stripe():
        return "Card"
    return str(FundingSource(source).label)


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


class CardPaymentStatus(models.TextChoices):
    PENDING = "PENDING", "Waiting for the card"
    DECLINED = "DECLINED", "Declined"
    SUCCEEDED = "SUCCEEDED", "Paid, escrow funded"
    # The card was charged but the escrow could no longer take the money (paid another way,
    # cancelled, expired, its terms changed): the money is owed back to the buyer.
    NOT_APPLIED = "NOT_APPLIED", "Paid, not applied"
    # A payment set aside as not applied, given back to the card in full (a Stripe Refund).
    REFUNDED = "REFUNDED", "Paid, given back"


class CardPayment(models.Model):
    """A card payment of an escrow at the card network (a Stripe PaymentIntent): recorded before
    any money moves, confirmed by the buyer's browser, and funding the escrow once, when the
    network says it succeeded. Its id is the funding payment's id and the network's
    idempotency key, so a retried request never charges twice."""

    public_id = models.CharField(max_length=40, unique=True, default=new_payment_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="card_payments")
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="card_payments"
    )
    amount = models.BigIntegerField()
    fee = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    # The terms the payer was shown when the payment started: it funds only those terms.
    terms_version = models.PositiveIntegerField()
    # The network's own id for this payment (Stripe's PaymentIntent id).
    provider_reference = models.CharField(max_length=255, blank=True)
    # Stripe's id of the charge that took the money (a refund or a chargeback names it).
    charge_reference = models.CharField(max_length=255, blank=True)
    status = FSMField(default=CardPaymentStatus.PENDING, choices=CardPaymentStatus.choices, protected=True)
    # The network's words for the last refusal (a decline), shown to the payer.
    decline_reason = models.TextField(blank=True)
    decline_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["escrow", "payer", "status"], name="card_payment_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_reference"],
                condition=~Q(provider_reference=""),
                name="card_payment_provider_reference",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="card_payment_amount_positive"),
        ]

    @property
    def total(self) -> int:
        return self.amount + self.fee

    @transition(
        field=status,
        source=[CardPaymentStatus.PENDING, CardPaymentStatus.DECLINED],
        target=CardPaymentStatus.DECLINED,
    )
    def decline(self) -> None:
        pass

    @transition(
        field=status,
        source=[CardPaymentStatus.PENDING, CardPaymentStatus.DECLINED],
        target=CardPaymentStatus.SUCCEEDED,
    )
    def succeed(self) -> None:
        pass

    @transition(
        field=status,
        source=[CardPaymentStatus.PENDING, CardPaymentStatus.DECLINED],
        target=CardPaymentStatus.NOT_APPLIED,
    )
    def set_aside(self) -> None:
        pass

    @transition(field=status, source=CardPaymentStatus.NOT_APPLIED, target=CardPaymentStatus.REFUNDED)
    def give_back(self) -> None:
        pass


class StripeEvent(models.Model):
    """A Stripe event already handled. Stripe delivers an event at least once, sometimes more:
    its id is recorded in the same transaction as what it changed, so a repeat changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)
