"""Payment intents (Finternet): an intent is an escrow; create and retrieve it."""

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from core.errors import InvalidRequest
from escrows import selectors, services
from escrows.models import Escrow, ReleaseType, SettlementType
from escrows.money import format_minor, normalize_currency, to_minor
from escrows.services import EscrowTerms, inspection_period_from_days

from ..common import DecimalString, Email, InspectionDays, Metadata, StrictSerializer, Text, iso, parse
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


RELEASE_TYPES = {ReleaseType.MILESTONE_LOCKED.value, ReleaseType.DELIVERY_PROOF.value}


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


def _release_options(metadata: dict) -> tuple[str, str, bool]:
    release_type = metadata.get("releaseType")
    if release_type is None:
        release_type = ReleaseType.DELIVERY_PROOF
    if not isinstance(release_type, str) or release_type not in RELEASE_TYPES:
        raise InvalidRequest(
            "metadata.releaseType must be MILESTONE_LOCKED or DELIVERY_PROOF", field="metadata.releaseType"
        )
    auto = metadata.get("autoRelease", False)
    if not isinstance(auto, bool):
        raise InvalidRequest("metadata.autoRelease must be true or false", field="metadata.autoRelease")
    settlement_type = (
        SettlementType.MILESTONE if release_type == ReleaseType.MILESTONE_LOCKED else SettlementType.STANDARD
    )
    return release_type, settlement_type, auto


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
        release_type, settlement_type, auto = _release_options(metadata)
        description = data.get("description") or ""
        amount = to_minor(data["amount"], currency)
        escrow = services.escrow_create(
            seller=request.user,
            terms=EscrowTerms(
                title=description.strip()[:200] or f"Payment of {format_minor(amount, currency)} {currency}",
                currency=currency,
                amount=amount,
                description=description,
                settlement_type=settlement_type,
                release_type=release_type,
                auto_release_on_proof=auto,
                intent_type=data.get("type") or "",
                settlement_method=data.get("settlementMethod") or "",
                settlement_destination=data.get("settlementDestination") or "",
                metadata=metadata,
                buyer_email=data.get("buyerEmail") or "",
                inspection_period=(
                    None
                    if (days := data.get("inspectionPeriodDays")) is None
                    else inspection_period_from_days(days)
                ),
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
