"""Payment intents (Finternet): an intent is an escrow; create and retrieve it."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest
from escrows import selectors, services
from escrows.models import Escrow, ReleaseType, SettlementType
from escrows.money import format_minor, normalize_currency, to_minor
from escrows.services import EscrowTerms, inspection_period_from_days

from ..common import (
    DecimalString,
    Email,
    InspectionDays,
    Metadata,
    StrictInteger,
    StrictSerializer,
    Text,
    iso,
    parse,
)
from .base import ERRORS, IntentAPIView


def payment_url(escrow: Escrow) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/pay/{escrow.payment_token}"


def intent_data(escrow: Escrow) -> dict[str, Any]:
    return {
        "id": escrow.public_id,
        "object": "payment_intent",
        "status": escrow.status,
        "amount": format_minor(escrow.amount, escrow.currency),
        "currency": escrow.currency,
        "fee": format_minor(escrow.fee, escrow.currency),
        "totalAmount": format_minor(escrow.total_charge, escrow.currency),
        "feeScheduleVersion": escrow.fee_schedule_version,
        "type": escrow.intent_type or None,
        "description": escrow.description,
        "settlementMethod": escrow.settlement_method or None,
        "settlementDestination": escrow.settlement_destination or None,
        "metadata": escrow.metadata,
        "releaseType": escrow.release_type,
        "autoReleaseOnProof": escrow.auto_release_on_proof,
        "timeLockUntil": unix_seconds(escrow.time_lock_until),
        "settlementType": escrow.settlement_type,
        "paymentToken": escrow.payment_token,
        "termsVersion": escrow.terms_version,
        "inspectionPeriodDays": escrow.inspection_days,
        "paymentUrl": payment_url(escrow),
        "sellerId": escrow.seller.customer_id,
        "buyerId": escrow.buyer.customer_id if escrow.buyer else None,
        "createdAt": iso(escrow.created_at),
        "updatedAt": iso(escrow.updated_at),
    }


def unix_seconds(value: datetime | None) -> str | None:
    """Finternet's unix timestamps "as BigInt strings": whole seconds as a string."""
    return str(int(value.timestamp())) if value is not None else None


# The latest a time lock may run to: the end of year 9999.
TIME_LOCK_MAX = 253_402_300_799


