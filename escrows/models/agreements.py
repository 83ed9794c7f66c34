"""Agreed terms: every version of what an escrow's parties agreed to (the stages, amounts, due
dates, fee, who pays it, the inspection period), who proposed it and when each party agreed; and
change orders, a party's proposal to change the part of a funded escrow not yet released."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from .escrows import Escrow, random_id


class TermsReason(models.TextChoices):
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    STAGE_ADDED = "stage_added", "Stage added"
    CHANGE_ORDER = "change_order", "Change order"


class TermsVersion(models.Model):
    """One version of an escrow's terms, as they stood when it was made: `number` is the escrow's
    `terms_version` (a payment names the version its payer was shown). Written by
    services.agreements._record_terms in the transaction that made the version; funding records
    the buyer's agreement to the version paid for. Never edited otherwise."""

    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="terms_versions")
    number = models.PositiveIntegerField()
    reason = models.CharField(max_length=20, choices=TermsReason.choices)
    # The snapshot: title, currency, amount, fee, feeSchedule, whoPays, inspectionPeriodDays and
    # the stages (id, index, title, description, amount, dueDate, payee), amounts in minor units.
    terms = models.JSONField()
    # What this version changed from the one before, for a stage added or a change order (the
    # rows of services.change_orders); empty for a creation or an edit (the whole set is new).
    changes = models.JSONField(default=list, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="terms_proposed",
    )
    proposer_role = models.CharField(max_length=10)
    proposed_at = models.DateTimeField()
    seller_agreed_at = models.DateTimeField(null=True, blank=True)
    buyer_agreed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The change order whose acceptance made this version.
    change_proposal = models.OneToOneField(
        "ChangeProposal",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="terms_version",
    )

    class Meta:
        ordering = ["escrow_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["escrow", "number"], name="terms_version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.escrow_id} v{self.number}"

    @property
    def amount(self) -> int:
        return int(self.terms.get("amount") or 0)

    @property
    def fee(self) -> int:
        return int(self.terms.get("fee") or 0)

    @property
    def currency(self) -> str:
        return str(self.terms.get("currency") or "")

    @property
    def stages(self) -> list[dict[str, Any]]:
        stages = self.terms.get("milestones")
        return stages if isinstance(stages, list) else []

    def agreed_at(self, role: str) -> Any:
        return self.seller_agreed_at if role == "seller" else self.buyer_agreed_at


def new_change_proposal_id() -> str:
    return random_id("chg_")


class ChangeProposalStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    ACCEPTED = "ACCEPTED", "Accepted"
    DECLINED = "DECLINED", "Declined"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    # Nobody answered within ESCROW_CHANGE_PROPOSAL_LAPSE, or the escrow closed first.
    LAPSED = "LAPSED", "Lapsed"


class ChangeProposal(models.Model):
    """A change order: one party proposes to change the stages of a funded escrow that are still
    to come (add a stage; change a future stage's amount, title, description or due date; remove
    a future stage); the other party accepts (the money moves in the same transaction: the buyer
    pays an increase, a decrease goes back to where the buyer paid from) or declines, the proposer
    may withdraw, and it lapses unanswered. `changes`: the rows services.change_orders reads."""

    public_id = models.CharField(max_length=40, unique=True, default=new_change_proposal_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="change_proposals")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_proposals"
    )
    proposer_role = models.CharField(max_length=10)
    changes = models.JSONField()
    note = models.TextField(blank=True)
    # The escrow's total when proposed, and what it becomes if accepted (minor units).
    amount_before = models.BigIntegerField()
    amount_after = models.BigIntegerField()
    # A buyer who proposes an increase names how they pay it when it is accepted: their balance
    # or a card (the card's token at the gateway; a saved payment method at a real one).
    pay_source = models.CharField(max_length=10, blank=True)
    card_token = models.CharField(max_length=100, blank=True)
    status = FSMField(default=ChangeProposalStatus.OPEN, choices=ChangeProposalStatus.choices, protected=True)
    decline_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="change_proposals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    lapses_at = models.DateTimeField()
    # What the acceptance moved: the buyer paid `paid_amount` into the hold plus `paid_fee`, from
    # `paid_from` (a card's charge: `gateway_reference`); or `refunded_amount` went back.
    paid_amount = models.BigIntegerField(default=0)
    paid_fee = models.BigIntegerField(default=0)
    paid_from = models.CharField(max_length=10, blank=True)
    gateway_reference = models.CharField(max_length=200, blank=True)
    refunded_amount = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["escrow"], condition=Q(status="OPEN"), name="change_proposal_one_open"
            ),
            models.CheckConstraint(
                condition=Q(amount_before__gt=0) & Q(amount_after__gt=0),
                name="change_proposal_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_fee__gte=0) & Q(refunded_amount__gte=0),
                name="change_proposal_money_nonnegative",
            ),
        ]
        indexes = [
            models.Index(fields=["lapses_at"], condition=Q(status="OPEN"), name="change_proposal_open_lapse"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @transition(field=status, source=ChangeProposalStatus.OPEN, target=ChangeProposalStatus.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=status, source=ChangeProposalStatus.OPEN, target=ChangeProposalStatus.DECLINED)
    def decline(self) -> None:
        pass

    @transition(field=status, source=ChangeProposalStatus.OPEN, target=ChangeProposalStatus.WITHDRAWN)
    def withdraw(self) -> None:
        pass

    @transition(field=status, source=ChangeProposalStatus.OPEN, target=ChangeProposalStatus.LAPSED)
    def lapse(self) -> None:
        pass

    @property
    def is_open(self) -> bool:
        return self.status == ChangeProposalStatus.OPEN

    def ran_out(self, now: Any) -> bool:
        """Open past `lapses_at`: unanswered for ESCROW_CHANGE_PROPOSAL_LAPSE, it can no longer be
        accepted, and the lapse timer closes it (within a minute)."""
        return self.is_open and self.lapses_at <= now

    @property
    def responder_role(self) -> str:
        return "seller" if self.proposer_role == "buyer" else "buyer"

    @property
    def difference(self) -> int:
        """What the escrow's total changes by (positive: the buyer pays more)."""
        return self.amount_after - self.amount_before
