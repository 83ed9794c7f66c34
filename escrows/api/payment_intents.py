"""Payment-intents surface (seeds 000-003): intents are escrows, milestones added one by one.
Errors: {"error": {"code", "message", "type"}} with the seeds' messages and status codes."""

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from escrows import selectors, services
from escrows.errors import InvalidRequest
from escrows.models import Escrow, Milestone, MilestoneStatus, ReleaseType, SettlementType
from escrows.money import format_minor, normalize_currency, to_minor
from escrows.services import EscrowTerms, MilestoneInput

from .common import (
    BaseAPIView,
    DecimalString,
    Failure,
    Metadata,
    Percentage,
    StrictInteger,
    StrictSerializer,
    Text,
    iso,
    make_exception_handler,
    parse,
)

ERROR_TYPES = {401: "authentication_error", 402: "card_error", 429: "rate_limit_error"}


def error_envelope(failure: Failure) -> dict[str, Any]:
    error = {
        "code": failure.code,
        "message": failure.message,
        "type": "api_error"
        if failure.status >= 500
        else ERROR_TYPES.get(failure.status, "invalid_request_error"),
    }
    if failure.param:
        error["param"] = failure.param
    return {"error": error}


exception_handler = make_exception_handler(error_envelope)


def payment_url(escrow: Escrow) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/pay/{escrow.payment_token}"


def _percentage(value: Decimal | None) -> int | Decimal | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value.normalize()


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
        "paymentUrl": payment_url(escrow),
        "sellerId": escrow.seller.customer_id,
        "buyerId": escrow.buyer.customer_id if escrow.buyer_id else None,
        "createdAt": iso(escrow.created_at),
        "updatedAt": iso(escrow.updated_at),
    }


def milestone_data(milestone: Milestone, escrow: Escrow) -> dict[str, Any]:
    return {
        "id": milestone.public_id,
        "object": "milestone",
        "escrowOrderId": escrow.public_id,
        "conditionalPaymentId": escrow.public_id,
        "paymentIntentId": escrow.public_id,
        "milestoneIndex": milestone.index,
        "description": milestone.description,
        "amount": format_minor(milestone.amount, escrow.currency),
        "percentage": _percentage(milestone.percentage),
        "status": milestone.status,
        "completedBy": milestone.completed_by or None,
        "completionProof": milestone.completion_proof or None,
        "completionProofURI": milestone.completion_proof_uri or None,
        "completedAt": iso(milestone.completed_at),
        "releasedAt": iso(milestone.released_at),
        "createdAt": iso(milestone.created_at),
        # Review clock (beyond the seeds): when a delivered milestone releases by itself.
        "reviewDeadline": iso(services.review_deadline_of(milestone))
        if milestone.status == MilestoneStatus.COMPLETED
        else None,
        "reviewExtended": milestone.review_extended,
    }


class IntentAPIView(BaseAPIView):
    exception_handler = exception_handler


# -- payment intents ---------------------------------------------------------------------------

RELEASE_TYPES = {ReleaseType.MILESTONE_LOCKED.value, ReleaseType.DELIVERY_PROOF.value}


class IntentCreateInput(StrictSerializer):
    amount = DecimalString()
    currency = Text(max_length=8, required=True)
    type = Text(max_length=40, required=False, allow_null=True)
    settlementMethod = Text(max_length=20, required=False, allow_null=True)  # noqa: N815
    settlementDestination = Text(max_length=200, required=False, allow_null=True)  # noqa: N815
    description = Text(max_length=5000, required=False, allow_null=True)
    metadata = Metadata(required=False, allow_null=True)


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
        "paymentUrl": serializers.URLField(),
        "sellerId": serializers.CharField(),
        "buyerId": serializers.CharField(allow_null=True),
        "createdAt": serializers.DateTimeField(),
        "updatedAt": serializers.DateTimeField(),
    },
)

ErrorOutput = inline_serializer(
    "IntentError",
    {
        "error": inline_serializer(
            "IntentErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "type": serializers.CharField(),
                "param": serializers.CharField(required=False),
            },
        )
    },
)
ERRORS = {400: ErrorOutput, 401: ErrorOutput, 404: ErrorOutput, 429: ErrorOutput}


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
    def post(self, request: Request) -> Response:
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
    def get(self, request: Request, intent_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, intent_id)
        return Response(intent_data(escrow))


# -- milestones --------------------------------------------------------------------------------


