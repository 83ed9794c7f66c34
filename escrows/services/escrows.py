"""Creating and editing an escrow: its terms, its milestones, one milestone added at a time."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.types import Actor, User
from core.errors import (
    Forbidden,
    InvalidRequest,
    InvalidState,
)

from ..models import (
    INVITATION_EVENT_KINDS,
    Escrow,
    EscrowStatus,
    Event,
    Milestone,
    ReleaseType,
    SettlementMethod,
    SettlementType,
    TermsReason,
    WhoPays,
)
from ..money import check_escrow_amount, check_minor, fee_for, format_money, normalize_currency
from ._internal import _event, _lock_escrow, _milestones, _refuse_if_may_not_sell, _require_party
from .agreements import _record_terms
from .due_dates import check_due_date
from .escrow_images import _store_images, check_images


@dataclass(frozen=True)
class MilestoneInput:
    amount: int  # minor units
    title: str = ""
    description: str = ""
    percentage: Decimal | None = None
    payee: User | None = None
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
    # TIME_LOCKED only: not released before this time (and only once delivered).
    time_lock_until: datetime | None = None
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


def inspection_period_from_days(days: object) -> timedelta:
    """The inspection period a seller chooses: a whole number of days from
    ESCROW_INSPECTION_DAYS_MIN to ESCROW_INSPECTION_DAYS_MAX, as an API sends it (an integer),
    as the form's field holds it (digits) or as the terms carry it (a period of whole days).
    Anything else is refused, in the API's words and in a person's."""
    low, high = settings.ESCROW_INSPECTION_DAYS_MIN, settings.ESCROW_INSPECTION_DAYS_MAX
    value = days
    if isinstance(value, timedelta):
        value = value.days if value == timedelta(days=value.days) else None
    elif isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(
            f"inspectionPeriodDays must be a whole number of days from {low} to {high}",
            field="inspectionPeriodDays",
            for_person=f"Inspection period: choose between {low} and {high} days.",
        )
    return timedelta(days=value)


def _validate_terms(
    terms: EscrowTerms, milestones: Sequence[MilestoneInput] | None, *, seller: User
) -> EscrowTerms:
    title = (terms.title or "").strip()
    if not title:
        raise InvalidRequest("title is required", field="title")
    if len(title) > 200:
        raise InvalidRequest("title must be at most 200 characters", field="title")
    currency = normalize_currency(terms.currency)
    if not isinstance(terms.amount, int) or isinstance(terms.amount, bool):
        raise InvalidRequest(
            "amount must be an exact number of minor units",
            field="amount",
            for_person="Enter the amount as money, such as 300.00.",
        )
    check_minor(terms.amount, currency)
    check_escrow_amount(terms.amount, currency)
    if terms.settlement_type not in SettlementType.values:
        raise InvalidRequest("settlementType must be MILESTONE or STANDARD", field="settlementType")
    _check_release_type(terms)
    if terms.who_pays != WhoPays.BUYER:
        if terms.settlement_type == SettlementType.STANDARD:
            raise InvalidRequest(
                "whoPays must be buyer: the buyer pays the fee on top of the amount", field="whoPays"
            )
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
    buyer_email = (terms.buyer_email or "").strip().lower()
    if buyer_email:
        try:
            if len(buyer_email) > 254:
                raise ValidationError("too long")
            validate_email(buyer_email)
        except ValidationError:
            raise InvalidRequest("buyerEmail must be an email address", field="buyerEmail") from None
        if buyer_email == seller.email.lower():
            raise InvalidRequest("The buyer cannot be the seller", field="buyerEmail")
    if terms.inspection_period is not None:
        inspection_period_from_days(terms.inspection_period)
    if milestones is not None:
        _validate_milestone_set(
            milestones, amount=terms.amount, currency=currency, settlement_type=terms.settlement_type
        )
    # AUTO_RELEASE means released on the proof of delivery, whichever surface made the escrow.
    auto = terms.auto_release_on_proof or terms.release_type == ReleaseType.AUTO_RELEASE
    return EscrowTerms(
        **{
            **terms.__dict__,
            "title": title,
            "currency": currency,
            "buyer_email": buyer_email,
            "auto_release_on_proof": auto,
        }
    )


def _check_release_type(terms: EscrowTerms) -> None:
    """A release type we know; a time lock with TIME_LOCKED and only with it; the release types
    that release the whole escrow at once (a time lock, auto-release) on a standard escrow."""
    if terms.release_type not in ReleaseType.values:
        raise InvalidRequest(
            f"releaseType must be one of: {', '.join(ReleaseType.values)}", field="releaseType"
        )
    timed = terms.release_type == ReleaseType.TIME_LOCKED
    if timed and terms.time_lock_until is None:
        raise InvalidRequest(
            "timeLockUntil is required with releaseType TIME_LOCKED: when the payment may be released, "
            "in unix seconds",
            field="timeLockUntil",
        )
    if not timed and terms.time_lock_until is not None:
        raise InvalidRequest("timeLockUntil applies only with releaseType TIME_LOCKED", field="timeLockUntil")
    whole = terms.release_type in (ReleaseType.TIME_LOCKED, ReleaseType.AUTO_RELEASE)
    if whole and terms.settlement_type != SettlementType.STANDARD:
        raise InvalidRequest(
            f"releaseType {terms.release_type} releases the whole payment at once: it has no milestones",
            field="releaseType",
        )


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
            raise InvalidRequest(
                f"milestones[{i}].amount must be greater than zero",
                field="milestones",
                for_person=f"Stage {i + 1} amount: Enter an amount greater than zero.",
            )
        check_due_date(m.due_date, now=now, index=i)
        if m.percentage is not None and not (0 <= m.percentage <= 100):
            raise InvalidRequest(f"milestones[{i}].percentage must be between 0 and 100", field="milestones")
    total = sum(m.amount for m in milestones)
    if total != amount:
        raise InvalidRequest(
            f"Milestone amounts must sum to the escrow amount: they sum to "
            f"{format_money(total, currency)}, the escrow is {format_money(amount, currency)}",
            field="milestones",
        )


def _create_milestones(escrow: Escrow, milestones: Sequence[MilestoneInput]) -> list[Milestone]:
    return Milestone.objects.bulk_create(
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


@transaction.atomic(durable=True)
def escrow_create(
    *,
    seller: User,
    terms: EscrowTerms,
    milestones: Sequence[MilestoneInput] | None,
    buyer: User | None = None,
    images: Sequence[Any] = (),
) -> Escrow:
    """Create an escrow. `milestones=None` leaves a milestone escrow to have its milestones
    added one by one (payment-intents surface); funding then checks the set is complete.
    `images`: uploaded pictures of what it is for (escrow_images)."""
    _refuse_if_may_not_sell(seller)
    terms = _validate_terms(terms, milestones, seller=seller)
    pictures = check_images(images)
    if buyer is not None and buyer.pk == seller.pk:
        raise InvalidRequest("The buyer cannot be the seller", field="buyer")
    fee, version = fee_for(terms.amount, terms.currency)
    now = timezone.now()
    escrow = Escrow.objects.create(
        seller=seller,
        buyer=buyer,
        buyer_email=terms.buyer_email,
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
        time_lock_until=terms.time_lock_until,
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
    created = _create_milestones(escrow, milestones) if milestones else []
    if pictures:
        _store_images(escrow, pictures)
    _record_terms(
        escrow,
        created,
        reason=TermsReason.CREATED,
        proposed_by=seller,
        proposer_role="seller",
        proposed_at=now,
    )
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
    *,
    escrow: Escrow,
    by: Actor,
    terms: EscrowTerms,
    milestones: Sequence[MilestoneInput],
    images: Sequence[Any] | None = None,
) -> Escrow:
    """Replace the terms and the whole milestone set (new milestone ids); the fee is recomputed.
    `images`, when given, replace the escrow's pictures."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller who created this escrow can edit it")
    old = _milestones(escrow)
    refusal = escrow.edit_refusal(old)
    if refusal is not None:
        raise InvalidState(refusal)
    terms = _validate_terms(terms, milestones, seller=escrow.seller)
    pictures = None if images is None else check_images(images)
    if escrow.buyer is not None and terms.buyer_email and terms.buyer_email != escrow.buyer.email.lower():
        raise InvalidRequest("The buyer of this escrow is already set", field="buyerEmail")
    before = {"amount": escrow.amount, "fee": escrow.fee, "milestones": [m.public_id for m in old]}
    buyer_email_before = escrow.buyer_email
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
        "time_lock_until",
        "settlement_method",
        "settlement_destination",
        "max_delivery",
        "delivery_timeline",
        "total_quantity",
        "category_id",
    ):
        setattr(escrow, field, getattr(terms, field))
    escrow.buyer_email = terms.buyer_email
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
    created = _create_milestones(escrow, milestones)
    if pictures is not None:
        _store_images(escrow, pictures)
    _record_terms(escrow, created, reason=TermsReason.EDITED, proposed_by=by, proposer_role=role)
    _event(
        "escrow.edited",
        by=by,
        escrow=escrow,
        from_status=escrow.status,
        to_status=escrow.status,
        details={
            "before": before,
            "amount": escrow.amount,
            "fee": fee,
            # A new buyer address is invited to pay (notifications).
            **(
                {"buyerEmailBefore": buyer_email_before, "buyerEmail": escrow.buyer_email}
                if escrow.buyer_email != buyer_email_before
                else {}
            ),
        },
    )
    return escrow


