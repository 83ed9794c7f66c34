"""The only write path of the product. Each public service is one durable transaction that
locks the escrow row, checks who may act, runs the FSM transition, posts ledger and event rows,
and enqueues side effects on commit. The API, the HTML views, admin and Celery all call these."""

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet
from django.utils import timezone

from . import broker, ledger
from .compiled import SENTINEL_PK, CompiledInsert, CompiledQuery, CompiledUpdate
from .errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    InvalidState,
    NotFound,
    TermsChanged,
    TestModeOnly,
)
from .models import (
    ACTIVE_DISPUTE_STATUSES,
    AccountKind,
    ActorKind,
    CancellationProposal,
    CancellationStatus,
    Dispute,
    DisputeAnswer,
    DisputeEvidence,
    DisputeOutcome,
    DisputeStatus,
    Escrow,
    EscrowStatus,
    Event,
    FundingSource,
    Milestone,
    MilestoneStatus,
    Payment,
    RefundRequest,
    RefundRequestStatus,
    ReleaseType,
    Settlement,
    SettlementMethod,
    SettlementStatus,
    SettlementType,
    TransactionKind,
    WhoPays,
    new_payment_id,
)
from .money import check_minor, fee_for, format_money, normalize_currency
from .providers import PayoutResult, card_gateway, off_ramp

User = Any  # accounts.User; kept loose so services stay importable from migrations and tasks


# -- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MilestoneInput:
    amount: int  # minor units
    title: str = ""
    description: str = ""
    percentage: Decimal | None = None
    payee: Any = None
    due_date: datetime | None = None


@dataclass(frozen=True)
class EscrowTerms:
    title: str
    currency: str
    amount: int  # minor units
    description: str = ""
    who_pays: str = WhoPays.BUYER
    settlement_type: str = SettlementType.MILESTONE
    release_type: str = ReleaseType.MILESTONE_LOCKED
    auto_release_on_proof: bool = False
    intent_type: str = ""
    settlement_method: str = ""
    settlement_destination: str = ""
    buyer_email: str = ""
    max_delivery: int | None = None
    delivery_timeline: str = ""
    total_quantity: int | None = None
    category_id: str = ""
    metadata: dict | None = None
    inspection_period: timedelta | None = None


# -- small helpers ---------------------------------------------------------------------------


def _locked_escrow_query(pk: int | str, *, with_seller_account: bool, by: str = "pk") -> QuerySet[Escrow]:
    qs = Escrow.objects.select_for_update(of=("self",)).select_related("seller", "buyer", "hold_account")
    if with_seller_account:
        qs = qs.annotate(
            seller_account_id=ledger.customer_account_id(OuterRef("seller_id"), OuterRef("currency"))
        )
    return qs.filter(**{by: pk})


# Compiled once per process (escrows.compiled): these two reads run in every state change.
_LOCK_ESCROW = CompiledQuery(lambda pk: _locked_escrow_query(pk, with_seller_account=False), SENTINEL_PK)
_LOCK_ESCROW_FOR_RELEASE = CompiledQuery(
    lambda pk: _locked_escrow_query(pk, with_seller_account=True), SENTINEL_PK
)
# The API's confirm addresses the escrow by its public id (milestone_confirm).
_LOCK_ESCROW_FOR_CONFIRM = CompiledQuery(
    lambda public_id: _locked_escrow_query(public_id, with_seller_account=True, by="public_id"),
    "__escrow_public_id__",
)
_MILESTONES = CompiledQuery(lambda pk: Milestone.objects.filter(escrow_id=pk).order_by("index"), SENTINEL_PK)
# The hot writes, SQL built once (escrows.compiled): every event row, a release, a close.
_INSERT_EVENT = CompiledInsert(Event)
_SAVE_RELEASED = CompiledUpdate(Milestone, "status", "released_at")
_SAVE_CLOSED = CompiledUpdate(Escrow, "status", "closed_at", "updated_at")
_SAVE_FUNDED = CompiledUpdate(Escrow, "status", "funded_at", "buyer", "updated_at")
_INSERT_PAYMENT = CompiledInsert(Payment)
_PAYMENT_BY_REFERENCE = CompiledQuery(
    lambda payer_id, reference: Payment.objects.filter(payer_id=payer_id, reference=reference)[:1],
    SENTINEL_PK,
    "__payment_reference__",
)


def _lock_escrow(escrow: Escrow, *, with_seller_account: bool = False) -> Escrow:
    """Re-read the escrow under a row lock; every change to an escrow or its milestones takes it.
    The hold account comes in the same query (only the escrow row is locked), and with
    `with_seller_account` the id of the seller's main account too (a release pays it)."""
    query = _LOCK_ESCROW_FOR_RELEASE if with_seller_account else _LOCK_ESCROW
    locked = query.first(escrow.pk)
    if locked is None:
        raise NotFound("Escrow not found")
    return locked


def _milestones(escrow: Escrow) -> list[Milestone]:
    """The escrow's milestones in order, each with .escrow set to this (locked) escrow; kept on
    the escrow as `loaded_milestones`, so that an answer built after the change reads no more."""
    milestones = _MILESTONES.all(escrow.pk)
    for m in milestones:
        Milestone.escrow.field.set_cached_value(m, escrow)
    escrow.loaded_milestones = milestones
    return milestones


def _actor_kind(by: Any) -> str:
    if by is None:
        return ActorKind.SYSTEM
    return ActorKind.ADMIN if getattr(by, "is_staff", False) else ActorKind.USER


def _event(
    kind: str,
    *,
    by: Any,
    escrow: Escrow | None = None,
    milestone: Milestone | None = None,
    settlement: Settlement | None = None,
    customer: Any = None,
    from_status: str = "",
    to_status: str = "",
    details: dict | None = None,
    actor_kind: str | None = None,
) -> Event:
    event = Event(
        kind=kind,
        escrow=escrow,
        milestone=milestone,
        settlement=settlement,
        customer=customer,
        actor=by,
        actor_kind=actor_kind or _actor_kind(by),
        from_status=from_status,
        to_status=to_status,
        details=details or {},
    )
    _INSERT_EVENT.create(event)
    # One hand-over per transaction (savepoint scope), however many events it wrote: the
    # dispatcher takes every undispatched event at once, and publishing a task is a good part
    # of a confirm's time. A hook of another scope (a savepoint that may still roll back) counts
    # for nothing.
    connection = transaction.get_connection()
    scope = set(connection.savepoint_ids)
    if not any(
        func is _dispatch_events_after_commit and sids == scope for sids, func, _ in connection.run_on_commit
    ):
        transaction.on_commit(_dispatch_events_after_commit, robust=True)
    return event


def _dispatch_events_after_commit() -> None:
    from .tasks import enqueue_event_dispatch

    enqueue_event_dispatch()


def _require_party(escrow: Escrow, by: Any) -> str:
    role = escrow.party_role(by)
    if role is None:
        raise NotFound("Escrow not found")
    return role


def _validate_terms(
    terms: EscrowTerms, milestones: Sequence[MilestoneInput] | None, *, seller: Any
) -> EscrowTerms:
    title = (terms.title or "").strip()
    if not title:
        raise InvalidRequest("title is required", field="title")
    if len(title) > 200:
        raise InvalidRequest("title must be at most 200 characters", field="title")
    currency = normalize_currency(terms.currency)
    if not isinstance(terms.amount, int) or isinstance(terms.amount, bool):
        raise InvalidRequest("amount must be an exact number of minor units", field="amount")
    check_minor(terms.amount, currency)
    if terms.settlement_type not in SettlementType.values:
        raise InvalidRequest("settlementType must be MILESTONE or STANDARD", field="settlementType")
    if terms.release_type not in ReleaseType.values:
        raise InvalidRequest("releaseType must be MILESTONE_LOCKED or DELIVERY_PROOF", field="releaseType")
    if terms.who_pays != WhoPays.BUYER:
        raise InvalidRequest("whoPays must be buyer for milestone escrows", field="whoPays")
    if terms.settlement_method and terms.settlement_method not in SettlementMethod.values:
        raise InvalidRequest(
            f"settlementMethod must be one of: {', '.join(SettlementMethod.values)}",
            field="settlementMethod",
        )
    if terms.settlement_method and not terms.settlement_destination.strip():
        raise InvalidRequest(
            "settlementDestination is required with a settlementMethod", field="settlementDestination"
        )
    if terms.buyer_email and seller.email.lower() == terms.buyer_email.strip().lower():
        raise InvalidRequest("The buyer cannot be the seller", field="buyerEmail")
    if terms.inspection_period is not None and terms.inspection_period <= timedelta(0):
        raise InvalidRequest("inspection period must be positive", field="inspectionPeriod")
    if milestones is not None:
        _validate_milestone_set(
            milestones, amount=terms.amount, currency=currency, settlement_type=terms.settlement_type
        )
    return EscrowTerms(**{**terms.__dict__, "title": title, "currency": currency})


def _validate_milestone_set(
    milestones: Sequence[MilestoneInput], *, amount: int, currency: str, settlement_type: str
) -> None:
    if settlement_type == SettlementType.STANDARD:
        if milestones:
            raise InvalidRequest("A standard escrow has no milestones", field="milestones")
        return
    if len(milestones) < 2:
        raise InvalidRequest("A milestone escrow needs at least 2 milestones", field="milestones")
    now = timezone.now()
    for i, m in enumerate(milestones):
        if not isinstance(m.amount, int) or isinstance(m.amount, bool) or m.amount <= 0:
            raise InvalidRequest(f"milestones[{i}].amount must be greater than zero", field="milestones")
        if m.due_date is not None and m.due_date <= now:
            raise InvalidRequest(f"milestones[{i}].dueDate must be in the future", field="milestones")
        if m.percentage is not None and not (0 <= m.percentage <= 100):
            raise InvalidRequest(f"milestones[{i}].percentage must be between 0 and 100", field="milestones")
    total = sum(m.amount for m in milestones)
    if total != amount:
        raise InvalidRequest(
            f"Milestone amounts must sum to the escrow amount: they sum to "
            f"{format_money(total, currency)}, the escrow is {format_money(amount, currency)}",
            field="milestones",
        )


def _create_milestones(escrow: Escrow, milestones: Sequence[MilestoneInput]) -> None:
    Milestone.objects.bulk_create(
        [
            Milestone(
                escrow=escrow,
                index=i,
                title=m.title.strip()[:200],
                description=m.description,
                amount=m.amount,
                percentage=m.percentage,
                payee=m.payee,
                due_date=m.due_date,
            )
            for i, m in enumerate(milestones)
        ]
    )


def _previous(milestones: list[Milestone], milestone: Milestone) -> Milestone | None:
    """The milestone that must be out of the way before this one: the nearest earlier one that
    is not under dispute (a dispute freezes only its own milestone, never the later ones)."""
    earlier = [m for m in milestones if m.index < milestone.index and m.status != MilestoneStatus.DISPUTED]
    return earlier[-1] if earlier else None


def _refuse_if_disputed(milestone: Milestone) -> None:
    if milestone.status == MilestoneStatus.DISPUTED:
        raise InvalidState(
            f"Milestone {milestone.index} is disputed; it is frozen until the dispute is resolved",
            code="milestone_disputed",
        )


# -- create / edit ---------------------------------------------------------------------------


