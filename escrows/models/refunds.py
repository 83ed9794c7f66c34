"""Refund requests and mutual cancellation proposals."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from ..money import format_minor
from .escrows import Escrow, random_id


def new_refund_request_id() -> str:
    return random_id("rfq_")


def new_cancellation_id() -> str:
    return random_id("mcp_")


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
