"""Refunds under /v1/escrows/{escrow_id}/... (escrow_id is the public `intent_…` id): the
seller refunds chosen milestones; the buyer asks for a refund, which the seller accepts or
declines. Decimal-string amounts ("300.00"). Another customer's escrow is a 404."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest, User
from escrows import selectors, services
from escrows.models import Escrow, RefundRequest
from escrows.money import format_minor

from ..common import StrictSerializer, Text, iso, parse
from .base import ERRORS, ERRORS_409, REFUND_TAGS, EmptyInput, IntentAPIView, action_schema


def refund_request_data(request: RefundRequest, escrow: Escrow) -> dict[str, Any]:
    return {
        "id": request.public_id,
        "object": "refund_request",
        "escrowId": escrow.public_id,
        "status": request.status,
        "amount": format_minor(request.amount, escrow.currency),
        "currency": escrow.currency,
        "milestoneIds": list(request.milestone_ids),
        "reason": request.reason,
        "declineReason": request.decline_reason or None,
        "requestedBy": request.requested_by.customer_id,
        "decidedAt": iso(request.decided_at),
        "createdAt": iso(request.created_at),
    }


class RefundRequestOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    escrowId = serializers.CharField()  # noqa: N815
    status = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    milestoneIds = serializers.ListField(child=serializers.CharField())  # noqa: N815
    reason = serializers.CharField()
    declineReason = serializers.CharField(allow_null=True)  # noqa: N815
    requestedBy = serializers.CharField()  # noqa: N815
    decidedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815

    class Meta:
        ref_name = "RefundRequest"


# -- seller refunds ---------------------------------------------------------------------------


class RefundInput(StrictSerializer):
    milestoneIds = serializers.ListField(  # noqa: N815
        child=Text(max_length=100, required=True), max_length=1000
    )
    reason = Text(max_length=2000, required=False, allow_null=True)


class EscrowRefunds(IntentAPIView):
    @extend_schema(
        operation_id="escrow_refund_milestones",
        request=RefundInput,
        responses={
            200: inline_serializer(
                "MilestoneRefund",
                {
                    "object": serializers.CharField(),
                    "escrowId": serializers.CharField(),
                    "escrowStatus": serializers.CharField(),
                    "amount": serializers.CharField(),
                    "currency": serializers.CharField(),
                    "milestoneIds": serializers.ListField(child=serializers.CharField()),
                },
            ),
            **ERRORS_409,
        },
        tags=REFUND_TAGS,
        summary="Refund chosen milestones to the buyer (seller)",
        description=(
            "Refunds any set of unsettled, undisputed milestones in one ledger posting. The escrow "
            "stays open while something is left; refunding the last one closes it."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        data = parse(RefundInput, request)
        amount = services.escrow_refund_milestones(
            escrow=escrow, by=request.user, milestones=data["milestoneIds"], reason=data.get("reason") or ""
        )
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        return Response(
            {
                "object": "refund",
                "escrowId": escrow.public_id,
                "escrowStatus": escrow.status,
                "amount": format_minor(amount, escrow.currency),
                "currency": escrow.currency,
                "milestoneIds": sorted(set(data["milestoneIds"])),
            }
        )


# -- the buyer's refund requests --------------------------------------------------------------


class RefundRequestInput(StrictSerializer):
    reason = Text(max_length=2000, required=True)
    milestoneIds = serializers.ListField(  # noqa: N815
        child=Text(max_length=100, required=True), max_length=1000, required=False, allow_null=True
    )


class RefundRequests(IntentAPIView):
    @extend_schema(
        operation_id="refund_request_create",
        request=RefundRequestInput,
        responses={201: RefundRequestOutput, **ERRORS_409},
        tags=REFUND_TAGS,
        summary="Ask the seller for a refund (buyer)",
        description="Without milestoneIds: every unsettled milestone that is not under dispute.",
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        data = parse(RefundRequestInput, request)
        created = services.refund_request_create(
            escrow=escrow, by=request.user, reason=data["reason"], milestones=data.get("milestoneIds") or None
        )
        return Response(refund_request_data(created, escrow), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="refund_request_list",
        responses={
            200: inline_serializer(
                "RefundRequestList",
                {"object": serializers.CharField(), "data": RefundRequestOutput(many=True)},
            ),
            **ERRORS,
        },
        tags=REFUND_TAGS,
        summary="List an escrow's refund requests, newest first",
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        items = [refund_request_data(r, escrow) for r in selectors.refund_requests_of(escrow)]
        return Response({"object": "list", "data": items, "hasMore": False})


class _RefundRequestAction(IntentAPIView):
    input_class: type[StrictSerializer] = EmptyInput

    def act(self, refund_request: RefundRequest, by: User, data: dict[str, Any]) -> RefundRequest:
        raise NotImplementedError

    def post(self, request: AuthenticatedRequest, escrow_id: str, request_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        refund_request = selectors.refund_request_get(escrow, request_id)
        data = parse(self.input_class, request)
        done = self.act(refund_request, request.user, data)
        return Response(refund_request_data(done, escrow))


class RefundRequestAccept(_RefundRequestAction):
    @action_schema(
        "refund_request_accept",
        "Accept a refund request: the refund happens now (seller)",
        None,
        RefundRequestOutput,
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, request_id: str) -> Response:
        return super().post(request, escrow_id, request_id)

    def act(self, refund_request: RefundRequest, by: User, data: dict[str, Any]) -> RefundRequest:
        return services.refund_request_accept(refund_request=refund_request, by=by)


class RefundRequestDeclineInput(StrictSerializer):
    reason = Text(max_length=2000, required=True)


class RefundRequestDecline(_RefundRequestAction):
    input_class = RefundRequestDeclineInput

    @action_schema(
        "refund_request_decline",
        "Decline a refund request, saying why (seller)",
        RefundRequestDeclineInput,
        RefundRequestOutput,
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, request_id: str) -> Response:
        return super().post(request, escrow_id, request_id)

    def act(self, refund_request: RefundRequest, by: User, data: dict[str, Any]) -> RefundRequest:
        return services.refund_request_decline(refund_request=refund_request, by=by, reason=data["reason"])


class RefundRequestWithdraw(_RefundRequestAction):
    @action_schema("refund_request_withdraw", "Withdraw a refund request (buyer)", None, RefundRequestOutput)
    def post(self, request: AuthenticatedRequest, escrow_id: str, request_id: str) -> Response:
        return super().post(request, escrow_id, request_id)

    def act(self, refund_request: RefundRequest, by: User, data: dict[str, Any]) -> RefundRequest:
        return services.refund_request_withdraw(refund_request=refund_request, by=by)
