"""Disputes of a milestone (or a standard escrow) and their evidence."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from .escrows import Escrow, Milestone, random_id


def new_dispute_id() -> str:
    return random_id("dsp_")


def new_evidence_id() -> str:
    return random_id("evd_")


class DisputeStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    ANSWERED = "ANSWERED", "Answered"
    RESOLVED = "RESOLVED", "Resolved"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"


ACTIVE_DISPUTE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.ANSWERED)
# Not answered yet: the only disputes whose opener's request applies by itself at the deadline.
# Once contested (ANSWERED) an arbiter decides.
UNANSWERED_DISPUTE_STATUSES = (DisputeStatus.OPEN,)


class DisputeOutcome(models.TextChoices):
    RELEASE = "release", "Release to the seller"
    REFUND = "refund", "Refund to the buyer"
    SPLIT = "split", "Split between them"


class DisputeAnswer(models.TextChoices):
    ACCEPT = "accept", "Accept the claim"
    CONTEST = "contest", "Contest the claim"


class Dispute(models.Model):
    """A dispute about one milestone (milestone escrows) or the whole escrow (standard ones).
    Only the disputed amount is frozen. The default outcome is the opener's request, fixed when
    it is opened: it applies at the deadline only if the other party never answered; a contested
    dispute waits for an arbiter."""

    public_id = models.CharField(max_length=40, unique=True, default=new_dispute_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="disputes")
    milestone = models.ForeignKey(
        Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_opened"
    )
    opener_role = models.CharField(max_length=10)  # "buyer" | "seller"
    # Who raised it as the API caller named them (Finternet's raisedBy, e.g. a wallet address).
    opener_reference = models.CharField(max_length=200, blank=True)
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

    @property
    def is_contested(self) -> bool:
        return self.status == DisputeStatus.ANSWERED

    def request_applies_at_deadline(self, now: datetime) -> bool:
        """The opener's request applies by itself: nobody answered and the deadline has come."""
        return self.status in UNANSWERED_DISPUTE_STATUSES and self.deadline <= now


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