@extend_schema_field({"type": "boolean"})
class StrictBoolean(serializers.Field):
    """true or false, and nothing else ("yes", 1 and "true" are refused)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class IntentCreateInput(StrictSerializer):
    amount = DecimalString()
    currency = Text(max_length=8, required=True)
    type = Text(max_length=40, required=False, allow_null=True)
    settlementMethod = Text(max_length=20, required=False, allow_null=True)  # noqa: N815
    settlementDestination = Text(max_length=200, required=False, allow_null=True)  # noqa: N815
    description = Text(max_length=5000, required=False, allow_null=True)
    metadata = Metadata(required=False, allow_null=True)
    # Reserves the payment link for this buyer and emails them the invitation.
    buyerEmail = Email(required=False, allow_null=True)  # noqa: N815
    inspectionPeriodDays = InspectionDays(  # noqa: N815
        required=False,
        allow_null=True,
        help_text="How many days the buyer has to check a delivered milestone before it is released "
        "by itself; absent or null: the default.",
    )
    # Finternet's escrow fields at the top level: its delivery period (our inspection period, in
    # seconds) and release on proof (as metadata.autoRelease).
    deliveryPeriod = StrictInteger(  # noqa: N815
        required=False,
        allow_null=True,
        help_text="The inspection period in seconds, whole days (86400 each); instead of "
        "inspectionPeriodDays.",
    )
    autoRelease = StrictBoolean(  # noqa: N815
        required=False,
        allow_null=True,
        help_text="true: release on the proof of delivery, as metadata.autoRelease.",
    )


IntentOutput = inline_serializer(
    "PaymentIntent",
    {
        "id": serializers.CharField(),
        "object": serializers.CharField(),
        "status": serializers.CharField(),
        "amount": serializers.CharField(),
        "currency": serializers.CharField(),
        "fee": serializers.CharField(),
        "totalAmount": serializers.CharField(),
        "feeScheduleVersion": serializers.CharField(),
        "type": serializers.CharField(allow_null=True),
        "description": serializers.CharField(),
        "settlementMethod": serializers.CharField(allow_null=True),
        "settlementDestination": serializers.CharField(allow_null=True),
        "metadata": serializers.DictField(),
        "releaseType": serializers.CharField(),
        "autoReleaseOnProof": serializers.BooleanField(),
        "timeLockUntil": serializers.CharField(allow_null=True, help_text="TIME_LOCKED: unix seconds."),
        "settlementType": serializers.CharField(),
        "paymentToken": serializers.CharField(),
        "termsVersion": serializers.IntegerField(),
        "inspectionPeriodDays": serializers.IntegerField(),
        "paymentUrl": serializers.URLField(),
        "sellerId": serializers.CharField(),
        "buyerId": serializers.CharField(allow_null=True),
        "createdAt": serializers.DateTimeField(),
        "updatedAt": serializers.DateTimeField(),
    },
)


@dataclass(frozen=True)
class ReleaseOptions:
    release_type: str
    settlement_type: str
    auto_release_on_proof: bool
    time_lock_until: datetime | None


def _release_options(metadata: dict, auto_release: bool | None = None) -> ReleaseOptions:
    """The release type from the metadata, as Finternet reads it: `releaseType` (default
    DELIVERY_PROOF), `autoRelease` (release on proof), `timeLockUntil` (TIME_LOCKED: unix
    seconds, a number or a string of digits); `auto_release`, the top-level autoRelease, stands
    in for a metadata.autoRelease not sent. AUTO_RELEASE always releases on proof; a time lock
    releases at its time whatever autoRelease says. MILESTONE_LOCKED makes a milestone escrow,
    the others a standard one."""
    release_type = metadata.get("releaseType")
    if release_type is None:
        release_type = ReleaseType.DELIVERY_PROOF
    if not isinstance(release_type, str) or release_type not in ReleaseType.values:
        raise InvalidRequest(
            f"metadata.releaseType must be one of: {', '.join(ReleaseType.values)}",
            field="metadata.releaseType",
        )
    auto = metadata.get("autoRelease", bool(auto_release))
    if not isinstance(auto, bool):
        raise InvalidRequest("metadata.autoRelease must be true or false", field="metadata.autoRelease")
    lock = metadata.get("timeLockUntil")
    if release_type == ReleaseType.TIME_LOCKED and lock is None:
        raise InvalidRequest(
            "metadata.timeLockUntil is required with releaseType TIME_LOCKED: the unix time (in "
            "seconds) from which the payment may be released",
            field="metadata.timeLockUntil",
        )
    if release_type != ReleaseType.TIME_LOCKED and lock is not None:
        raise InvalidRequest(
            "metadata.timeLockUntil applies only with releaseType TIME_LOCKED", field="metadata.timeLockUntil"
        )
    milestones = release_type == ReleaseType.MILESTONE_LOCKED
    return ReleaseOptions(
        release_type=release_type,
        settlement_type=SettlementType.MILESTONE if milestones else SettlementType.STANDARD,
        auto_release_on_proof=auto and release_type != ReleaseType.TIME_LOCKED,  # AUTO_RELEASE: the service
        time_lock_until=None if lock is None else _time_lock(lock),
    )


def _time_lock(value: object) -> datetime:
    seconds: int | None = None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        seconds = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    if seconds is None or not 0 < seconds <= TIME_LOCK_MAX:
        raise InvalidRequest(
            'metadata.timeLockUntil must be a unix time in whole seconds, such as "1735689600"',
            field="metadata.timeLockUntil",
        )
    return datetime.fromtimestamp(seconds, tz=UTC)


def _inspection_period(data: dict[str, Any]) -> timedelta | None:
    """inspectionPeriodDays, or Finternet's deliveryPeriod in seconds (whole days); not both."""
    days, seconds = data.get("inspectionPeriodDays"), data.get("deliveryPeriod")
    if days is not None and seconds is not None:
        raise InvalidRequest("Send inspectionPeriodDays or deliveryPeriod, not both", field="deliveryPeriod")
    if seconds is not None:
        low, high = settings.ESCROW_INSPECTION_DAYS_MIN, settings.ESCROW_INSPECTION_DAYS_MAX
        if seconds % 86_400 or not low <= seconds // 86_400 <= high:
            raise InvalidRequest(
                f"deliveryPeriod must be whole days in seconds (86400 a day), from {low * 86_400} "
                f"to {high * 86_400}",
                field="deliveryPeriod",
            )
        days = seconds // 86_400
    return None if days is None else inspection_period_from_days(days)