@transaction.atomic(durable=True)
def milestone_add(*, escrow: Escrow, by: Actor, index: int, milestone: MilestoneInput) -> Milestone:
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
    check_due_date(milestone.due_date, now=timezone.now())
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
    _record_terms(
        escrow,
        [*existing, created],
        reason=TermsReason.STAGE_ADDED,
        proposed_by=by,
        proposer_role=role,
        changes=[{"kind": "add", "index": index, "title": created.title, "amount": created.amount}],
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


@transaction.atomic(durable=True)
def escrow_invitation_resend(*, escrow: Escrow, by: Actor) -> Event:
    """The seller emails the buyer named by email the payment link again (the notifications send
    it from this event, as they send the first one from `escrow.created`)."""
    escrow = _lock_escrow(escrow)
    role = _require_party(escrow, by)
    if role != "seller":
        raise Forbidden("Only the seller can send the invitation again")
    sent = Event.objects.filter(escrow=escrow, kind__in=INVITATION_EVENT_KINDS).values_list(
        "created_at", flat=True
    )
    refusal = escrow.invitation_resend_refusal(list(sent))
    if refusal is not None:
        raise InvalidState(refusal, code="invitation_refused")
    return _event(
        "escrow.invitation_resent",
        by=by,
        escrow=escrow,
        from_status=escrow.status,
        to_status=escrow.status,
        details={"buyerEmail": escrow.buyer_email},
    )
