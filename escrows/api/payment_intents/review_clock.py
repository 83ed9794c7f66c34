"""The review clock: the buyer extends a delivered milestone's review period. Views parse,
call one service or selector, and shape the answer; the rules live in escrows.services."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.types import AuthenticatedRequest
from escrows import selectors, services

from ..common import StrictSerializer, parse
from .base import ERRORS, IntentAPIView, IntentMilestoneOutput, milestone_data


class NoInput(StrictSerializer):
    """No body is needed; anything sent must be empty."""


class MilestoneExtendReview(IntentAPIView):
    @extend_schema(
        operation_id="escrow_milestone_extend_review",
        request=NoInput,
        responses={200: IntentMilestoneOutput, 403: ERRORS[400], **ERRORS},
        tags=["review clock"],
        summary="Extend a delivered milestone's review period (buyer, once)",
        description=(
            "Moves the milestone's `reviewDeadline` (when it releases automatically unless the buyer "
            "confirms or disputes it) later by the configured extension (default 7 days). Only the "
            "buyer, only once per milestone, only while it is delivered (`COMPLETED`) and the "
            "deadline has not passed. Another customer's escrow or milestone is a 404."
        ),
    )
    def post(self, request: AuthenticatedRequest, escrow_id: str, milestone_id: str) -> Response:
        milestone = selectors.milestone_get_for_user(request.user, escrow_id, milestone_id)
        parse(NoInput, request)
        milestone = services.milestone_review_extend(milestone=milestone, by=request.user)
        return Response(milestone_data(milestone, milestone.escrow))