class PaymentIntentCreate(IntentAPIView):
    @extend_schema(
        operation_id="payment_intent_create",
        request=IntentCreateInput,
        responses={201: IntentOutput, **ERRORS},
        tags=["payment-intents"],
        summary="Create a payment intent (an escrow)",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = parse(IntentCreateInput, request)
        currency = normalize_currency(data["currency"])
        metadata = data.get("metadata") or {}
        release = _release_options(metadata, data.get("autoRelease"))
        description = data.get("description") or ""
        amount = to_minor(data["amount"], currency)
        escrow = services.escrow_create(
            seller=request.user,
            terms=EscrowTerms(
                title=description.strip()[:200] or f"Payment of {format_minor(amount, currency)} {currency}",
                currency=currency,
                amount=amount,
                description=description,
                settlement_type=release.settlement_type,
                release_type=release.release_type,
                auto_release_on_proof=release.auto_release_on_proof,
                time_lock_until=release.time_lock_until,
                intent_type=data.get("type") or "",
                settlement_method=data.get("settlementMethod") or "",
                settlement_destination=data.get("settlementDestination") or "",
                metadata=metadata,
                buyer_email=data.get("buyerEmail") or "",
                inspection_period=_inspection_period(data),
            ),
            milestones=None,
        )
        return Response(intent_data(escrow), status=status.HTTP_201_CREATED)


class PaymentIntentDetail(IntentAPIView):
    @extend_schema(
        operation_id="payment_intent_retrieve",
        responses={200: IntentOutput, **ERRORS},
        tags=["payment-intents"],
        summary="Retrieve a payment intent",
    )
    def get(self, request: AuthenticatedRequest, intent_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, intent_id)
        return Response(intent_data(escrow))


def public_intent_data(escrow: Escrow) -> dict[str, Any]:
    """What a payment page shows of an intent, to anyone who has its id: the money, the terms and
    the stages; nothing that lets a reader pay it or names a person (no payment token or link,
    no metadata, no settlement destination, no customer or email)."""
    return {
        "id": escrow.public_id,
        "object": "payment_intent",
        "status": escrow.status,
        "amount": format_minor(escrow.amount, escrow.currency),
        "currency": escrow.currency,
        "fee": format_minor(escrow.fee, escrow.currency),
        "totalAmount": format_minor(escrow.total_charge, escrow.currency),
        "type": escrow.intent_type or None,
        "description": escrow.description,
        "releaseType": escrow.release_type,
        "autoReleaseOnProof": escrow.auto_release_on_proof,
        "timeLockUntil": unix_seconds(escrow.time_lock_until),
        "settlementType": escrow.settlement_type,
        "termsVersion": escrow.terms_version,
        "inspectionPeriodDays": escrow.inspection_days,
        "milestones": [
            {
                "id": m.public_id,
                "milestoneIndex": m.index,
                "description": m.description,
                "amount": format_minor(m.amount, escrow.currency),
                "status": m.status,
                "dueDate": iso(m.due_date),
            }
            for m in escrow.milestones.order_by("index")
        ],
        "expiresAt": iso(escrow.expires_at),
        "createdAt": iso(escrow.created_at),
        "updatedAt": iso(escrow.updated_at),
    }


PublicIntentOutput = inline_serializer(
    "PublicPaymentIntent",
    {
        "id": serializers.CharField(),
        "object": serializers.CharField(),
        "status": serializers.CharField(),
        "amount": serializers.CharField(),
        "currency": serializers.CharField(),
        "fee": serializers.CharField(),
        "totalAmount": serializers.CharField(),
        "type": serializers.CharField(allow_null=True),
        "description": serializers.CharField(),
        "releaseType": serializers.CharField(),
        "autoReleaseOnProof": serializers.BooleanField(),
        "timeLockUntil": serializers.CharField(allow_null=True),
        "settlementType": serializers.CharField(),
        "termsVersion": serializers.IntegerField(),
        "inspectionPeriodDays": serializers.IntegerField(),
        "milestones": inline_serializer(
            "PublicPaymentIntentMilestone",
            {
                "id": serializers.CharField(),
                "milestoneIndex": serializers.IntegerField(),
                "description": serializers.CharField(),
                "amount": serializers.CharField(),
                "status": serializers.CharField(),
                "dueDate": serializers.DateTimeField(allow_null=True),
            },
            many=True,
        ),
        "expiresAt": serializers.DateTimeField(),
        "createdAt": serializers.DateTimeField(),
        "updatedAt": serializers.DateTimeField(),
    },
)


class PublicPaymentIntent(IntentAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Nobody is signed in here, so no Idempotency-Key is claimed (a read changes nothing).
        APIView.initial(self, request, *args, **kwargs)

    @extend_schema(
        operation_id="payment_intent_public_retrieve",
        auth=[],
        responses={200: PublicIntentOutput, 404: ERRORS[404], 429: ERRORS[429]},
        tags=["payment-intents"],
        summary="Retrieve a payment intent for a payment page (no API key)",
        description=(
            "Anyone with the intent's id may read it: the amount, fee, terms and stages, nothing that "
            "pays it or names a person (no payment token or URL, metadata, settlement destination, "
            "customer ids or emails). Rate-limited per address."
        ),
    )
    def get(self, request: Request, intent_id: str) -> Response:
        return Response(public_intent_data(selectors.escrow_get_public(intent_id)))