class MilestoneCreateInput(StrictSerializer):
    milestoneIndex = StrictInteger(min_value=0, max_value=10_000)  # noqa: N815
    description = Text(max_length=5000, required=False, allow_null=True)
    amount = DecimalString()
    percentage = Percentage(required=False, allow_null=True)


class IntentMilestoneOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    escrowOrderId = serializers.CharField()  # noqa: N815
    conditionalPaymentId = serializers.CharField()  # noqa: N815
    paymentIntentId = serializers.CharField()  # noqa: N815
    milestoneIndex = serializers.IntegerField()  # noqa: N815
    description = serializers.CharField()
    amount = serializers.CharField()
    percentage = serializers.FloatField(allow_null=True)
    status = serializers.CharField()
    completedBy = serializers.CharField(allow_null=True)  # noqa: N815
    completionProof = serializers.CharField(allow_null=True)  # noqa: N815
    completionProofURI = serializers.CharField(allow_null=True)  # noqa: N815
    completedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    releasedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815
    reviewDeadline = serializers.DateTimeField(allow_null=True)  # noqa: N815
    reviewExtended = serializers.BooleanField()  # noqa: N815


MilestoneOutput = IntentMilestoneOutput


class IntentMilestones(IntentAPIView):
    @extend_schema(
        operation_id="intent_milestone_create",
        request=MilestoneCreateInput,
        responses={
            201: inline_serializer(
                "IntentMilestoneCreated",
                {"id": serializers.CharField(), "object": serializers.CharField(), "data": MilestoneOutput},
            ),
            **ERRORS,
        },
        tags=["payment-intents"],
        summary="Create a milestone",
    )
    def post(self, request: Request, intent_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, intent_id)
        data = parse(MilestoneCreateInput, request)
        milestone = services.milestone_add(
            escrow=escrow,
            by=request.user,
            index=data["milestoneIndex"],
            milestone=MilestoneInput(
                amount=to_minor(data["amount"], escrow.currency),
                description=data.get("description") or "",
                percentage=data.get("percentage"),
            ),
        )
        return Response(
            {"id": milestone.public_id, "object": "milestone", "data": milestone_data(milestone, escrow)},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        operation_id="intent_milestone_list",
        responses={
            200: inline_serializer(
                "IntentMilestoneList",
                {"object": serializers.CharField(), "data": IntentMilestoneOutput(many=True)},
            ),
            **ERRORS,
        },
        tags=["payment-intents"],
        summary="List the milestones of a payment intent",
    )
    def get(self, request: Request, intent_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, intent_id)
        items = [milestone_data(m, escrow) for m in selectors.milestones_of(escrow)]
        return Response({"object": "list", "data": items, "hasMore": False})


class MilestoneCompleteInput(StrictSerializer):
    completedBy = Text(max_length=200, required=True)  # noqa: N815
    completionProof = Text(max_length=10_000, required=False, allow_null=True)  # noqa: N815
    completionProofURI = serializers.URLField(max_length=2000, required=False, allow_null=True)  # noqa: N815

    def validate_completionProofURI(self, value: Any) -> Any:  # noqa: N802
        if value is not None and not isinstance(self.initial_data.get("completionProofURI"), str):
            raise serializers.ValidationError("Must be a string.")
        return value


class MilestoneComplete(IntentAPIView):
    @extend_schema(
        operation_id="intent_milestone_complete",
        request=MilestoneCompleteInput,
        responses={
            200: inline_serializer(
                "IntentMilestoneCompleted",
                {
                    "id": serializers.CharField(),
                    "object": serializers.CharField(),
                    "status": serializers.CharField(),
                },
            ),
            **ERRORS,
        },
        tags=["payment-intents"],
        summary="Complete a milestone",
        description=(
            "The seller marks the milestone completed (with auto-release and a funded escrow the "
            "release follows at once). The buyer calling it accepts the milestone: it is released."
        ),
    )
    def post(self, request: Request, intent_id: str, milestone_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, intent_id)
        milestone = selectors.milestone_get(escrow, milestone_id)
        data = parse(MilestoneCompleteInput, request)
        if escrow.party_role(request.user) == "buyer":
            services.milestone_release(milestone=milestone, by=request.user)
            result = "released"
        else:
            services.milestone_complete(
                milestone=milestone,
                by=request.user,
                completed_by=data["completedBy"],
                proof=data.get("completionProof") or "",
                proof_uri=data.get("completionProofURI") or "",
            )
            result = "completed"
        return Response({"id": milestone.public_id, "object": "milestone", "status": result})
