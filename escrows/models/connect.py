"""Payouts through Stripe Connect: a person's connected Express account, where their payouts go
as Stripe Transfers while Connect is on, and the key each transfer is asked for with
(docs/stripe.md, "Connect")."""

from django.conf import settings
from django.db import models

from .payments import Settlement


class StripeAccount(models.Model):
    """A person's connected Stripe Express account. Stripe owns the onboarding; this is what it
    last said about the account (on the person's return from Stripe and on account.updated)."""

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stripe_account"
    )
    account_id = models.CharField(max_length=255, unique=True)
    details_submitted = models.BooleanField(default=False)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    # What Stripe still needs before it pays out (its requirements.currently_due and past_due).
    requirements_due = models.JSONField(default=list, blank=True)
    # Why Stripe has switched the account off, when it has (requirements.disabled_reason).
    disabled_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.account_id

    @property
    def status_words(self) -> str:
        """The account's state in the person's words, as the balance page shows it."""
        if self.payouts_enabled:
            return "Payouts enabled"
        if not self.details_submitted:
            return "Stripe needs more details: finish setting up your account with Stripe"
        if self.requirements_due:
            return "Stripe needs more details before it can pay you out"
        return "Stripe is checking your details; payouts start once it has"


class StripeTransfer(models.Model):
    """A payout sent as a Stripe Transfer, and the idempotency key its next request carries.
    Stripe answers a key it has seen with its first answer for 24 hours, a refusal too. After a
    timeout we ask again with the same key, so a transfer Stripe made unseen comes back instead
    of a second one; after a refusal (nothing was made: the platform's balance was short) the
    next attempt carries a new key, or it would be refused again however much the balance grew."""

    settlement = models.OneToOneField(Settlement, on_delete=models.PROTECT, related_name="stripe_transfer")
    refusals = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def idempotency_key(self) -> str:
        key = f"settlement-{self.settlement.public_id}"
        return key if not self.refusals else f"{key}-after-refusal-{self.refusals}"
