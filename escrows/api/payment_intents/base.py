"""What the payment-intents routes share: the view base, Finternet's error envelope (its messages
and status codes) and exception handler, the error schema, the milestone object, and the schema of
the routes that decide on a refund request or a cancellation proposal."""

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from escrows import services
from escrows.models import Escrow, Milestone, MilestoneStatus
from escrows.money import format_minor

from ..common import BaseAPIView, Failure, StrictSerializer, iso, make_exception_handler

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


def _percentage(value: Decimal | None) -> int | Decimal | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else value.normalize()


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
        # Ours: released by the buyer so far (all of it once released, a part before), and what
        # is still held for it (nothing once settled).
        "releasedAmount": format_minor(
            milestone.amount if milestone.status == MilestoneStatus.RELEASED else milestone.released_part,
            escrow.currency,
        ),
        "remainingAmount": format_minor(
            0 if milestone.is_settled else milestone.remaining_amount, escrow.currency
        ),
        "percentage": _percentage(milestone.percentage),
        "status": milestone.status,
        "completedBy": milestone.completed_by or None,
        "completionProof": milestone.completion_proof or None,
        "completionProofURI": milestone.completion_proof_uri or None,
        "completedAt": iso(milestone.completed_at),
        "releasedAt": iso(milestone.released_at),
        "createdAt": iso(milestone.created_at),
        # Our addition to Finternet's milestone: when a delivered milestone releases by itself.
        "reviewDeadline": iso(services.review_deadline_of(milestone))
        if milestone.status == MilestoneStatus.COMPLETED
        else None,
        "reviewExtended": milestone.review_extended,
        # When the milestone is due, and whether it is late (Milestone.is_overdue).
        "dueDate": iso(milestone.due_date),
        "overdue": milestone.is_overdue(),
        # Also ours: how many times the buyer sent it back for changes, and their latest note.
        "changesRequested": milestone.changes_requested_count,
        "changesRequestedNote": milestone.changes_requested_note or None,
        "changesRequestedAt": iso(milestone.changes_requested_at),
    }


class IntentAPIView(BaseAPIView):
    exception_handler = staticmethod(exception_handler)


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


class IntentMilestoneOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    escrowOrderId = serializers.CharField()  # noqa: N815
    conditionalPaymentId = serializers.CharField()  # noqa: N815
    paymentIntentId = serializers.CharField()  # noqa: N815
    milestoneIndex = serializers.IntegerField()  # noqa: N815
    description = serializers.CharField()
    amount = serializers.CharField()
    releasedAmount = serializers.CharField()  # noqa: N815
    remainingAmount = serializers.CharField()  # noqa: N815
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
    dueDate = serializers.DateTimeField(allow_null=True)  # noqa: N815
    overdue = serializers.BooleanField()
    changesRequested = serializers.IntegerField()  # noqa: N815
    changesRequestedNote = serializers.CharField(allow_null=True)  # noqa: N815
    changesRequestedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815


# -- routes that decide on a refund request or a cancellation proposal -------------------------

# Refunds and mutual cancellation are documented together.
REFUND_TAGS = ["refunds"]
ERRORS_409 = {**ERRORS, 403: ERRORS[400], 409: ERRORS[400]}


class EmptyInput(StrictSerializer):
    """No fields: anything sent is refused rather than silently ignored."""


def action_schema(operation_id: str, summary: str, request: Any, output: Any) -> Any:
    return extend_schema(
        operation_id=operation_id,
        request=request,
        responses={200: output, **ERRORS_409},
        tags=REFUND_TAGS,
        summary=summary,
    )