@transaction.atomic(durable=True)
def escrow_create(
    *,
    seller: Any,
    terms: EscrowTerms,
    milestones: Sequence[MilestoneInput] | None,
    buyer: Any = None,
) -> Escrow:
    """Create an escrow. `milestones=None` leaves a milestone escrow to have its milestones
    added one by one (payment-intents surface); funding then checks the set is complete."""
    terms = _validate_terms(terms, milestones, seller=seller)
    if buyer is not None and buyer.pk == seller.pk:
        raise InvalidRequest("The buyer cannot be the seller", field="buyer")
    fee, version = fee_for(terms.amount, terms.currency)
    now = timezone.now()
    escrow = Escrow.objects.create(
        seller=seller,
        buyer=buyer,
        buyer_email=(terms.buyer_email or "").strip().lower(),
        title=terms.title,
        description=terms.description,
        currency=terms.currency,
        amount=terms.amount,
        fee=fee,
        fee_schedule_version=version,
        who_pays=terms.who_pays,
        settlement_type=terms.settlement_type,
        release_type=terms.release_type,
        auto_release_on_proof=terms.auto_release_on_proof,
        intent_type=terms.intent_type,
        settlement_method=terms.settlement_method,
        settlement_destination=terms.settlement_destination.strip(),
        max_delivery=terms.max_delivery,
        delivery_timeline=terms.delivery_timeline,
        total_quantity=terms.total_quantity,
        category_id=terms.category_id,
        metadata=terms.metadata or {},
        inspection_period=terms.inspection_period or settings.ESCROW_INSPECTION_PERIOD,
        expires_at=now + settings.ESCROW_PAYMENT_EXPIRY,
    )
    if milestones:
        _create_milestones(escrow, milestones)
    _event(
        "escrow.created",
        by=seller,
        escrow=escrow,
        to_status=escrow.status,
        details={"amount": terms.amount, "fee": fee, "currency": terms.currency, "feeSchedule": version},
    )
    return escrow


@transaction.atomic(durable=True)
def escrow_edit(
    *, escrow: Escrow, by: Any, terms: EscrowTerms, milestones: Sequence[MilestoneInput]
) -> Escrow:
    """Replace the terms and the whole milestone set (new milestone ids); the fee is recomputed."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller who created this escrow can edit it")
    old = _milestones(escrow)
    refusal = escrow.edit_refusal(old)
    if refusal is not None:
        raise InvalidState(refusal)
    terms = _validate_terms(terms, milestones, seller=escrow.seller)
    if escrow.buyer_id is not None and terms.buyer_email and terms.buyer_email != escrow.buyer.email:
        raise InvalidRequest("The buyer of this escrow is already set", field="buyerEmail")
    before = {"amount": escrow.amount, "fee": escrow.fee, "milestones": [m.public_id for m in old]}
    fee, version = fee_for(terms.amount, terms.currency)
    for field in (
        "title",
        "description",
        "currency",
        "amount",
        "who_pays",
        "settlement_type",
        "release_type",
        "auto_release_on_proof",
        "settlement_method",
        "settlement_destination",
        "max_delivery",
        "delivery_timeline",
        "total_quantity",
        "category_id",
    ):
        setattr(escrow, field, getattr(terms, field))
    escrow.buyer_email = (terms.buyer_email or "").strip().lower()
    if terms.metadata is not None:
        escrow.metadata = terms.metadata
    if terms.inspection_period is not None:
        escrow.inspection_period = terms.inspection_period
    escrow.fee, escrow.fee_schedule_version = fee, version
    escrow.terms_version += 1
    escrow.save()
    # The replaced milestones go, but their audit rows stay: detach them (each keeps the old
    # milestone's id in its details, and the edit event lists the ids it replaced).
    Event.objects.filter(milestone__in=old).update(milestone=None)
    Milestone.objects.filter(escrow=escrow).delete()
    _create_milestones(escrow, milestones)
    _event(
        "escrow.edited",
        by=by,
        escrow=escrow,
        from_status=escrow.status,
        to_status=escrow.status,
        details={"before": before, "amount": escrow.amount, "fee": fee},
    )
    return escrow


@transaction.atomic(durable=True)
def milestone_add(*, escrow: Escrow, by: Any, index: int, milestone: MilestoneInput) -> Milestone:
    """Add one milestone (payment-intents surface); the running total may never exceed amount."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can add milestones")
    if escrow.release_type != ReleaseType.MILESTONE_LOCKED or not escrow.is_milestone:
        raise InvalidRequest(f"Cannot create milestone for order with release type: {escrow.release_type}")
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        raise InvalidState("Milestones can only be added while the escrow is awaiting payment")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0 or index > 10_000:
        raise InvalidRequest("milestoneIndex must be an integer from 0", field="milestoneIndex")
    existing = _milestones(escrow)
    if any(m.index == index for m in existing):
        raise InvalidRequest(f"Milestone with index {index} already exists")
    check_minor(milestone.amount, escrow.currency)
    if milestone.percentage is not None and not (0 <= milestone.percentage <= 100):
        raise InvalidRequest("percentage must be between 0 and 100", field="percentage")
    if sum(m.amount for m in existing) + milestone.amount > escrow.amount:
        raise InvalidRequest("Total milestone amounts exceed escrow order amount")
    escrow.terms_version += 1
    escrow.save(update_fields=["terms_version", "updated_at"])
    created = Milestone.objects.create(
        escrow=escrow,
        index=index,
        title=milestone.title[:200],
        description=milestone.description,
        amount=milestone.amount,
        percentage=milestone.percentage,
        payee=milestone.payee,
        due_date=milestone.due_date,
    )
    _event(
        "milestone.created",
        by=by,
        escrow=escrow,
        milestone=created,
        to_status=created.status,
        details={"milestone": created.public_id, "index": index, "amount": milestone.amount},
    )
    return created


# -- money in --------------------------------------------------------------------------------


