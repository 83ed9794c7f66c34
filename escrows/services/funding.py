"""Money in: the buyer pays an escrow (once, against the terms shown), test-mode top-ups."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.types import User
from core.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidState,
    TermsChanged,
    TestModeOnly,
)

from .. import hot, ledger
from ..models import (
    AccountKind,
    Escrow,
    EscrowStatus,
    FundingSource,
    LedgerAccount,
    Milestone,
    Payment,
    TransactionKind,
    new_payment_id,
)
from ..money import check_minor, format_money, normalize_currency
from ..providers import card_gateway
from ._internal import _event, _lock_escrow, _milestones, _refuse_if_blocked, _refuse_if_may_not_buy
from .agreements import _record_buyer_agreement
from .escrows import MilestoneInput, _validate_milestone_set
from .milestones import _release_ready
from .review_clock import _review_clock_on_funding


def escrow_fund(
    *,
    escrow: Escrow,
    by: User,
    source: str = FundingSource.WALLET,
    reference: str | None = None,
    card_token: str = "",
    terms_version: int | None = None,
    expected_total: int | None = None,
) -> Payment:
    """The buyer pays amount + fee, once. Replaying the same reference returns the same payment.

    `terms_version` / `expected_total`: what the payer was shown (the escrow's terms version, the
    total to be charged); when given, a payment against terms that changed since is refused."""
    try:
        return _escrow_fund(
            escrow=escrow,
            by=by,
            source=source,
            reference=reference,
            card_token=card_token,
            terms_version=terms_version,
            expected_total=expected_total,
        )
    except IntegrityError:
        # Two payments of this payer with one reference at once, for two escrows: the loser.
        prior = hot.PAYMENT_BY_REFERENCE.first(by.pk, reference.strip()) if reference else None
        if prior is None:
            raise
        return _replay(prior, escrow)


def _replay(prior: Payment, escrow: Escrow) -> Payment:
    """A reference this payer used before: the same payment again for the same escrow, a
    conflict for another one."""
    if prior.escrow_id != escrow.pk:
        raise Conflict(
            "This payment reference was already used for another payment", code="duplicate_reference"
        )
    return prior


@transaction.atomic(durable=True)
def _escrow_fund(
    *,
    escrow: Escrow,
    by: User,
    source: str,
    reference: str | None,
    card_token: str,
    terms_version: int | None,
    expected_total: int | None,
) -> Payment:
    if reference is not None:
        reference = reference.strip()
        if not reference or len(reference) > 200:
            raise InvalidRequest("reference must be 1 to 200 characters", field="reference")
    escrow = _lock_escrow(escrow)
    if reference:
        prior = hot.PAYMENT_BY_REFERENCE.first(by.pk, reference)
        if prior is not None:
            return _replay(prior, escrow)
    _refuse_unpayable(escrow, by)
    if source not in FundingSource.values:
        raise InvalidRequest(f"gateway must be one of: {', '.join(FundingSource.values)}", field="gateway")
    _refuse_changed_terms(escrow, terms_version=terms_version, expected_total=expected_total)
    milestones = _payable_milestones(escrow)
    total = escrow.total_charge
    # Without a client reference the payment's own id is its reference: a fixed pattern such as
    # "fund_<escrow id>" could already have been taken by someone's explicit reference.
    payment_id = new_payment_id()
    reference = reference or payment_id
    if source == FundingSource.WALLET:
        payer_account = ledger.customer_account(by, escrow.currency)
        ledger.require_funds(payer_account, total)
    else:
        if not settings.ESCROW_TEST_MODE:
            raise TestModeOnly("Card payments are not configured")
        payer_account = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, escrow.currency)
    # The payment row first: a reference this payer is using for another escrow at this very
    # moment fails here (the unique constraint), before any card is charged.
    payment = _payment_recorded(escrow, by=by, source=source, public_id=payment_id, reference=reference)
    if source != FundingSource.WALLET:
        payment.gateway_reference = card_gateway().charge(
            reference=f"{by.customer_id}:{reference}",
            amount=total,
            currency=escrow.currency,
            card_token=card_token,
        )
        payment.save(update_fields=["gateway_reference"])
    _funding_posted(escrow, milestones, by=by, payment=payment, payer_account=payer_account)
    return payment


def _payment_recorded(
    escrow: Escrow, *, by: User, source: str, public_id: str, reference: str, gateway_reference: str = ""
) -> Payment:
    """The row of a payment funding the (locked) escrow: the escrow's amount and fee as its terms
    stand now, whatever paid them (the wallet, the mock gateway, a card through Stripe)."""
    return hot.INSERT_PAYMENT.create(
        Payment(
            public_id=public_id,
            escrow=escrow,
            payer=by,
            source=source,
            reference=reference,
            amount=escrow.amount,
            fee=escrow.fee,
            currency=escrow.currency,
            terms_version=escrow.terms_version,
            gateway_reference=gateway_reference,
        )
    )


def _refuse_unpayable(escrow: Escrow, by: User) -> None:
    """Whether `by` may pay this (locked) escrow now, whatever they pay with."""
    _refuse_if_may_not_buy(by)
    if by.pk == escrow.seller_id:
        raise Forbidden("The seller cannot pay their own escrow")
    if escrow.reserved_for_other(by):
        raise Forbidden("This escrow is reserved for another buyer")
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        if escrow.status in (EscrowStatus.CANCELLED,):
            raise InvalidState("This escrow was cancelled and can no longer be paid")
        raise InvalidState("This escrow is already funded", code="already_funded")
    if escrow.payment_expired():
        raise InvalidState(
            "This escrow's time to pay ran out and it can no longer be paid", code="payment_expired"
        )


def _payable_milestones(escrow: Escrow) -> list[Milestone]:
    """The (locked) escrow's milestones, refused if they no longer add up to what is paid."""
    milestones = _milestones(escrow)
    if escrow.is_milestone:
        _validate_milestone_set(
            [MilestoneInput(amount=m.amount) for m in milestones],
            amount=escrow.amount,
            currency=escrow.currency,
            settlement_type=escrow.settlement_type,
        )
    return milestones


