"""An intent's milestones (Finternet): added one by one, listed, completed by the seller or
accepted (released) by the buyer; and, on the payment-intents conventions, the buyer's release of
a milestone in parts."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows import selectors, services
from escrows.money import to_minor
from escrows.services import MilestoneInput

from ..common import DecimalString, Percentage, StrictInteger, StrictSerializer, Text, parse
from .base import ERRORS, IntentAPIView, IntentMilestoneOutput, milestone_data


class MilestoneCreateInput(StrictSerializer):
    milestoneIndex = StrictInteger(min_value=0, max_value=10_000)  # noqa: N815
    description = Text(max_length=5000, required=False, allow_null=True)
    amount = DecimalString()
    percentage = Percentage(required=False, allow_null=True)
    dueDate = serializers.DateTimeField(  # noqa: N815
        required=False,
        allow_null=True,
        help_text="When the milestone is due (ISO 8601, in the future); the seller is reminded before "
        "it and both parties are told if it passes before the milestone is completed.",
    )


MilestoneOutput = IntentMilestoneOutput


class IntentMilestones(IntentAPIView):
    @extend_schema(
        operation_id="intent_milestone_create",
        request=MilestoneCreateInput,
        responses={
            201: inline_serializer(
                "IntentMilestoneCreated",
                {"id": serializers.CharField(), "object": serializers.CharField(), "data": MilestoneOutput()},
            ),
            **ERRORS,
        },
        tags=["payment-intents"],
        summary="Create a milestone",
    )
    def post(self, request: AuthenticatedRequest, intent_id: str) -> Response:
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
                due_date=data.get("dueDate"),
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
    def get(self, request: AuthenticatedRequest, intent_id: str) -> Response:
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
    def post(self, request: AuthenticatedRequest, intent_id: str, milestone_id: str) -> Response:
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


class MilestoneReleaseInput(StrictSerializer):
    amount = DecimalString(
        required=False,
        allow_null=True,
        help_text="How much of the milestone to release now; absent or null: all that is left of it.",
    )


class MilestoneRelease(IntentAPIView):
    @extend_schema(
        operation_id="escrow_milestone_release",
        request=MilestoneReleaseInput,
        responses={200: IntentMilestoneOutput, 403: ERRORS[400], **ERRORS},
        tags=["payment-intents"],
        summary="Release a milestone, whole or in part (buyer)",
        description=(
            "Without an `amount`, all that is left of the milestone goes to its payee's balance and it "
            "is `RELEASED`, as the buyer's complete call releases it. With an `amount` (a decimal "
            "string, more than zero and at most the milestone's `remainingAmount`) only that part "
            "goes now and the rest stays held for the milestone, whose status does not change; "
            "`releasedAmount` and `remainingAmount` say how much went and how much is left. An "
            "amount equal to `remainingAmount` releases the rest: the milestone is `RELEASED`, and "
            "the escrow completes after its last. The release order and the other rules of a "
            "release apply to each part. Only the buyer, on a funded escrow; the seller gets 403, "
            "anyone else 404. An amount above what is left is a 400 `amount_above_remaining` with "
            "`param` `amount`."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, milestone_id: str) -> Response:
        milestone = selectors.milestone_get_for_user(request.user, escrow_id, milestone_id)
        data = parse(MilestoneReleaseInput, request)
        if data.get("amount") is None:
            milestone = services.milestone_release(milestone=milestone, by=request.user)
        else:
            amount = to_minor(data["amount"], milestone.escrow.currency)
            milestone = services.milestone_release_part(milestone=milestone, by=request.user, amount=amount)
        return Response(milestone_data(milestone, milestone.escrow))
