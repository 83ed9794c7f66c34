"""Agreed terms: every version of what an escrow's parties agreed to (the stages, amounts, due
dates, fee, who pays it, the inspection period), who proposed it and when each party agreed."""

from typing import Any

from django.conf import settings
from django.db import models

from .escrows import Escrow


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
