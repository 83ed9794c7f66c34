"""Mutual cancellation under /v1/escrows/{escrow_id}/... (escrow_id is the public `intent_…`
id): either party proposes how to split what is held; only the other party can accept.
Decimal-string amounts ("300.00"). Another customer's escrow is a 404."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest, User
from escrows import selectors, services
from escrows.models import CancellationProposal, Escrow
from escrows.money import format_minor, to_minor

from ..common import DecimalString, StrictSerializer, Text, iso, parse
from .base import ERRORS, ERRORS_409, REFUND_TAGS, EmptyInput, IntentAPIView, action_schema


def proposal_data(proposal: CancellationProposal, escrow: Escrow) -> dict[str, Any]:
    return {
        "id": proposal.public_id,
        "object": "cancellation_proposal",
        "escrowId": escrow.public_id,
        "status": proposal.status,
        "buyerAmount": format_minor(proposal.buyer_amount, escrow.currency),
        "sellerAmount": format_minor(proposal.seller_amount, escrow.currency),
        "totalAmount": format_minor(proposal.total, escrow.currency),
        "currency": escrow.currency,
        "note": proposal.note,
        "declineReason": proposal.decline_reason or None,
        "proposedBy": proposal.proposed_by.customer_id,
        "proposerRole": proposal.proposer_role,
        "decidedAt": iso(proposal.decided_at),
        "createdAt": iso(proposal.created_at),
    }


class ProposalOutput(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    escrowId = serializers.CharField()  # noqa: N815
    status = serializers.CharField()
    buyerAmount = serializers.CharField()  # noqa: N815
    sellerAmount = serializers.CharField()  # noqa: N815
    totalAmount = serializers.CharField()  # noqa: N815
    currency = serializers.CharField()
    note = serializers.CharField()
    declineReason = serializers.CharField(allow_null=True)  # noqa: N815
    proposedBy = serializers.CharField()  # noqa: N815
    proposerRole = serializers.CharField()  # noqa: N815
    decidedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815

    class Meta:
        ref_name = "CancellationProposal"


class DeclineInput(StrictSerializer):
    reason = Text(max_length=2000, required=False, allow_null=True)


class ProposalInput(StrictSerializer):
    buyerAmount = DecimalString()  # noqa: N815
    sellerAmount = DecimalString()  # noqa: N815
    note = Text(max_length=2000, required=False, allow_null=True)


class CancellationProposals(IntentAPIView):
    @extend_schema(
        operation_id="cancellation_propose",
        request=ProposalInput,
        responses={201: ProposalOutput, **ERRORS_409},
        tags=REFUND_TAGS,
        summary="Propose to cancel a funded escrow and split what is held (either party)",
        description=(
            "buyerAmount + sellerAmount must equal exactly what the escrow holds now (its "
            "unsettled milestones; a standard escrow: its amount). Only the other party can accept."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        data = parse(ProposalInput, request)
        proposal = services.cancellation_propose(
            escrow=escrow,
            by=request.user,
            buyer_amount=to_minor(data["buyerAmount"], escrow.currency, field="buyerAmount", allow_zero=True),
            seller_amount=to_minor(
                data["sellerAmount"], escrow.currency, field="sellerAmount", allow_zero=True
            ),
            note=data.get("note") or "",
        )
        return Response(proposal_data(proposal, escrow), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="cancellation_proposal_list",
        responses={
            200: inline_serializer(
                "CancellationProposalList",
                {"object": serializers.CharField(), "data": ProposalOutput(many=True)},
            ),
            **ERRORS,
        },
        tags=REFUND_TAGS,
        summary="List an escrow's cancellation proposals, newest first",
    )
    def get(self, request: AuthenticatedRequest, escrow_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        items = [proposal_data(p, escrow) for p in selectors.cancellation_proposals_of(escrow)]
        return Response({"object": "list", "data": items, "hasMore": False})


class _ProposalAction(IntentAPIView):
    input_class: type[StrictSerializer] = EmptyInput

    def act(self, proposal: CancellationProposal, by: User, data: dict[str, Any]) -> CancellationProposal:
        raise NotImplementedError

    def post(self, request: AuthenticatedRequest, escrow_id: str, proposal_id: str) -> Response:
        escrow = selectors.escrow_get_for_user(request.user, escrow_id)
        proposal = selectors.cancellation_proposal_get(escrow, proposal_id)
        data = parse(self.input_class, request)
        done = self.act(proposal, request.user, data)
        return Response(proposal_data(done, escrow))


class CancellationAccept(_ProposalAction):
    @action_schema(
        "cancellation_accept",
        "Accept a cancellation proposal: the split is paid and the escrow is cancelled (other party)",
        None,
        ProposalOutput,
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, proposal_id: str) -> Response:
        return super().post(request, escrow_id, proposal_id)

    def act(self, proposal: CancellationProposal, by: User, data: dict[str, Any]) -> CancellationProposal:
        return services.cancellation_accept(proposal=proposal, by=by)


class CancellationDecline(_ProposalAction):
    input_class = DeclineInput

    @action_schema(
        "cancellation_decline", "Decline a cancellation proposal (other party)", DeclineInput, ProposalOutput
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, proposal_id: str) -> Response:
        return super().post(request, escrow_id, proposal_id)

    def act(self, proposal: CancellationProposal, by: User, data: dict[str, Any]) -> CancellationProposal:
        return services.cancellation_decline(proposal=proposal, by=by, reason=data.get("reason") or "")


class CancellationWithdraw(_ProposalAction):
    @action_schema(
        "cancellation_withdraw", "Withdraw your cancellation proposal (proposer)", None, ProposalOutput
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, proposal_id: str) -> Response:
        return super().post(request, escrow_id, proposal_id)

    def act(self, proposal: CancellationProposal, by: User, data: dict[str, Any]) -> CancellationProposal:
        return services.cancellation_withdraw(proposal=proposal, by=by)
