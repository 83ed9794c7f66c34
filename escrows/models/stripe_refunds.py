"""Money going back to a card that paid through Stripe: a Stripe Refund of its PaymentIntent, and a
chargeback (Stripe's dispute) that freezes the escrow's held money while it is open
(docs/stripe.md, "Refunds and chargebacks")."""

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from ..money import format_minor
from .escrows import Escrow, random_id
from .ledger import LedgerTransaction
from .payments import CardPayment


def new_stripe_refund_id() -> str:
    return random_id("cardrefund_")


class StripeRefundStatus(models.TextChoices):
    # Recorded with the ledger posting that gave the money back; sent to Stripe after the commit
    # and again, with the same idempotency key, until Stripe answers.
    PENDING = "PENDING", "Being sent to the card"
    SUCCEEDED = "SUCCEEDED", "Back on the card"
    # Stripe refused it, or every attempt failed: staff are told and may send it again.
    FAILED = "FAILED", "Failed"


class StripeRefundPurpose(models.TextChoices):
    # Money the escrow gave back to the buyer (a refund, a cancellation, a dispute's ruling,
    # a lowered stage): the ledger transaction that did so is on the record.
    ESCROW = "ESCROW", "Given back from the escrow"
    # A card payment the escrow could not take (set aside as not applied), given back whole.
    NOT_APPLIED = "NOT_APPLIED", "A payment the escrow could not take"


class StripeRefund(models.Model):
    """One Stripe Refund of (part of) a card payment's PaymentIntent. Its id is the idempotency
    key of every attempt, so a retry after a timeout never refunds twice."""

    public_id = models.CharField(max_length=40, unique=True, default=new_stripe_refund_id, editable=False)
    card_payment = models.ForeignKey(CardPayment, on_delete=models.PROTECT, related_name="stripe_refunds")
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="stripe_refunds")
    # Minor units of the card payment's currency.
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    purpose = models.CharField(max_length=20, choices=StripeRefundPurpose.choices)
    # Why the money goes back, in a person's words (shown to the buyer and staff).
    reason = models.CharField(max_length=300, blank=True)
    # The ledger posting that gave the money back.
    ledger_transaction = models.OneToOneField(
        LedgerTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="stripe_refund"
    )
    # Stripe's id of the Refund (re_...), once Stripe answered.
    provider_reference = models.CharField(max_length=255, blank=True)
    status = FSMField(default=StripeRefundStatus.PENDING, choices=StripeRefundStatus.choices, protected=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the next attempt is due (a backoff), or until when a running attempt holds it (a lease).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="stripe_refund_due")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="stripe_refund_amount_positive"),
            models.UniqueConstraint(
                fields=["provider_reference"],
                condition=~Q(provider_reference=""),
                name="stripe_refund_provider_reference",
            ),
        ]

    # From FAILED too: Stripe reports a refund made that our attempts had given up on.
    @transition(
        field=status,
        source=[StripeRefundStatus.PENDING, StripeRefundStatus.FAILED],
        target=StripeRefundStatus.SUCCEEDED,
    )
    def succeed(self) -> None:
        pass

    @transition(field=status, source=StripeRefundStatus.PENDING, target=StripeRefundStatus.FAILED)
    def fail(self) -> None:
        pass

    @transition(field=status, source=StripeRefundStatus.FAILED, target=StripeRefundStatus.PENDING)
    def retry(self) -> None:
        pass

    def amount_str(self) -> str:
        return format_minor(self.amount, self.currency)


class ChargebackStatus(models.TextChoices):
    OPEN = "OPEN", "Open at the card network"
    WON = "WON", "Closed, won"
    # The card network gave the money back to the card: the platform bore it.
    LOST = "LOST", "Closed, lost"


class StripeChargeback(models.Model):
    """A chargeback (Stripe's dispute) of a card payment that funded an escrow. While it is open
    the escrow's held money is frozen (Escrow.frozen_by_chargeback)."""

    provider_reference = models.CharField(max_length=255, unique=True)
    card_payment = models.ForeignKey(CardPayment, on_delete=models.PROTECT, related_name="chargebacks")
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="chargebacks")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)
    # Stripe's reason code (fraudulent, product_not_received, ...).
    reason = models.CharField(max_length=100, blank=True)
    status = FSMField(default=ChargebackStatus.OPEN, choices=ChargebackStatus.choices, protected=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    @transition(field=status, source=ChargebackStatus.OPEN, target=ChargebackStatus.WON)
    def win(self) -> None:
        pass

    @transition(field=status, source=ChargebackStatus.OPEN, target=ChargebackStatus.LOST)
    def lose(self) -> None:
        pass

    def amount_str(self) -> str:
        return format_minor(self.amount, self.currency)
