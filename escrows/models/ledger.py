"""The double-entry ledger, and the mock off-ramp's own books."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .escrows import Escrow, Milestone
from .payments import Settlement


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
    # An accepted change order: the buyer pays an increase into the hold (with its fee), or the
    # hold gives a decrease back to where the buyer paid from. The memo names the change order.
    CHANGE_ORDER = "CHANGE_ORDER", "Change order"
    # A card payment that never funded its escrow (set aside as not applied) given back to the
    # card whole: in from the card network and straight out again, no customer's balance touched.
    CARD_GIVEN_BACK = "CARD_GIVEN_BACK", "Card payment given back"


# The memo of a RELEASE posting that paid part of a stage (the rest stayed held), and of the one
# that released the rest of such a stage: the receipts and the statement say so from it.
PART_RELEASE_MEMO = "part of the stage"
REST_RELEASE_MEMO = "rest of the stage"


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
