"""Payouts through Stripe Connect: a person's Express account (onboarding and its status, from the
return from Stripe and from account.updated), where their payouts go while Connect is on, and
what Stripe tells us about money already sent: a transfer reversed (back to the person's
balance) and a bank payout that failed at Stripe (docs/stripe.md, "Connect")."""

import logging
from typing import Any

from django.db import transaction
from django.db.models import Sum

from accounts.types import User
from core.errors import Conflict, InvalidRequest, InvalidState

from .. import ledger, stripe_api, stripe_connect
from ..models import (
    AccountKind,
    LedgerEntry,
    Settlement,
    SettlementMethod,
    SettlementStatus,
    StripeAccount,
    TransactionKind,
)
from ._internal import _event, _refuse_if_blocked

logger = logging.getLogger(__name__)

CONNECT_TO_WITHDRAW = "Connect your Stripe account on your balance page to withdraw."


def _require_connect() -> None:
    if not stripe_connect.enabled():
        raise InvalidState("Payouts through Stripe are not switched on here", code="stripe_connect_off")


def stripe_account_onboard(*, customer: User, refresh_url: str, return_url: str) -> str:
    """The address of Stripe's onboarding for this person's Express account, created on their
    first visit and the same account ever after. Stripe is asked outside any transaction."""
    _refuse_if_blocked(customer)
    _require_connect()
    account = StripeAccount.objects.filter(customer=customer).first()
    if account is None:
        data = stripe_connect.account_create(customer_id=customer.customer_id, email=customer.email)
        account = _stripe_account_record(customer=customer, data=data)
    return stripe_connect.account_link_create(
        account_id=account.account_id, refresh_url=refresh_url, return_url=return_url
    )


@transaction.atomic(durable=True)
def _stripe_account_record(*, customer: User, data: dict[str, Any]) -> StripeAccount:
    # Two clicks at once ask Stripe with the same key and get the same account: one row.
    account, created = StripeAccount.objects.get_or_create(
        customer=customer, defaults={"account_id": str(data["id"]), **stripe_connect.account_state(data)}
    )
    if created:
        _event(
            "stripe_account.created",
            by=customer,
            customer=customer,
            details={"account": account.account_id},
        )
    return account


def stripe_account_refresh(*, customer: User) -> StripeAccount | None:
    """What Stripe says of the person's account now (on their return from onboarding)."""
    _require_connect()
    account = StripeAccount.objects.filter(customer=customer).first()
    if account is None:
        return None
    data = stripe_connect.account_retrieve(account.account_id)
    with transaction.atomic(durable=True):
        return stripe_account_apply(data)


def stripe_account_apply(obj: dict[str, Any]) -> StripeAccount | None:
    """Keep what Stripe says of an account (account.updated, or asked); the person is told when
    payouts start or stop, or Stripe asks for more. An account that is not one of ours is left."""
    account = StripeAccount.objects.select_for_update().filter(account_id=obj.get("id") or "").first()
    if account is None:
        return None
    before = (account.payouts_enabled, account.status_words)
    for name, value in stripe_connect.account_state(obj).items():
        setattr(account, name, value)
    account.save()
    after = (account.payouts_enabled, account.status_words)
    if after != before:
        _event(
            "stripe_account.updated",
            by=None,
            customer=account.customer,
            details={
                "account": account.account_id,
                "payoutsEnabled": account.payouts_enabled,
                "payoutsEnabledBefore": before[0],
                "status": account.status_words,
                "requirementsDue": account.requirements_due,
            },
        )
    return account


def connect_transfer_destination(customer: User, currency: str) -> str:
    """The connected account a payout to this person goes to as a Stripe transfer: while Connect
    is on, their account once Stripe pays out to it, in a currency Stripe has; else none."""
    if not stripe_connect.enabled():
        return ""
    account_id = (
        StripeAccount.objects.filter(customer=customer, payouts_enabled=True)
        .values_list("account_id", flat=True)
        .first()
    )
    if account_id is None:
        return ""
    try:
        stripe_api.stripe_amount(0, currency)
    except (InvalidRequest, KeyError):
        return ""
    return account_id


def stripe_transfer_reversed(obj: dict[str, Any]) -> None:
    """transfer.reversed: Stripe took money we had transferred back to the platform's balance.
    What came back that the person has not been given yet goes back to their balance, once
    however often Stripe says so (its amount_reversed is the total so far)."""
    metadata = obj.get("metadata") or {}
    public_id = metadata.get("settlement") if isinstance(metadata, dict) else None
    settlement = (
        Settlement.objects.select_for_update(of=("self",))
        .select_related("escrow", "customer")
        .filter(public_id=public_id or "", method=SettlementMethod.STRIPE_TRANSFER)
        .first()
    )
    if settlement is None:
        logger.info("Stripe transfer %s reversed: not one of our settlements", obj.get("id"))
        return
    if settlement.status != SettlementStatus.PAID:
        # Our record of the transfer is not written yet: Stripe sends the event again later.
        raise Conflict("This transfer is not recorded as paid yet", code="transfer_not_recorded")
    if settlement.provider_reference != obj.get("id"):
        logger.warning("Stripe transfer %s reversed: settlement %s paid by another", obj.get("id"), public_id)
        return
    reversed_total = stripe_api.our_amount(int(obj.get("amount_reversed") or 0), str(obj.get("currency")))
    if reversed_total is None:
        return
    main = ledger.customer_account(settlement.customer, settlement.currency)
    given_back = (
        LedgerEntry.objects.filter(
            transaction__settlement=settlement,
            transaction__kind=TransactionKind.PAYOUT_RETURN,
            account=main,
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    amount = min(reversed_total, settlement.amount) - given_back
    if amount <= 0:
        return
    ledger.post(
        TransactionKind.PAYOUT_RETURN,
        settlement.currency,
        [
            (ledger.platform_account(AccountKind.EXTERNAL_PAYOUTS, settlement.currency), -amount),
            (main, amount),
        ],
        escrow=settlement.escrow,
        settlement=settlement,
        memo="Stripe transfer reversed",
    )
    _event(
        "settlement.reversed",
        by=None,
        customer=settlement.customer,
        escrow=settlement.escrow,
        settlement=settlement,
        details={
            "amount": amount,
            "currency": settlement.currency,
            "transfer": settlement.provider_reference,
        },
    )


def stripe_payout_failed(obj: dict[str, Any], account_id: str) -> None:
    """payout.failed on a connected account: Stripe could not pay the person's money on to their
    bank. It stays on their Stripe account (not ours to move); they are told, with the amount."""
    account = StripeAccount.objects.select_related("customer").filter(account_id=account_id).first()
    if account is None:
        return
    currency = str(obj.get("currency") or "").upper()
    stripe_units = int(obj.get("amount") or 0)
    amount = stripe_api.our_amount(stripe_units, currency) if currency else None
    _event(
        "stripe_account.payout_failed",
        by=None,
        customer=account.customer,
        details={
            "account": account_id,
            "payout": obj.get("id"),
            "amount": amount,
            "stripeAmount": stripe_units,
            "currency": currency,
            "reason": str(obj.get("failure_message") or ""),
            "failureCode": str(obj.get("failure_code") or ""),
        },
    )