def escrow_fund(
    *,
    escrow: Escrow,
    by: Any,
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
        prior = Payment.objects.filter(payer_id=by.pk, reference=(reference or "").strip()).first()
        if prior is None:
            raise
        if prior.escrow_id == escrow.pk:
            return prior
        raise Conflict(
            "This payment reference was already used for another payment", code="duplicate_reference"
        ) from None


@transaction.atomic(durable=True)
def _escrow_fund(
    *,
    escrow: Escrow,
    by: Any,
    source: str = FundingSource.WALLET,
    reference: str | None = None,
    card_token: str = "",
    terms_version: int | None = None,
    expected_total: int | None = None,
) -> Payment:
    if reference is not None:
        reference = reference.strip()
        if not reference or len(reference) > 200:
            raise InvalidRequest("reference must be 1 to 200 characters", field="reference")
    escrow = _lock_escrow(escrow)
    if reference:
        prior = _PAYMENT_BY_REFERENCE.first(by.pk, reference)
        if prior is not None:
            if prior.escrow_id == escrow.pk:
                return prior
            raise Conflict(
                "This payment reference was already used for another payment", code="duplicate_reference"
            )
    if by.pk == escrow.seller_id:
        raise Forbidden("The seller cannot pay their own escrow")
    if escrow.buyer_id is not None and escrow.buyer_id != by.pk:
        raise Forbidden("This escrow is reserved for another buyer")
    if escrow.buyer_id is None and escrow.buyer_email and escrow.buyer_email != by.email.lower():
        raise Forbidden("This escrow is reserved for another buyer")
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        if escrow.status in (EscrowStatus.CANCELLED,):
            raise InvalidState("This escrow was cancelled and can no longer be paid")
        raise InvalidState("This escrow is already funded", code="already_funded")
    if source not in FundingSource.values:
        raise InvalidRequest(f"gateway must be one of: {', '.join(FundingSource.values)}", field="gateway")
    _refuse_changed_terms(escrow, terms_version=terms_version, expected_total=expected_total)
    milestones = _milestones(escrow)
    if escrow.is_milestone:
        _validate_milestone_set(
            [MilestoneInput(amount=m.amount) for m in milestones],
            amount=escrow.amount,
            currency=escrow.currency,
            settlement_type=escrow.settlement_type,
        )
    total = escrow.total_charge
    hold = ledger.hold_account(escrow)
    fees = ledger.platform_account(AccountKind.PLATFORM_FEES, escrow.currency)
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
    payment = _INSERT_PAYMENT.create(
        Payment(
            public_id=payment_id,
            escrow=escrow,
            payer=by,
            source=source,
            reference=reference,
            amount=escrow.amount,
            fee=escrow.fee,
            currency=escrow.currency,
            terms_version=escrow.terms_version,
        )
    )
    if source != FundingSource.WALLET:
        payment.gateway_reference = card_gateway().charge(
            reference=f"{by.customer_id}:{reference}",
            amount=total,
            currency=escrow.currency,
            card_token=card_token,
        )
        payment.save(update_fields=["gateway_reference"])
    entries = [(payer_account, -total), (hold, escrow.amount)]
    if escrow.fee:
        entries.append((fees, escrow.fee))
    ledger.post(TransactionKind.FUNDING, escrow.currency, entries, escrow=escrow, memo=payment.public_id)
    if escrow.buyer_id is None:
        escrow.buyer = by
    before = escrow.status
    escrow.fund()
    escrow.funded_at = timezone.now()
    _SAVE_FUNDED.save(escrow)
    _review_clock_on_funding(escrow, milestones)
    _event(
        "escrow.funded",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
        details={
            "payment": payment.public_id,
            "source": source,
            "charged": total,
            "terms_version": escrow.terms_version,
        },
    )
    if escrow.auto_release_on_proof:
        _release_ready(escrow, milestones, by=None)
    return payment


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
def wallet_topup(*, customer: Any, amount: int, currency: str) -> int:
    """Test mode: credit the customer's main balance from a mock deposit. Returns the balance."""
    if not settings.ESCROW_TEST_MODE:
        raise TestModeOnly("Top-ups from a mock deposit are only available in test mode")
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


# -- milestones ------------------------------------------------------------------------------


def _check_actionable(escrow: Escrow, *, allow_unfunded: bool) -> None:
    if escrow.status == EscrowStatus.OPENED:
        return
    if escrow.status == EscrowStatus.AWAITING_PAYMENT:
        if allow_unfunded:
            return
        raise InvalidState("This escrow is not funded yet", code="not_funded")
    if escrow.status == EscrowStatus.DISPUTED:
        raise InvalidState(
            "This escrow is disputed; milestones are frozen until it is resolved", code="disputed"
        )
    raise InvalidState(f"This escrow is {escrow.get_status_display().lower()}", code="escrow_closed")


def _get_milestone(escrow: Escrow, milestone: Milestone, milestones: list[Milestone]) -> Milestone:
    for m in milestones:
        if m.pk == milestone.pk:
            return m
    raise NotFound("Milestone not found")


@transaction.atomic(durable=True)
def milestone_complete(
    *,
    milestone: Milestone,
    by: Any,
    completed_by: str = "",
    proof: str = "",
    proof_uri: str = "",
) -> Milestone:
    """The seller marks a milestone delivered, with proof. With auto-release on and all
    prerequisites met, the release follows in the same transaction."""
    escrow = _lock_escrow(milestone.escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if role != "seller":
        raise Forbidden("Only the seller can mark a milestone delivered")
    # The milestone's own state first: the seeds' "Milestone already released" holds after the
    # last release closed the escrow too.
    if milestone.status == MilestoneStatus.COMPLETED:
        raise InvalidRequest("Milestone already completed")
    if milestone.status == MilestoneStatus.RELEASED:
        raise InvalidRequest("Milestone already released")
    if milestone.status in (MilestoneStatus.REFUNDED, MilestoneStatus.SPLIT):
        raise InvalidState("Milestone was refunded")
    _check_actionable(escrow, allow_unfunded=True)
    _refuse_if_disputed(milestone)
    previous = _previous(milestones, milestone)
    if previous is not None and previous.status == MilestoneStatus.PENDING:
        raise InvalidRequest(f"Previous milestone (index {previous.index}) must be completed first")
    milestone.complete()
    milestone.completed_by = completed_by[:200]
    milestone.completion_proof = proof
    milestone.completion_proof_uri = proof_uri
    milestone.completed_at = timezone.now()
    _review_clock_start(escrow, milestone, milestone.completed_at)
    milestone.save()
    _event(
        "milestone.completed",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=MilestoneStatus.PENDING,
        to_status=milestone.status,
        details={
            "index": milestone.index,
            "completedBy": milestone.completed_by,
            "proof": proof[:500],
            "proofUri": proof_uri,
            "reviewDeadline": milestone.review_deadline.isoformat() if milestone.review_deadline else None,
        },
    )
    if escrow.auto_release_on_proof and escrow.status == EscrowStatus.OPENED:
        _release_ready(escrow, milestones, by=None)
    return milestone


@transaction.atomic(durable=True)
def milestone_release(*, milestone: Milestone, by: Any) -> Milestone:
    """The buyer confirms one stage: its amount moves from the hold to the payee's balance.
    Releasing the last milestone completes the escrow in the same transaction. Returns the
    released milestone; its .escrow is the escrow as this transaction left it."""
    escrow = _lock_escrow(milestone.escrow, with_seller_account=True)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    return _buyer_releases(escrow, milestones, _get_milestone(escrow, milestone, milestones), role, by)


@transaction.atomic(durable=True)
def milestone_confirm(*, escrow_id: str, milestone_id: str, by: Any) -> Milestone:
    """milestone_release addressed by public ids, as the API's confirm call addresses it: the
    escrow is found and locked in one read, with nothing read before the transaction. The same
    answers: "Escrow not found" for an escrow that is missing or not the caller's, "Milestone not
    found" for a stage that is not the escrow's."""
    escrow = _LOCK_ESCROW_FOR_CONFIRM.first(escrow_id)
    if escrow is None:
        raise NotFound("Escrow not found")
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = next((m for m in milestones if m.public_id == milestone_id), None)
    if milestone is None:
        raise NotFound("Milestone not found")
    return _buyer_releases(escrow, milestones, milestone, role, by)


def _buyer_releases(
    escrow: Escrow, milestones: list[Milestone], milestone: Milestone, role: str, by: Any
) -> Milestone:
    if role != "buyer":
        raise Forbidden("Only the buyer can release a milestone")
    _release_one(escrow, milestones, milestone, by=by)
    if escrow.auto_release_on_proof:
        _release_ready(escrow, milestones, by=None)
    return milestone


@transaction.atomic(durable=True)
def milestone_auto_release(*, milestone: Milestone) -> Milestone | None:
    """Timer: a delivered milestone the buyer neither confirmed nor disputed within the
    inspection period is released. Returns None when it no longer qualifies."""
    escrow = _lock_escrow(milestone.escrow)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if escrow.status != EscrowStatus.OPENED or milestone.status != MilestoneStatus.COMPLETED:
        return None
    deadline = review_deadline_of(milestone)
    if deadline is None or deadline > timezone.now():
        return None
    previous = _previous(milestones, milestone)
    if previous is not None and not previous.is_settled:
        return None
    _release_one(escrow, milestones, milestone, by=None, reason="inspection period lapsed")
    return milestone


def _release_one(
    escrow: Escrow, milestones: list[Milestone], milestone: Milestone, *, by: Any, reason: str = ""
) -> None:
    if milestone.status == MilestoneStatus.RELEASED:
        raise InvalidRequest("Milestone already released")
    if milestone.status in (MilestoneStatus.REFUNDED, MilestoneStatus.SPLIT):
        raise InvalidState("Milestone was refunded")
    _check_actionable(escrow, allow_unfunded=False)
    _refuse_if_disputed(milestone)
    previous = _previous(milestones, milestone)
    if previous is not None and not previous.is_settled:
        raise InvalidRequest(f"Previous milestone (index {previous.index}) must be released first")
    _release(escrow, milestones, milestone, by=by, reason=reason)


def _release(
    escrow: Escrow, milestones: list[Milestone], milestone: Milestone, *, by: Any, reason: str = ""
) -> None:
    payee = milestone.payee or escrow.seller
    known = getattr(escrow, "seller_account_id", None) if payee.pk == escrow.seller_id else None
    payee_account = ledger.customer_account(payee, escrow.currency, known_id=known)
    ledger.post(
        TransactionKind.RELEASE,
        escrow.currency,
        [(ledger.hold_account(escrow), -milestone.amount), (payee_account, milestone.amount)],
        escrow=escrow,
        milestone=milestone,
    )
    before = milestone.status
    milestone.release()
    milestone.released_at = timezone.now()
    _SAVE_RELEASED.save(milestone)
    _event(
        "milestone.released",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=before,
        to_status=milestone.status,
        details={
            "index": milestone.index,
            "amount": milestone.amount,
            "payee": payee.customer_id,
            "reason": reason,
        },
    )
    if escrow.settlement_method and payee.pk == escrow.seller_id:
        _settlement_schedule(
            customer=payee,
            amount=milestone.amount,
            currency=escrow.currency,
            method=escrow.settlement_method,
            destination=escrow.settlement_destination,
            escrow=escrow,
            milestone=milestone,
            by=by,
        )
    if all(m.is_settled for m in milestones):
        _close_after_last(escrow, milestones, by=by)


def _close_after_last(escrow: Escrow, milestones: list[Milestone], *, by: Any) -> None:
    before = escrow.status
    released_any = any(m.status in (MilestoneStatus.RELEASED, MilestoneStatus.SPLIT) for m in milestones)
    if escrow.status == EscrowStatus.DISPUTED:
        if released_any:
            escrow.resolve_complete()
        else:
            escrow.resolve_refund()
    elif released_any:
        escrow.complete()
    else:
        escrow.refund()
    escrow.closed_at = timezone.now()
    _SAVE_CLOSED.save(escrow)
    _event(
        f"escrow.{escrow.status.lower()}",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
    )


def _release_ready(escrow: Escrow, milestones: list[Milestone], *, by: Any) -> None:
    """Auto-release on proof: release delivered milestones, in order, while prerequisites hold."""
    for m in milestones:
        if escrow.status != EscrowStatus.OPENED:
            return
        if m.is_settled or m.status == MilestoneStatus.DISPUTED:
            continue
        if m.status != MilestoneStatus.COMPLETED:
            return
        _release(escrow, milestones, m, by=by, reason="auto-release on proof")


# -- standard escrows ------------------------------------------------------------------------


@transaction.atomic(durable=True)
def escrow_confirm_delivery(*, escrow: Escrow, by: Any) -> Escrow:
    """Standard escrow: the buyer confirms delivery and the whole amount goes to the seller."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "buyer":
        raise Forbidden("Only the buyer can confirm delivery")
    if escrow.is_milestone:
        raise InvalidRequest("A milestone escrow is released milestone by milestone")
    _check_actionable(escrow, allow_unfunded=False)
    ledger.post(
        TransactionKind.RELEASE,
        escrow.currency,
        [
            (ledger.hold_account(escrow), -escrow.amount),
            (ledger.customer_account(escrow.seller, escrow.currency), escrow.amount),
        ],
        escrow=escrow,
    )
    before = escrow.status
    escrow.complete()
    escrow.closed_at = timezone.now()
    escrow.save()
    _event("escrow.completed", by=by, escrow=escrow, from_status=before, to_status=escrow.status)
    if escrow.settlement_method:
        _settlement_schedule(
            customer=escrow.seller,
            amount=escrow.amount,
            currency=escrow.currency,
            method=escrow.settlement_method,
            destination=escrow.settlement_destination,
            escrow=escrow,
            milestone=None,
            by=by,
        )
    return escrow


# -- cancel, expire, refund, disputes -------------------------------------------------------


@transaction.atomic(durable=True)
def escrow_cancel(*, escrow: Escrow, by: Any) -> Escrow:
    """Either party, or staff from the admin, cancels an escrow nobody has paid yet."""
    escrow = _lock_escrow(escrow)
    if not getattr(by, "is_staff", False):
        _require_party(escrow, by)
    if escrow.status != EscrowStatus.AWAITING_PAYMENT:
        raise InvalidState("Only an escrow that is awaiting payment can be cancelled")
    before = escrow.status
    escrow.cancel()
    escrow.closed_at = timezone.now()
    escrow.save()
    _event("escrow.cancelled", by=by, escrow=escrow, from_status=before, to_status=escrow.status)
    return escrow


@transaction.atomic(durable=True)
def escrow_expire(*, escrow: Escrow) -> Escrow | None:
    """Timer: an escrow still awaiting payment after its expiry is cancelled."""
    escrow = _lock_escrow(escrow)
    if escrow.status != EscrowStatus.AWAITING_PAYMENT or escrow.expires_at > timezone.now():
        return None
    escrow.expire()
    escrow.closed_at = timezone.now()
    escrow.save()
    _event(
        "escrow.cancelled",
        by=None,
        escrow=escrow,
        from_status=EscrowStatus.AWAITING_PAYMENT,
        to_status=escrow.status,
        details={"reason": "expired"},
    )
    return escrow


def _refund_rest(escrow: Escrow, milestones: list[Milestone], *, by: Any, reason: str) -> int:
    """Move everything still held back to where the buyer paid from. Returns the amount.
    A milestone under dispute is settled only by its dispute's resolution, so it blocks this."""
    for m in milestones:
        _refuse_if_disputed(m)
    if escrow.is_milestone:
        to_refund = [m for m in milestones if not m.is_settled]
        amount = sum(m.amount for m in to_refund)
    else:
        to_refund = []
        amount = escrow.amount
    if amount:
        payment = escrow.payment
        target = (
            ledger.customer_account(payment.payer, escrow.currency)
            if payment.source == FundingSource.WALLET
            else ledger.platform_account(AccountKind.EXTERNAL_REFUNDS, escrow.currency)
        )
        ledger.post(
            TransactionKind.REFUND,
            escrow.currency,
            [(ledger.hold_account(escrow), -amount), (target, amount)],
            escrow=escrow,
            memo=reason,
        )
    now = timezone.now()
    for m in to_refund:
        before = m.status
        m.refund()
        m.refunded_at = now
        m.save()
        _event(
            "milestone.refunded",
            by=by,
            escrow=escrow,
            milestone=m,
            from_status=before,
            to_status=m.status,
            details={"amount": m.amount, "reason": reason},
        )
    return amount


@transaction.atomic(durable=True)
def escrow_refund(*, escrow: Escrow, by: Any) -> Escrow:
    """The seller gives back everything not yet released; the escrow closes as REFUNDED."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can refund an escrow")
    if escrow.status != EscrowStatus.OPENED:
        raise InvalidState("Only a funded, undisputed escrow can be refunded")
    milestones = _milestones(escrow)
    amount = _refund_rest(escrow, milestones, by=by, reason="seller refund")
    before = escrow.status
    escrow.refund()
    escrow.closed_at = timezone.now()
    escrow.save()
    _event(
        "escrow.refunded",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
        details={"amount": amount},
    )
    _supersede_stale(escrow, milestones, by=by)
    return escrow


# -- settlements (payouts through the off-ramp) ---------------------------------------------


def _settlement_schedule(
    *,
    customer: Any,
    amount: int,
    currency: str,
    method: str,
    destination: str,
    escrow: Escrow | None,
    milestone: Milestone | None,
    by: Any,
) -> Settlement:
    """Reserve the amount (main balance -> payouts in flight) and enqueue the payout on commit."""
    main = ledger.customer_account(customer, currency)
    ledger.require_funds(main, amount)
    settlement = Settlement.objects.create(
        customer=customer,
        amount=amount,
        currency=currency,
        method=method,
        destination=destination,
        escrow=escrow,
        milestone=milestone,
        next_attempt_at=timezone.now(),
    )
    ledger.post(
        TransactionKind.PAYOUT_RESERVE,
        currency,
        [(main, -amount), (ledger.clearing_account(customer, currency), amount)],
        escrow=escrow,
        settlement=settlement,
    )
    _event(
        "settlement.scheduled",
        by=by,
        customer=customer,
        escrow=escrow,
        settlement=settlement,
        to_status=settlement.status,
        details={"amount": amount, "currency": currency, "destination": destination},
    )
    # robust: a broker outage after the commit must not turn a done release into an error page;
    # the process_due sweep enqueues what was missed.
    transaction.on_commit(lambda: _enqueue_settlement(settlement.pk), robust=True)
    return settlement


def _enqueue_settlement(settlement_pk: int) -> None:
    from .tasks import settlement_process_task

    # Not sent: the settlement stays SCHEDULED and due, and the process_due sweep sends it.
    broker.publish(settlement_process_task, (settlement_pk,))


@transaction.atomic(durable=True)
def wallet_withdraw(*, customer: Any, amount: int, currency: str, destination: str) -> Settlement:
    """The customer asks for part of their balance to be paid out to a destination."""
    currency = normalize_currency(currency)
    check_minor(amount, currency)
    destination = (destination or "").strip()
    if not destination or len(destination) > 200:
        raise InvalidRequest("destination is required (at most 200 characters)", field="destination")
    return _settlement_schedule(
        customer=customer,
        amount=amount,
        currency=currency,
        method=SettlementMethod.OFF_RAMP_MOCK,
        destination=destination,
        escrow=None,
        milestone=None,
        by=customer,
    )


# Read once for callers that only need the default; the services read settings at call time.
SETTLEMENT_MAX_ATTEMPTS = settings.ESCROW_SETTLEMENT_MAX_ATTEMPTS


def settlement_max_attempts() -> int:
    return settings.ESCROW_SETTLEMENT_MAX_ATTEMPTS


def settlement_backoff(attempts: int) -> timedelta:
    """Exponential: base, 2x base, 4x base ... after attempts 1, 2, 3 ..., capped."""
    seconds = settings.ESCROW_SETTLEMENT_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.ESCROW_SETTLEMENT_BACKOFF_MAX_SECONDS))


@dataclass(frozen=True)
class SettlementOutcome:
    status: str
    retry_in: timedelta | None = None


def settlement_process(*, settlement_id: int) -> SettlementOutcome:
    """Pay a settlement out. Safe to run twice or to die halfway: the off-ramp is called with
    the settlement's id as its idempotency key, so a repeat returns the same payout."""
    with transaction.atomic(durable=True):
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        if settlement.status in (SettlementStatus.PAID, SettlementStatus.FAILED):
            return SettlementOutcome(settlement.status)
        now = timezone.now()
        if settlement.status == SettlementStatus.PROCESSING and (
            settlement.next_attempt_at is not None and settlement.next_attempt_at > now
        ):
            # Another run holds the lease (a duplicate or redelivered task): leave it to that run;
            # if that run died, the process_due sweep picks the settlement up when the lease ends.
            return SettlementOutcome(settlement.status)
        settlement.start()
        settlement.attempts += 1
        # A lease: if this process dies mid-payout, the timer picks the settlement up again.
        settlement.next_attempt_at = now + timedelta(seconds=settings.ESCROW_SETTLEMENT_LEASE_SECONDS)
        settlement.save()
    # The outside call runs outside any transaction: no row lock is held while we wait on it.
    try:
        result = off_ramp().payout(
            idempotency_key=settlement.public_id,
            amount=settlement.amount,
            currency=settlement.currency,
            destination=settlement.destination,
        )
    except Exception as exc:  # a network error is one more failed attempt, not a stuck payout
        result = PayoutResult(ok=False, error=f"{type(exc).__name__}: {exc}", retryable=True)
    with transaction.atomic(durable=True):
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        if settlement.status != SettlementStatus.PROCESSING:
            return SettlementOutcome(settlement.status)
        if result.ok:
            settlement.mark_paid()
            settlement.provider_reference = result.reference
            settlement.paid_at = timezone.now()
            settlement.last_error = ""
            settlement.save()
            ledger.post(
                TransactionKind.PAYOUT_PAID,
                settlement.currency,
                [
                    (ledger.clearing_account(settlement.customer, settlement.currency), -settlement.amount),
                    (
                        ledger.platform_account(AccountKind.EXTERNAL_PAYOUTS, settlement.currency),
                        settlement.amount,
                    ),
                ],
                escrow=settlement.escrow,
                settlement=settlement,
            )
            _event(
                "settlement.paid",
                by=None,
                customer=settlement.customer,
                escrow=settlement.escrow,
                settlement=settlement,
                from_status=SettlementStatus.PROCESSING,
                to_status=settlement.status,
                details={"reference": result.reference},
            )
            return SettlementOutcome(settlement.status)
        settlement.last_error = result.error[:2000]
        if result.retryable and settlement.attempts < settlement_max_attempts():
            delay = settlement_backoff(settlement.attempts)
            settlement.reschedule()
            settlement.next_attempt_at = timezone.now() + delay
            settlement.save()
            return SettlementOutcome(settlement.status, retry_in=delay)
        _settlement_fail(settlement)
        return SettlementOutcome(settlement.status)


def _settlement_fail(settlement: Settlement) -> None:
    """Give the reserved money back to the customer's balance."""
    before = settlement.status
    settlement.fail()
    settlement.next_attempt_at = None
    settlement.save()
    ledger.post(
        TransactionKind.PAYOUT_RETURN,
        settlement.currency,
        [
            (ledger.clearing_account(settlement.customer, settlement.currency), -settlement.amount),
            (ledger.customer_account(settlement.customer, settlement.currency), settlement.amount),
        ],
        escrow=settlement.escrow,
        settlement=settlement,
    )
    _event(
        "settlement.failed",
        by=None,
        customer=settlement.customer,
        escrow=settlement.escrow,
        settlement=settlement,
        from_status=before,
        to_status=settlement.status,
        details={"error": settlement.last_error},
    )


@transaction.atomic(durable=True)
def settlement_retry(*, settlement: Settlement, by: Any) -> Settlement:
    """Staff (or the owner) retries a FAILED settlement: reserve again and enqueue."""
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if not getattr(by, "is_staff", False) and by.pk != settlement.customer_id:
        raise NotFound("Settlement not found")
    if settlement.status != SettlementStatus.FAILED:
        raise InvalidState("Only a failed settlement can be retried")
    main = ledger.customer_account(settlement.customer, settlement.currency)
    ledger.require_funds(main, settlement.amount)
    ledger.post(
        TransactionKind.PAYOUT_RESERVE,
        settlement.currency,
        [
            (main, -settlement.amount),
            (ledger.clearing_account(settlement.customer, settlement.currency), settlement.amount),
        ],
        escrow=settlement.escrow,
        settlement=settlement,
    )
    settlement.retry()
    settlement.attempts = 0
    settlement.next_attempt_at = timezone.now()
    settlement.save()
    _event(
        "settlement.retried",
        by=by,
        customer=settlement.customer,
        settlement=settlement,
        from_status=SettlementStatus.FAILED,
        to_status=settlement.status,
    )
    transaction.on_commit(lambda: _enqueue_settlement(settlement.pk), robust=True)
    return settlement


@transaction.atomic(durable=True)
def settlement_give_up_stuck(*, settlement: Settlement) -> Settlement | None:
    """Timer: a settlement whose retries are exhausted but was left SCHEDULED is failed."""
    settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
    if settlement.status != SettlementStatus.SCHEDULED or settlement.attempts < settlement_max_attempts():
        return None
    _settlement_fail(settlement)
    return settlement


# -- disputes and evidence (issue 7) -------------------------------------------------------
#
# A dispute is about one milestone of a milestone escrow (only that milestone is frozen; the
# escrow stays OPENED and the others can still be released) or about the whole of a STANDARD
# escrow (the escrow goes DISPUTED). The other party answers (accepting settles at once in the
# opener's favour); the opener may withdraw; staff resolve it as release, refund or split; past
# its deadline the default outcome chosen when it was opened applies.

EVIDENCE_CONTENT_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/zip": ".zip",
}
DISPUTE_TEXT_MAX = 5000


@dataclass(frozen=True)
class EvidenceInput:
    text: str = ""
    url: str = ""
    file: Any = None  # an UploadedFile (name, size, content_type, chunks())

    @property
    def empty(self) -> bool:
        return not (self.text.strip() or self.url.strip() or self.file is not None)


def _split_amounts(outcome: str, amount: int, seller_amount: Any, buyer_amount: Any) -> tuple[int, int]:
    """(seller part, buyer part) of a disputed amount for an outcome; a split's parts must be
    whole minor units, neither negative, summing to the disputed amount."""
    if outcome == DisputeOutcome.RELEASE:
        return amount, 0
    if outcome == DisputeOutcome.REFUND:
        return 0, amount
    if outcome != DisputeOutcome.SPLIT:
        raise InvalidRequest(f"outcome must be one of: {', '.join(DisputeOutcome.values)}", field="outcome")
    if seller_amount is None and buyer_amount is None:
        seller = amount // 2
        return seller, amount - seller
    for name, value in (("sellerAmount", seller_amount), ("buyerAmount", buyer_amount)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"A split needs {name} in minor units", field=name)
        if value < 0:
            raise InvalidRequest(f"{name} cannot be negative", field=name)
    if seller_amount + buyer_amount != amount:
        raise InvalidRequest(
            f"The split must add up to the disputed amount ({amount} minor units); "
            f"it adds up to {seller_amount + buyer_amount}",
            field="sellerAmount",
            code="split_mismatch",
        )
    return seller_amount, buyer_amount


def _clean_evidence(evidence: EvidenceInput) -> EvidenceInput:
    text = (evidence.text or "").strip()
    url = (evidence.url or "").strip()
    if len(text) > DISPUTE_TEXT_MAX:
        raise InvalidRequest(f"Evidence text must be at most {DISPUTE_TEXT_MAX} characters", field="text")
    if "\x00" in text:
        raise InvalidRequest("Evidence text contains characters that cannot be stored", field="text")
    if url:
        try:
            if len(url) > 2000:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise InvalidRequest(
                "url must be an http(s) address of at most 2000 characters", field="url"
            ) from None
    upload = evidence.file
    if upload is not None:
        size = getattr(upload, "size", None)
        if not size:
            raise InvalidRequest("The evidence file is empty", field="file")
        if size > settings.ESCROW_EVIDENCE_MAX_BYTES:
            raise InvalidRequest(
                f"The evidence file is larger than {settings.ESCROW_EVIDENCE_MAX_BYTES // (1024 * 1024)} MB",
                field="file",
                code="file_too_large",
            )
        content_type = (getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
        if content_type not in EVIDENCE_CONTENT_TYPES:
            raise InvalidRequest(
                "The evidence file must be a PDF, an image (PNG, JPEG, GIF, WebP), text, CSV or ZIP",
                field="file",
                code="unsupported_file_type",
            )
    return EvidenceInput(text=text, url=url, file=upload)


def _store_evidence(dispute: Dispute, *, by: Any, role: str, evidence: EvidenceInput) -> DisputeEvidence:
    row = DisputeEvidence(
        dispute=dispute, submitted_by=by, submitter_role=role, text=evidence.text, url=evidence.url
    )
    upload = evidence.file
    if upload is not None:
        digest = hashlib.sha256()
        size = 0
        if hasattr(upload, "seek"):
            upload.seek(0)
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
        if size > settings.ESCROW_EVIDENCE_MAX_BYTES:  # the declared size may lie
            raise InvalidRequest("The evidence file is too large", field="file", code="file_too_large")
        content_type = upload.content_type.split(";")[0].strip().lower()
        row.file_sha256 = digest.hexdigest()
        row.file_size = size
        row.content_type = content_type
        row.file_name = os.path.basename(upload.name or "evidence")[:200] or "evidence"
        if hasattr(upload, "seek"):
            upload.seek(0)
        # Stored under a name of our choosing: the submitted name is kept only as a label.
        row.file.save(f"{row.public_id}{EVIDENCE_CONTENT_TYPES[content_type]}", upload, save=False)
    row.save()
    return row


def _lock_dispute(dispute: Dispute, by: Any, *, staff_ok: bool = False) -> tuple[Escrow, Dispute, str | None]:
    """Lock the dispute's escrow (the one lock every change to it takes), then re-read the
    dispute. A stranger gets NotFound; staff pass with role None when `staff_ok`."""
    escrow = _lock_escrow(dispute.escrow)
    role = escrow.party_role(by)
    if role is None and not (staff_ok and getattr(by, "is_staff", False)):
        raise NotFound("Escrow not found")
    dispute = Dispute.objects.select_related("milestone", "opened_by").get(pk=dispute.pk)
    return escrow, dispute, role


def _buyer_refund_account(escrow: Escrow) -> Any:
    """Where money given back to the buyer goes: their main balance (wallet) or back outside (card)."""
    payment = escrow.payment
    if payment.source == FundingSource.WALLET:
        return ledger.customer_account(payment.payer, escrow.currency)
    return ledger.platform_account(AccountKind.EXTERNAL_REFUNDS, escrow.currency)


@transaction.atomic(durable=True)
def dispute_open(
    *,
    escrow: Escrow,
    by: Any,
    reason: str,
    milestone: Milestone | None = None,
    evidence: EvidenceInput | None = None,
    default_outcome: str | None = None,
    default_seller_amount: int | None = None,
    default_buyer_amount: int | None = None,
) -> Dispute:
    """The buyer or the seller disputes one milestone (milestone escrow) or the whole escrow
    (standard escrow). Only the disputed amount is frozen."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("A dispute needs a reason", field="reason")
    if len(reason) > DISPUTE_TEXT_MAX or "\x00" in reason:
        raise InvalidRequest(f"reason must be at most {DISPUTE_TEXT_MAX} characters", field="reason")
    evidence = _clean_evidence(evidence) if evidence is not None and not evidence.empty else None
    milestones = _milestones(escrow)
    if escrow.is_milestone:
        if milestone is None:
            raise InvalidRequest(
                "A milestone escrow is disputed one milestone at a time: name the milestone",
                field="milestoneId",
            )
        milestone = _get_milestone(escrow, milestone, milestones)
        if escrow.status != EscrowStatus.OPENED:
            _check_actionable(escrow, allow_unfunded=False)
        if milestone.status == MilestoneStatus.DISPUTED:
            raise InvalidState("This milestone is already disputed", code="already_disputed")
        if milestone.is_settled:
            raise InvalidState(
                f"This milestone is already {milestone.get_status_display().lower()}",
                code="milestone_settled",
            )
        amount = milestone.amount
    else:
        if milestone is not None:
            raise InvalidRequest("A standard escrow has no milestones to dispute", field="milestoneId")
        if escrow.status == EscrowStatus.DISPUTED:
            raise InvalidState("This escrow is already disputed", code="already_disputed")
        if escrow.status != EscrowStatus.OPENED:
            _check_actionable(escrow, allow_unfunded=False)
        amount = escrow.amount
    outcome = default_outcome or settings.ESCROW_DISPUTE_DEFAULT_OUTCOME
    seller_part, buyer_part = _split_amounts(outcome, amount, default_seller_amount, default_buyer_amount)
    now = timezone.now()
    dispute = Dispute.objects.create(
        escrow=escrow,
        milestone=milestone,
        opened_by=by,
        opener_role=role,
        reason=reason,
        amount=amount,
        deadline=now + settings.ESCROW_DISPUTE_RESOLUTION_PERIOD,
        default_outcome=outcome,
        default_seller_amount=seller_part,
        default_buyer_amount=buyer_part,
    )
    if milestone is not None:
        before = milestone.status
        milestone.dispute()
        milestone.save(update_fields=["status"])
        _event(
            "milestone.disputed",
            by=by,
            escrow=escrow,
            milestone=milestone,
            from_status=before,
            to_status=milestone.status,
            details={
                "dispute": dispute.public_id,
                "index": milestone.index,
                "amount": amount,
                "reason": reason[:2000],
            },
        )
    else:
        before = escrow.status
        escrow.open_dispute()
        escrow.save()
        _event(
            "escrow.disputed",
            by=by,
            escrow=escrow,
            from_status=before,
            to_status=escrow.status,
            details={"dispute": dispute.public_id, "reason": reason[:2000]},
        )
    _event(
        "dispute.opened",
        by=by,
        escrow=escrow,
        milestone=milestone,
        to_status=dispute.status,
        details={
            "dispute": dispute.public_id,
            "milestone": milestone.public_id if milestone else None,
            "openedBy": role,
            "amount": amount,
            "deadline": dispute.deadline.isoformat(),
            "defaultOutcome": outcome,
            "defaultSellerAmount": seller_part,
            "defaultBuyerAmount": buyer_part,
        },
    )
    if evidence is not None:
        _evidence_added(escrow, dispute, by=by, role=role, evidence=evidence)
    return dispute


def _evidence_added(
    escrow: Escrow, dispute: Dispute, *, by: Any, role: str, evidence: EvidenceInput
) -> DisputeEvidence:
    if dispute.evidence.count() >= settings.ESCROW_EVIDENCE_MAX_ITEMS:
        raise InvalidRequest(
            f"A dispute takes at most {settings.ESCROW_EVIDENCE_MAX_ITEMS} pieces of evidence"
        )
    row = _store_evidence(dispute, by=by, role=role, evidence=evidence)
    _event(
        "dispute.evidence_added",
        by=by,
        escrow=escrow,
        milestone=dispute.milestone,
        details={
            "dispute": dispute.public_id,
            "evidence": row.public_id,
            "submittedBy": role,
            "hasText": bool(row.text),
            "url": row.url,
            "fileSha256": row.file_sha256 or None,
            "fileSize": row.file_size,
        },
    )
    return row


@transaction.atomic(durable=True)
def dispute_add_evidence(*, dispute: Dispute, by: Any, evidence: EvidenceInput) -> DisputeEvidence:
    """Either party adds text, a link and/or a file while the dispute is unresolved."""
    escrow, dispute, role = _lock_dispute(dispute, by)
    if evidence.empty:
        raise InvalidRequest("Evidence needs text, a url or a file", field="text")
    evidence = _clean_evidence(evidence)
    if not dispute.is_active:
        raise InvalidState(f"This dispute is {dispute.get_status_display().lower()}", code="dispute_closed")
    return _evidence_added(escrow, dispute, by=by, role=role, evidence=evidence)


@transaction.atomic(durable=True)
def dispute_answer(*, dispute: Dispute, by: Any, answer: str, text: str = "") -> Dispute:
    """The other party answers. Accepting the claim settles the dispute at once in the
    opener's favour (a buyer's dispute is refunded, a seller's is released); contesting leaves
    it to an arbiter or the deadline."""
    escrow, dispute, role = _lock_dispute(dispute, by)
    if answer not in DisputeAnswer.values:
        raise InvalidRequest(f"answer must be one of: {', '.join(DisputeAnswer.values)}", field="answer")
    text = (text or "").strip()
    if len(text) > DISPUTE_TEXT_MAX or "\x00" in text:
        raise InvalidRequest(f"text must be at most {DISPUTE_TEXT_MAX} characters", field="text")
    if role == dispute.opener_role:
        raise Forbidden(f"Only the {dispute.other_role} can answer this dispute")
    if dispute.status != DisputeStatus.OPEN:
        raise InvalidState(
            f"This dispute is already {dispute.get_status_display().lower()}", code="dispute_not_open"
        )
    dispute.answer_choice = answer
    dispute.answer_text = text
    dispute.answered_by = by
    dispute.answered_at = timezone.now()
    before = dispute.status
    if answer == DisputeAnswer.CONTEST:
        dispute.answer()
    dispute.save()
    _event(
        "dispute.answered",
        by=by,
        escrow=escrow,
        milestone=dispute.milestone,
        from_status=before,
        to_status=dispute.status,
        details={"dispute": dispute.public_id, "answer": answer, "answeredBy": role, "reason": text[:2000]},
    )
    if answer == DisputeAnswer.ACCEPT:
        outcome = DisputeOutcome.REFUND if dispute.opener_role == "buyer" else DisputeOutcome.RELEASE
        seller_part, buyer_part = _split_amounts(outcome, dispute.amount, None, None)
        _dispute_settle(
            escrow,
            dispute,
            outcome=outcome,
            seller_amount=seller_part,
            buyer_amount=buyer_part,
            by=by,
            note=f"The {role} accepted the claim",
        )
    return dispute


@transaction.atomic(durable=True)
def dispute_withdraw(*, dispute: Dispute, by: Any) -> Dispute:
    """The opener drops the dispute: the milestone goes back to where it was (delivered or not),
    a standard escrow resumes."""
    escrow, dispute, role = _lock_dispute(dispute, by)
    if role != dispute.opener_role:
        raise Forbidden("Only the party who opened this dispute can withdraw it")
    if not dispute.is_active:
        raise InvalidState(
            f"This dispute is already {dispute.get_status_display().lower()}", code="dispute_closed"
        )
    before = dispute.status
    dispute.withdraw()
    dispute.withdrawn_at = timezone.now()
    dispute.save()
    milestone = dispute.milestone
    if milestone is not None:
        milestone = _get_milestone(escrow, milestone, _milestones(escrow))
        m_before = milestone.status
        if milestone.completed_at is not None:
            milestone.undispute_delivered()
            # Its old review deadline may have lapsed while it was frozen: the buyer gets a
            # fresh review period from now, or the next timer run would release it at once.
            _review_clock_start(escrow, milestone, timezone.now())
            milestone.save(
                update_fields=["status", "review_deadline", "review_extended_at", "reminder_sent_at"]
            )
        else:
            milestone.undispute_pending()
            milestone.save(update_fields=["status"])
        _event(
            "milestone.undisputed",
            by=by,
            escrow=escrow,
            milestone=milestone,
            from_status=m_before,
            to_status=milestone.status,
            details={"dispute": dispute.public_id, "index": milestone.index},
        )
    else:
        e_before = escrow.status
        escrow.resume()
        escrow.save()
        _event("escrow.resumed", by=by, escrow=escrow, from_status=e_before, to_status=escrow.status)
    _event(
        "dispute.withdrawn",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=before,
        to_status=dispute.status,
        details={"dispute": dispute.public_id, "withdrawnBy": role},
    )
    return dispute


@transaction.atomic(durable=True)
def dispute_resolve(
    *,
    dispute: Dispute,
    by: Any,
    outcome: str,
    seller_amount: int | None = None,
    buyer_amount: int | None = None,
    note: str = "",
) -> Dispute:
    """Staff decide: release to the seller, refund to the buyer, or split (the two parts sum to
    the disputed amount). One ledger posting moves the frozen amount out of the hold."""
    # Whoever may not see the escrow learns nothing (NotFound); a party learns only that
    # resolving is for administrators.
    escrow, dispute, _ = _lock_dispute(dispute, by, staff_ok=True)
    if not getattr(by, "is_staff", False):
        raise Forbidden("Only an administrator can resolve a dispute")
    note = (note or "").strip()[:DISPUTE_TEXT_MAX]
    if not dispute.is_active:
        raise InvalidState(
            f"This dispute is already {dispute.get_status_display().lower()}", code="dispute_closed"
        )
    if outcome == DisputeOutcome.SPLIT and (seller_amount is None or buyer_amount is None):
        raise InvalidRequest("A split needs both sellerAmount and buyerAmount", field="sellerAmount")
    seller_part, buyer_part = _split_amounts(outcome, dispute.amount, seller_amount, buyer_amount)
    _dispute_settle(
        escrow, dispute, outcome=outcome, seller_amount=seller_part, buyer_amount=buyer_part, by=by, note=note
    )
    return dispute


def dispute_resolution_amounts(
    dispute: Dispute, *, outcome: str, seller_amount: int | None, buyer_amount: int | None
) -> tuple[int, int]:
    """(seller part, buyer part) a resolution would move; raises what dispute_resolve would.
    Writes nothing: the staff page shows it before asking to confirm."""
    if outcome not in DisputeOutcome.values:
        raise InvalidRequest(f"outcome must be one of: {', '.join(DisputeOutcome.values)}", field="outcome")
    if outcome == DisputeOutcome.SPLIT and (seller_amount is None or buyer_amount is None):
        raise InvalidRequest("A split needs both sellerAmount and buyerAmount", field="sellerAmount")
    return _split_amounts(outcome, dispute.amount, seller_amount, buyer_amount)


@transaction.atomic(durable=True)
def dispute_apply_default(*, dispute: Dispute) -> Dispute | None:
    """Timer: a dispute still unresolved past its deadline gets the default outcome chosen when
    it was opened. Returns None when it no longer qualifies."""
    escrow = _lock_escrow(dispute.escrow)
    dispute = Dispute.objects.select_related("milestone").get(pk=dispute.pk)
    if not dispute.is_active or dispute.deadline > timezone.now():
        return None
    _dispute_settle(
        escrow,
        dispute,
        outcome=dispute.default_outcome,
        seller_amount=dispute.default_seller_amount,
        buyer_amount=dispute.default_buyer_amount,
        by=None,
        note="Resolution deadline passed: the default outcome applied",
    )
    return dispute


def _dispute_settle(
    escrow: Escrow,
    dispute: Dispute,
    *,
    outcome: str,
    seller_amount: int,
    buyer_amount: int,
    by: Any,
    note: str,
) -> None:
    """Move the disputed amount out of the hold in one posting (payee and/or buyer), settle the
    milestone (or close the standard escrow), record the resolution, schedule the payout."""
    assert seller_amount + buyer_amount == dispute.amount and seller_amount >= 0 and buyer_amount >= 0
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, dispute.milestone, milestones) if dispute.milestone_id else None
    if milestone is not None and milestone.status != MilestoneStatus.DISPUTED:
        raise InvalidState("The disputed milestone is no longer frozen", code="dispute_closed")
    if milestone is None and escrow.status != EscrowStatus.DISPUTED:
        raise InvalidState("This escrow is no longer disputed", code="dispute_closed")
    payee = (milestone.payee if milestone is not None else None) or escrow.seller
    hold = ledger.hold_account(escrow)
    entries: list[tuple[Any, int]] = []
    if seller_amount:
        entries += [(hold, -seller_amount), (ledger.customer_account(payee, escrow.currency), seller_amount)]
    if buyer_amount:
        entries += [(hold, -buyer_amount), (_buyer_refund_account(escrow), buyer_amount)]
    kind = (
        TransactionKind.RELEASE
        if not buyer_amount
        else TransactionKind.REFUND
        if not seller_amount
        else TransactionKind.SPLIT
    )
    ledger.post(
        kind,
        escrow.currency,
        entries,
        escrow=escrow,
        milestone=milestone,
        memo=f"dispute {dispute.public_id}",
    )
    now = timezone.now()
    actor_kind = ActorKind.SYSTEM if by is None else None
    if milestone is not None:
        before = milestone.status
        if kind == TransactionKind.RELEASE:
            milestone.release()
            milestone.released_at = now
        elif kind == TransactionKind.REFUND:
            milestone.refund()
            milestone.refunded_at = now
        else:
            milestone.split()
            milestone.released_at = now
            milestone.refunded_at = now
        milestone.save(update_fields=["status", "released_at", "refunded_at"])
        _event(
            f"milestone.{milestone.status.lower()}",
            by=by,
            escrow=escrow,
            milestone=milestone,
            from_status=before,
            to_status=milestone.status,
            details={
                "index": milestone.index,
                "amount": milestone.amount,
                "sellerAmount": seller_amount,
                "buyerAmount": buyer_amount,
                "payee": payee.customer_id,
                "reason": f"dispute resolved: {outcome}",
            },
            actor_kind=actor_kind,
        )
    before_dispute = dispute.status
    dispute.resolve()
    dispute.outcome = outcome
    dispute.seller_amount = seller_amount
    dispute.buyer_amount = buyer_amount
    dispute.resolved_by = by
    dispute.resolution_note = note
    dispute.resolved_at = now
    dispute.save()
    _event(
        "dispute.resolved",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=before_dispute,
        to_status=dispute.status,
        details={
            "dispute": dispute.public_id,
            "outcome": outcome,
            "sellerAmount": seller_amount,
            "buyerAmount": buyer_amount,
            "note": note[:2000],
        },
        actor_kind=actor_kind,
    )
    if seller_amount and escrow.settlement_method and payee.pk == escrow.seller_id:
        _settlement_schedule(
            customer=payee,
            amount=seller_amount,
            currency=escrow.currency,
            method=escrow.settlement_method,
            destination=escrow.settlement_destination,
            escrow=escrow,
            milestone=milestone,
            by=by,
        )
    if milestone is not None:
        if all(m.is_settled for m in milestones):
            _close_after_last(escrow, milestones, by=by)
        return
    before = escrow.status
    if seller_amount:
        escrow.resolve_complete()
    else:
        escrow.resolve_refund()
    escrow.closed_at = now
    escrow.save()
    _event(
        f"escrow.{escrow.status.lower()}",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
        details={"sellerAmount": seller_amount, "buyerAmount": buyer_amount},
        actor_kind=actor_kind,
    )


def disputes_due(now: datetime | None = None) -> Any:
    """Disputes past their deadline and still unresolved (for the timer)."""
    return Dispute.objects.filter(status__in=ACTIVE_DISPUTE_STATUSES, deadline__lte=now or timezone.now())


# -- refunds and mutual cancellation ---------------------------------------------------------
# The seller refunds chosen milestones at any time; the buyer asks for a refund the seller
# accepts or declines; either party proposes to cancel a funded escrow and split what is held,
# and only the other party can accept. Every movement is one posting out of the hold.

REASON_MAX = 2000


def _refund_target(escrow: Escrow) -> Any:
    """Where a refund to the buyer goes: back to the wallet it was paid from, or out to the
    card (the same rule as _refund_rest)."""
    payment = escrow.payment
    if payment.source == FundingSource.WALLET:
        return ledger.customer_account(payment.payer, escrow.currency)
    return ledger.platform_account(AccountKind.EXTERNAL_REFUNDS, escrow.currency)


def _held_amount(escrow: Escrow, milestones: list[Milestone]) -> int:
    """What the hold account holds for an open escrow (the ledger invariant says so)."""
    if escrow.is_milestone:
        return sum(m.amount for m in milestones if not m.is_settled)
    return escrow.amount


def _choose_milestones(milestones: list[Milestone], chosen: Sequence[Any], *, field: str) -> list[Milestone]:
    """Resolve milestones given as Milestone objects or public ids against the locked set."""
    by_public_id = {m.public_id: m for m in milestones}
    by_pk = {m.pk: m for m in milestones}
    picked: dict[int, Milestone] = {}
    for item in chosen:
        found = by_pk.get(item.pk) if isinstance(item, Milestone) else by_public_id.get(str(item))
        if found is None:
            name = item.public_id if isinstance(item, Milestone) else str(item)[:60]
            raise InvalidRequest(f"No milestone {name} in this escrow", code="milestone_unknown", field=field)
        picked[found.pk] = found
    return sorted(picked.values(), key=lambda m: m.index)


def _refuse_settled(milestone: Milestone) -> None:
    if milestone.is_settled:
        raise InvalidState(
            f"Milestone {milestone.index} is already {milestone.get_status_display().lower()}",
            code="milestone_settled",
        )


def _refund_milestones(
    escrow: Escrow, milestones: list[Milestone], chosen: list[Milestone], *, by: Any, reason: str
) -> int:
    """One posting hold -> buyer for the chosen (unsettled, undisputed) milestones; each goes
    REFUNDED; the escrow closes when nothing is left. Returns the amount."""
    amount = sum(m.amount for m in chosen)
    ledger.post(
        TransactionKind.REFUND,
        escrow.currency,
        [(ledger.hold_account(escrow), -amount), (_refund_target(escrow), amount)],
        escrow=escrow,
        milestone=chosen[0] if len(chosen) == 1 else None,
        memo=(reason or "seller refund")[:200],
    )
    now = timezone.now()
    for m in chosen:
        before = m.status
        m.refund()
        m.refunded_at = now
        m.save(update_fields=["status", "refunded_at"])
        _event(
            "milestone.refunded",
            by=by,
            escrow=escrow,
            milestone=m,
            from_status=before,
            to_status=m.status,
            details={"index": m.index, "amount": m.amount, "reason": reason},
        )
    if all(m.is_settled for m in milestones):
        _close_after_last(escrow, milestones, by=by)
    return amount


def _refund_request_stale(escrow: Escrow, milestones: list[Milestone], request: RefundRequest) -> str:
    """Why an open refund request can no longer be carried out as asked ("" while it can)."""
    if escrow.status != EscrowStatus.OPENED:
        return f"the escrow is now {escrow.get_status_display().lower()}"
    wanted = set(request.milestone_ids)
    for m in milestones:
        if m.public_id in wanted and m.is_settled:
            return f"milestone {m.index} has since been {m.get_status_display().lower()}"
    return ""


def _supersede_stale(escrow: Escrow, milestones: list[Milestone], *, by: Any) -> None:
    """After money moved, an open request or proposal that no longer matches is superseded."""
    for request in RefundRequest.objects.select_for_update().filter(
        escrow=escrow, status=RefundRequestStatus.REQUESTED
    ):
        why = _refund_request_stale(escrow, milestones, request)
        if why:
            request.supersede()
            request.decided_at = timezone.now()
            request.save(update_fields=["status", "decided_at"])
            _event(
                "refund.superseded",
                by=by,
                escrow=escrow,
                details={"refundRequest": request.public_id, "reason": why},
            )
    held = _held_amount(escrow, milestones) if not escrow.is_closed else 0
    for proposal in CancellationProposal.objects.select_for_update().filter(
        escrow=escrow, status=CancellationStatus.PROPOSED
    ):
        if escrow.is_closed or proposal.total != held:
            proposal.supersede()
            proposal.decided_at = timezone.now()
            proposal.save(update_fields=["status", "decided_at"])
            _event(
                "cancellation.superseded",
                by=by,
                escrow=escrow,
                details={"proposal": proposal.public_id, "held": held},
            )


@transaction.atomic(durable=True)
def escrow_refund_milestones(*, escrow: Escrow, by: Any, milestones: Sequence[Any], reason: str = "") -> int:
    """The seller gives back any set of unsettled milestones (in any order), in one posting.
    The escrow stays open while something is left; the last one closes it. Returns the amount."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can refund milestones")
    if not escrow.is_milestone:
        raise InvalidRequest("A standard escrow is refunded whole", code="not_milestone_escrow")
    _check_actionable(escrow, allow_unfunded=False)
    reason = (reason or "").strip()[:REASON_MAX]
    all_milestones = _milestones(escrow)
    if not milestones:
        raise InvalidRequest("Choose at least one milestone to refund", field="milestoneIds")
    chosen = _choose_milestones(all_milestones, milestones, field="milestoneIds")
    for m in chosen:
        _refuse_settled(m)
        _refuse_if_disputed(m)
    amount = _refund_milestones(escrow, all_milestones, chosen, by=by, reason=reason or "seller refund")
    _supersede_stale(escrow, all_milestones, by=by)
    return amount


def milestone_refund(*, milestone: Milestone, by: Any, reason: str = "") -> int:
    """The seller refunds one milestone."""
    return escrow_refund_milestones(escrow=milestone.escrow, by=by, milestones=[milestone], reason=reason)


# -- the buyer's refund request ---------------------------------------------------------------


def _lock_refund_request(escrow: Escrow, request: RefundRequest) -> RefundRequest:
    try:
        return RefundRequest.objects.select_for_update().get(pk=request.pk, escrow=escrow)
    except RefundRequest.DoesNotExist:
        raise NotFound("Refund request not found") from None


def _refuse_closed_request(request: RefundRequest) -> None:
    if not request.is_open:
        raise InvalidState(
            f"This refund request was already {request.get_status_display().lower()}",
            code="refund_request_closed",
        )


@transaction.atomic(durable=True)
def refund_request_create(
    *, escrow: Escrow, by: Any, reason: str, milestones: Sequence[Any] | None = None
) -> RefundRequest:
    """The buyer asks for a refund of some unsettled milestones (default: all that can be
    refunded; a standard escrow: all of it). One open request per escrow."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "buyer":
        raise Forbidden("Only the buyer can request a refund")
    _check_actionable(escrow, allow_unfunded=False)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Say why you are asking for a refund", field="reason")
    all_milestones = _milestones(escrow)
    if escrow.is_milestone:
        if milestones:
            chosen = _choose_milestones(all_milestones, milestones, field="milestoneIds")
            for m in chosen:
                _refuse_settled(m)
                _refuse_if_disputed(m)
        else:
            chosen = [m for m in all_milestones if not m.is_settled and m.status != MilestoneStatus.DISPUTED]
            if not chosen:
                raise InvalidState("Nothing is left that could be refunded", code="nothing_to_refund")
        amount = sum(m.amount for m in chosen)
    else:
        if milestones:
            raise InvalidRequest("A standard escrow has no milestones", field="milestoneIds")
        chosen, amount = [], escrow.amount
    for open_request in RefundRequest.objects.select_for_update().filter(
        escrow=escrow, status=RefundRequestStatus.REQUESTED
    ):
        if not _refund_request_stale(escrow, all_milestones, open_request):
            raise Conflict(
                "There is already an open refund request on this escrow; withdraw it first",
                code="refund_request_open",
            )
    _supersede_stale(escrow, all_milestones, by=by)
    request = RefundRequest.objects.create(
        escrow=escrow,
        requested_by=by,
        milestone_ids=[m.public_id for m in chosen],
        amount=amount,
        reason=reason[:REASON_MAX],
    )
    _event(
        "refund.requested",
        by=by,
        escrow=escrow,
        details={
            "refundRequest": request.public_id,
            "amount": amount,
            "milestones": request.milestone_ids,
            "reason": request.reason,
        },
    )
    return request


@transaction.atomic(durable=True)
def refund_request_accept(*, refund_request: RefundRequest, by: Any) -> RefundRequest:
    """The seller accepts: the refund happens in this same transaction."""
    escrow = _lock_escrow(refund_request.escrow)
    role = _require_party(escrow, by)
    request = _lock_refund_request(escrow, refund_request)
    if role != "seller":
        raise Forbidden("Only the seller can accept a refund request")
    _refuse_closed_request(request)
    milestones = _milestones(escrow)
    stale = _refund_request_stale(escrow, milestones, request)
    if stale:
        raise InvalidState(
            f"This refund request can no longer be carried out as asked: {stale}. "
            "The buyer can withdraw it and ask again.",
            code="refund_request_stale",
        )
    chosen = _choose_milestones(milestones, request.milestone_ids, field="milestoneIds")
    for m in chosen:
        _refuse_if_disputed(m)
    request.accept()
    request.decided_by = by
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    _event(
        "refund.accepted",
        by=by,
        escrow=escrow,
        details={"refundRequest": request.public_id, "amount": request.amount},
    )
    if escrow.is_milestone:
        _refund_milestones(escrow, milestones, chosen, by=by, reason=f"refund request {request.public_id}")
    else:
        ledger.post(
            TransactionKind.REFUND,
            escrow.currency,
            [(ledger.hold_account(escrow), -escrow.amount), (_refund_target(escrow), escrow.amount)],
            escrow=escrow,
            memo=f"refund request {request.public_id}",
        )
        before = escrow.status
        escrow.refund()
        escrow.closed_at = timezone.now()
        _SAVE_CLOSED.save(escrow)
        _event(
            "escrow.refunded",
            by=by,
            escrow=escrow,
            from_status=before,
            to_status=escrow.status,
            details={"amount": escrow.amount},
        )
    _supersede_stale(escrow, milestones, by=by)
    return request


def _close_without_money(
    item: RefundRequest | CancellationProposal,
    transition: Any,
    *,
    by: Any,
    escrow: Escrow,
    event: str,
    reason: str | None = None,
) -> None:
    """A refund request or cancellation proposal declined or withdrawn: its transition, who
    decided and when (and the decline's reason), and the event. No money moves."""
    transition()
    item.decided_by = by
    item.decided_at = timezone.now()
    fields = ["status", "decided_by", "decided_at"]
    key = "refundRequest" if isinstance(item, RefundRequest) else "proposal"
    details: dict[str, Any] = {key: item.public_id}
    if reason is not None:
        item.decline_reason = reason.strip()[:REASON_MAX]
        fields.append("decline_reason")
        details["reason"] = item.decline_reason
    item.save(update_fields=fields)
    _event(event, by=by, escrow=escrow, details=details)


@transaction.atomic(durable=True)
def refund_request_decline(*, refund_request: RefundRequest, by: Any, reason: str) -> RefundRequest:
    escrow = _lock_escrow(refund_request.escrow)
    role = _require_party(escrow, by)
    request = _lock_refund_request(escrow, refund_request)
    if role != "seller":
        raise Forbidden("Only the seller can decline a refund request")
    _refuse_closed_request(request)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Tell the buyer why you decline", field="reason")
    _close_without_money(
        request, request.decline, by=by, escrow=escrow, event="refund.declined", reason=reason
    )
    return request


@transaction.atomic(durable=True)
def refund_request_withdraw(*, refund_request: RefundRequest, by: Any) -> RefundRequest:
    escrow = _lock_escrow(refund_request.escrow)
    role = _require_party(escrow, by)
    request = _lock_refund_request(escrow, refund_request)
    if role != "buyer":
        raise Forbidden("Only the buyer who asked can withdraw a refund request")
    _refuse_closed_request(request)
    _close_without_money(request, request.withdraw, by=by, escrow=escrow, event="refund.withdrawn")
    return request


# -- mutual cancellation ------------------------------------------------------------------------


def _check_cancellable(escrow: Escrow, milestones: list[Milestone]) -> None:
    if escrow.status == EscrowStatus.AWAITING_PAYMENT:
        raise InvalidState("Nobody has paid this escrow yet; cancel it instead", code="not_funded")
    if escrow.status not in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
        raise InvalidState(f"This escrow is {escrow.get_status_display().lower()}", code="escrow_closed")
    for m in milestones:
        _refuse_if_disputed(m)


def _close_dispute_by_agreement(
    escrow: Escrow, proposal: CancellationProposal, *, by: Any, now: datetime
) -> None:
    """A standard escrow's whole-escrow dispute ends when both parties agree to cancel: the
    dispute is closed as withdrawn (the agreed split, not a ruling, moved the money)."""
    for dispute in Dispute.objects.select_for_update().filter(
        escrow=escrow, milestone__isnull=True, status__in=ACTIVE_DISPUTE_STATUSES
    ):
        before = dispute.status
        dispute.withdraw()
        dispute.withdrawn_at = now
        dispute.save()
        _event(
            "dispute.withdrawn",
            by=by,
            escrow=escrow,
            from_status=before,
            to_status=dispute.status,
            details={
                "dispute": dispute.public_id,
                "reason": "mutual cancellation",
                "proposal": proposal.public_id,
            },
        )


def _lock_proposal(escrow: Escrow, proposal: CancellationProposal) -> CancellationProposal:
    try:
        return CancellationProposal.objects.select_for_update().get(pk=proposal.pk, escrow=escrow)
    except CancellationProposal.DoesNotExist:
        raise NotFound("Cancellation proposal not found") from None


def _refuse_closed_proposal(proposal: CancellationProposal) -> None:
    if not proposal.is_open:
        raise InvalidState(
            f"This cancellation proposal was already {proposal.get_status_display().lower()}",
            code="cancellation_closed",
        )


def _check_split_amount(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{field} must be zero or a positive amount", field=field)
    return value


@transaction.atomic(durable=True)
def cancellation_propose(
    *, escrow: Escrow, by: Any, buyer_amount: int, seller_amount: int, note: str = ""
) -> CancellationProposal:
    """Either party proposes to cancel the funded escrow, splitting exactly what is held."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    _check_cancellable(escrow, milestones)
    buyer_amount = _check_split_amount(buyer_amount, field="buyerAmount")
    seller_amount = _check_split_amount(seller_amount, field="sellerAmount")
    held = _held_amount(escrow, milestones)
    if buyer_amount + seller_amount != held:
        raise InvalidRequest(
            f"The split must add up to what is held, {format_money(held, escrow.currency)}: "
            f"{format_money(buyer_amount, escrow.currency)} + {format_money(seller_amount, escrow.currency)}"
            f" is {format_money(buyer_amount + seller_amount, escrow.currency)}",
            code="split_mismatch",
            field="buyerAmount",
        )
    for open_proposal in CancellationProposal.objects.select_for_update().filter(
        escrow=escrow, status=CancellationStatus.PROPOSED
    ):
        if open_proposal.total == held:
            raise Conflict(
                "There is already an open cancellation proposal on this escrow; answer or withdraw it first",
                code="cancellation_open",
            )
    _supersede_stale(escrow, milestones, by=by)
    proposal = CancellationProposal.objects.create(
        escrow=escrow,
        proposed_by=by,
        proposer_role=role,
        buyer_amount=buyer_amount,
        seller_amount=seller_amount,
        note=(note or "").strip()[:REASON_MAX],
    )
    _event(
        "cancellation.proposed",
        by=by,
        escrow=escrow,
        details={
            "proposal": proposal.public_id,
            "role": role,
            "buyerAmount": buyer_amount,
            "sellerAmount": seller_amount,
            "reason": proposal.note,
        },
    )
    return proposal


def _seller_shares(
    escrow: Escrow, unsettled: list[Milestone], seller_amount: int
) -> list[tuple[Milestone, int]]:
    """The seller's share spread over the unsettled milestones in index order."""
    left = seller_amount
    shares = []
    for m in unsettled:
        share = min(left, m.amount)
        shares.append((m, share))
        left -= share
    return shares


@transaction.atomic(durable=True)
def cancellation_accept(*, proposal: CancellationProposal, by: Any) -> CancellationProposal:
    """The other party accepts: one posting splits the hold between the buyer (refund target)
    and the payees' main balances, unsettled milestones settle, the escrow is CANCELLED."""
    escrow = _lock_escrow(proposal.escrow, with_seller_account=True)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role == proposal.proposer_role:
        raise Forbidden("Only the other party can accept this cancellation proposal")
    _refuse_closed_proposal(proposal)
    milestones = _milestones(escrow)
    _check_cancellable(escrow, milestones)
    held = _held_amount(escrow, milestones)
    if proposal.total != held:
        raise InvalidState(
            f"This proposal splits {format_money(proposal.total, escrow.currency)} but "
            f"{format_money(held, escrow.currency)} is held now; propose again with the new amount",
            code="cancellation_stale",
        )
    now = timezone.now()
    proposal.accept()
    proposal.decided_by = by
    proposal.decided_at = now
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    _event(
        "cancellation.accepted",
        by=by,
        escrow=escrow,
        details={
            "proposal": proposal.public_id,
            "buyerAmount": proposal.buyer_amount,
            "sellerAmount": proposal.seller_amount,
        },
    )
    unsettled = [m for m in milestones if not m.is_settled]
    to_payee: dict[int, tuple[Any, int]] = {}
    if escrow.is_milestone:
        shares = _seller_shares(escrow, unsettled, proposal.seller_amount)
        for m, share in shares:
            payee = m.payee or escrow.seller
            if share:
                to_payee[payee.pk] = (payee, to_payee.get(payee.pk, (payee, 0))[1] + share)
    else:
        shares = []
        if proposal.seller_amount:
            to_payee[escrow.seller_id] = (escrow.seller, proposal.seller_amount)
    entries: list[tuple[Any, int]] = [(ledger.hold_account(escrow), -held)]
    if proposal.buyer_amount:
        entries.append((_refund_target(escrow), proposal.buyer_amount))
    for payee, amount in to_payee.values():
        known = getattr(escrow, "seller_account_id", None) if payee.pk == escrow.seller_id else None
        entries.append((ledger.customer_account(payee, escrow.currency, known_id=known), amount))
    ledger.post(
        TransactionKind.CANCELLATION,
        escrow.currency,
        entries,
        escrow=escrow,
        memo=f"mutual cancellation {proposal.public_id}",
    )
    for m, share in shares:
        before = m.status
        if proposal.seller_amount == 0:
            m.refund()
            m.refunded_at = now
        elif proposal.buyer_amount == 0:
            m.release()
            m.released_at = now
        else:
            m.split()
        m.save(update_fields=["status", "released_at", "refunded_at"])
        _event(
            f"milestone.{m.status.lower()}",
            by=by,
            escrow=escrow,
            milestone=m,
            from_status=before,
            to_status=m.status,
            details={
                "index": m.index,
                "amount": m.amount,
                "sellerShare": share,
                "buyerShare": m.amount - share,
                "reason": "mutual cancellation",
            },
        )
    if escrow.status == EscrowStatus.DISPUTED:
        _close_dispute_by_agreement(escrow, proposal, by=by, now=now)
    before = escrow.status
    escrow.cancel_by_agreement()
    escrow.closed_at = now
    _SAVE_CLOSED.save(escrow)
    _event(
        "escrow.cancelled",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
        details={
            "reason": "mutual cancellation",
            "proposal": proposal.public_id,
            "buyerAmount": proposal.buyer_amount,
            "sellerAmount": proposal.seller_amount,
        },
    )
    seller_part = to_payee.get(escrow.seller_id, (None, 0))[1]
    if escrow.settlement_method and seller_part:
        _settlement_schedule(
            customer=escrow.seller,
            amount=seller_part,
            currency=escrow.currency,
            method=escrow.settlement_method,
            destination=escrow.settlement_destination,
            escrow=escrow,
            milestone=None,
            by=by,
        )
    _supersede_stale(escrow, milestones, by=by)
    return proposal


@transaction.atomic(durable=True)
def cancellation_decline(
    *, proposal: CancellationProposal, by: Any, reason: str = ""
) -> CancellationProposal:
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role == proposal.proposer_role:
        raise Forbidden("Only the other party can decline this proposal; you can withdraw it")
    _refuse_closed_proposal(proposal)
    _close_without_money(
        proposal, proposal.decline, by=by, escrow=escrow, event="cancellation.declined", reason=reason or ""
    )
    return proposal


@transaction.atomic(durable=True)
def cancellation_withdraw(*, proposal: CancellationProposal, by: Any) -> CancellationProposal:
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role != proposal.proposer_role:
        raise Forbidden("Only the party who proposed the cancellation can withdraw it")
    _refuse_closed_proposal(proposal)
    _close_without_money(proposal, proposal.withdraw, by=by, escrow=escrow, event="cancellation.withdrawn")
    return proposal


# -- review clock (issue 7) --------------------------------------------------------------------


def review_deadline_of(milestone: Milestone) -> datetime | None:
    """When a delivered milestone releases by itself. Rows delivered before the clock existed
    (or written by hand) fall back to delivered at + the escrow's inspection period."""
    if milestone.review_deadline is not None:
        return milestone.review_deadline
    if milestone.completed_at is None:
        return None
    return milestone.completed_at + milestone.escrow.inspection_period


def _review_clock_start(escrow: Escrow, milestone: Milestone, at: datetime) -> None:
    milestone.review_deadline = at + escrow.inspection_period
    milestone.review_extended_at = None
    milestone.reminder_sent_at = None


def _review_clock_on_funding(escrow: Escrow, milestones: list[Milestone]) -> None:
    """A stage delivered before the buyer paid: the buyer's review starts when the money is in,
    so a deadline that ran while nothing was held cannot release at once."""
    for m in milestones:
        if m.status != MilestoneStatus.COMPLETED or escrow.funded_at is None:
            continue
        start = escrow.funded_at + escrow.inspection_period
        if m.review_deadline is None or m.review_deadline < start:
            m.review_deadline = start
            m.reminder_sent_at = None
            m.save(update_fields=["review_deadline", "reminder_sent_at"])


@transaction.atomic(durable=True)
def milestone_review_extend(*, milestone: Milestone, by: Any) -> Milestone:
    """The buyer takes more time to review a delivered milestone: the deadline moves by
    ESCROW_REVIEW_EXTENSION, once, and only while the clock is still running."""
    escrow = _lock_escrow(milestone.escrow)
    role = _require_party(escrow, by)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    if role != "buyer":
        raise Forbidden("Only the buyer can extend the review period")
    _refuse_if_disputed(milestone)
    _check_actionable(escrow, allow_unfunded=False)
    if milestone.status != MilestoneStatus.COMPLETED:
        raise InvalidState(
            "Only a delivered milestone that is waiting for your review can be extended",
            code="not_in_review",
        )
    if milestone.review_extended_at is not None:
        raise InvalidState(
            "The review period of this milestone was already extended once", code="already_extended"
        )
    deadline = review_deadline_of(milestone)
    now = timezone.now()
    if deadline is None or deadline <= now:
        raise InvalidState("The review period of this milestone has already ended", code="review_ended")
    extension: timedelta = settings.ESCROW_REVIEW_EXTENSION
    milestone.review_deadline = deadline + extension
    milestone.review_extended_at = now
    # A new deadline earns a new reminder.
    milestone.reminder_sent_at = None
    milestone.save(update_fields=["review_deadline", "review_extended_at", "reminder_sent_at"])
    _event(
        "milestone.review_extended",
        by=by,
        escrow=escrow,
        milestone=milestone,
        details={
            "index": milestone.index,
            "previousDeadline": deadline.isoformat(),
            "reviewDeadline": milestone.review_deadline.isoformat(),
            "extensionSeconds": int(extension.total_seconds()),
        },
    )
    return milestone


def review_reminder_due(milestone: Milestone, now: datetime) -> bool:
    deadline = review_deadline_of(milestone)
    return (
        milestone.status == MilestoneStatus.COMPLETED
        and milestone.reminder_sent_at is None
        and deadline is not None
        and deadline - settings.ESCROW_REVIEW_REMINDER_BEFORE <= now < deadline
    )


@transaction.atomic(durable=True)
def milestone_review_remind(*, milestone: Milestone) -> Milestone | None:
    """Timer: email the buyer once, ESCROW_REVIEW_REMINDER_BEFORE before a delivered
    milestone releases by itself. Two runs at once send one email: the escrow row lock
    serialises them and the conditional update lets only the first mark the milestone.
    The email goes out inside the transaction, so a failed send leaves the milestone unmarked
    for the next run. Returns None when nothing was due."""
    escrow = _lock_escrow(milestone.escrow)
    milestones = _milestones(escrow)
    milestone = _get_milestone(escrow, milestone, milestones)
    now = timezone.now()
    if (
        escrow.status != EscrowStatus.OPENED
        or escrow.buyer is None
        or not review_reminder_due(milestone, now)
    ):
        return None
    claimed = Milestone.objects.filter(
        pk=milestone.pk, status=MilestoneStatus.COMPLETED, reminder_sent_at__isnull=True
    ).update(reminder_sent_at=now)
    if claimed != 1:
        return None
    milestone.reminder_sent_at = now
    deadline = review_deadline_of(milestone)
    assert deadline is not None
    _event(
        "milestone.review_reminder_sent",
        by=None,
        escrow=escrow,
        milestone=milestone,
        customer=escrow.buyer,
        details={"index": milestone.index, "reviewDeadline": deadline.isoformat()},
    )
    _send_review_reminder(escrow, milestone, deadline)
    return milestone


def _send_review_reminder(escrow: Escrow, milestone: Milestone, deadline: datetime) -> None:
    from django.core.mail import send_mail

    title = milestone.title or f"Stage {milestone.index + 1}"
    when = timezone.localtime(deadline).strftime("%d %b %Y, %H:%M %Z")
    amount = format_money(milestone.amount, escrow.currency)
    link = f"{settings.SITE_URL.rstrip('/')}/escrows/{escrow.public_id}/"
    send_mail(
        subject=f"Review “{title}” by {when}: it releases automatically",
        message=(
            f"{escrow.seller.display_name} marked “{title}” of “{escrow.title}” delivered.\n\n"
            f"Unless you confirm or dispute it, {amount} is released to them automatically on {when}.\n"
            f"Review it here: {link}\n"
        ),
        from_email=None,
        recipient_list=[escrow.buyer.email],
    )


# -- fee quote (issue 7) -----------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteMilestone:
    index: int
    amount: int
    payee: Any  # the payee's User, or None for the seller
    payee_fee: int  # the part of the fee this payee bears
    payee_net: int


@dataclass(frozen=True)
class FeeQuote:
    currency: str
    amount: int
    fee: int
    buyer_fee: int
    buyer_total: int
    who_pays: str
    fee_schedule_version: str
    milestones: tuple[QuoteMilestone, ...]


def fee_shares(fee: int, who_pays: str, amounts: Sequence[int]) -> tuple[int, list[int]]:
    """Who bears the fee: (the buyer's part, each milestone payee's part). The buyer pays it all,
    the payees pay it all, or half each (the buyer takes the odd minor unit). The payees' part
    is spread in proportion to their amounts, largest remainders first, so it sums exactly."""
    if who_pays == WhoPays.BUYER:
        buyer_part = fee
    elif who_pays == WhoPays.SELLER:
        buyer_part = 0
    else:
        buyer_part = fee - fee // 2
    payee_part = fee - buyer_part
    total = sum(amounts)
    if not amounts or total <= 0 or payee_part == 0:
        return buyer_part, [0] * len(amounts)
    shares = [payee_part * a // total for a in amounts]
    order = sorted(range(len(amounts)), key=lambda i: (-(payee_part * amounts[i] % total), i))
    for i in order[: payee_part - sum(shares)]:
        shares[i] += 1
    return buyer_part, shares


def fee_quote(
    *,
    currency: str,
    amount: int,
    milestones: Sequence[MilestoneInput],
    who_pays: str = WhoPays.BUYER,
) -> FeeQuote:
    """What an escrow with these terms would cost before anything is created or funded: the
    fee under the current schedule, the buyer's total, and each payee's net. The terms are
    checked with escrow_create's own rules and messages."""
    currency = normalize_currency(currency)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidRequest("amount must be an exact number of minor units", field="amount")
    check_minor(amount, currency)
    if who_pays != WhoPays.BUYER:
        raise InvalidRequest("whoPays must be buyer for milestone escrows", field="whoPays")
    _validate_milestone_set(
        milestones, amount=amount, currency=currency, settlement_type=SettlementType.MILESTONE
    )
    fee, version = fee_for(amount, currency)
    buyer_fee, shares = fee_shares(fee, who_pays, [m.amount for m in milestones])
    return FeeQuote(
        currency=currency,
        amount=amount,
        fee=fee,
        buyer_fee=buyer_fee,
        buyer_total=amount + buyer_fee,
        who_pays=who_pays,
        fee_schedule_version=version,
        milestones=tuple(
            QuoteMilestone(
                index=i, amount=m.amount, payee=m.payee, payee_fee=share, payee_net=m.amount - share
            )
            for i, (m, share) in enumerate(zip(milestones, shares, strict=True))
        ),
    )