def _funding_posted(
    escrow: Escrow, milestones: list[Milestone], *, by: User, payment: Payment, payer_account: LedgerAccount
) -> None:
    """The money of a payment made (amount + fee from the payer's account, to the hold and the
    fees) and the escrow funded by it: the transition, the buyer's agreement, the review clock,
    the event, and a release of what was already delivered when the terms say so."""
    total = escrow.total_charge
    entries = [(payer_account, -total), (ledger.hold_account(escrow), escrow.amount)]
    if escrow.fee:
        entries.append((ledger.platform_account(AccountKind.PLATFORM_FEES, escrow.currency), escrow.fee))
    ledger.post(TransactionKind.FUNDING, escrow.currency, entries, escrow=escrow, memo=payment.public_id)
    if escrow.buyer_id is None:
        escrow.buyer = by
    before = escrow.status
    escrow.fund()
    escrow.funded_at = timezone.now()
    hot.SAVE_FUNDED.save(escrow)
    _record_buyer_agreement(escrow, milestones, at=escrow.funded_at)
    _review_clock_on_funding(escrow, milestones)
    _event(
        "escrow.funded",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
        details={
            "payment": payment.public_id,
            "source": payment.source,
            "charged": total,
            "terms_version": escrow.terms_version,
        },
    )
    if escrow.auto_release_on_proof:
        _release_ready(escrow, milestones)


def _refuse_changed_terms(escrow: Escrow, *, terms_version: int | None, expected_total: int | None) -> None:
    """A payment is made against what its payer was shown: if the seller changed the terms since,
    nothing is charged and the payer is told what the escrow costs now."""
    changed = (terms_version is not None and terms_version != escrow.terms_version) or (
        expected_total is not None and expected_total != escrow.total_charge
    )
    if changed:
        raise TermsChanged(
            "The seller changed the terms of this escrow since you saw them; nothing was charged. "
            f"It now costs {format_money(escrow.total_charge, escrow.currency)}: "
            "review the new terms and pay again."
        )


@transaction.atomic(durable=True)
def wallet_topup(*, customer: User, amount: int, currency: str) -> int:
    """Test mode: credit the customer's main balance from a mock deposit. Returns the balance."""
    if not settings.ESCROW_TEST_MODE:
        raise TestModeOnly("Top-ups from a mock deposit are only available in test mode")
    _refuse_if_blocked(customer)
    currency = normalize_currency(currency)
    check_minor(amount, currency)
    account = ledger.customer_account(customer, currency)
    ledger.post(
        TransactionKind.TOPUP,
        currency,
        [(ledger.platform_account(AccountKind.EXTERNAL_FUNDING, currency), -amount), (account, amount)],
        memo="test-mode deposit",
    )
    _event(
        "wallet.topped_up", by=customer, customer=customer, details={"amount": amount, "currency": currency}
    )
    return ledger.cached_balance(account)
